// Aggregates a V8 .cpuprofile (node --cpu-prof) by function self time.
//
//   node bench/lib/cpuprofile.mjs FILE.cpuprofile [--top 15]
//
// Self time of a sample = the gap to the next sample (as Chrome DevTools counts it). Entries
// are grouped by function name + script + line; frames in dist/ are mapped back to src/ through
// the .js.map files tsc writes next to them.
import fs from 'node:fs';
import path from 'node:path';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const sourceMaps = new Map();

function mapToSource(url, line, column) {
  if (!url.startsWith('file://') || !url.includes('/dist/')) return undefined;
  let map = sourceMaps.get(url);
  if (map === undefined) {
    map = null;
    try {
      const file = fileURLToPath(url);
      map = new SourceMap(JSON.parse(fs.readFileSync(file + '.map', 'utf8')));
      map.dir = path.dirname(file);
    } catch {
      // no map: keep the dist position
    }
    sourceMaps.set(url, map);
  }
  if (map === null) return undefined;
  const e = map.findEntry(line, column);
  if (!e || e.originalSource === undefined) return undefined;
  const src = path.relative(process.cwd(), path.resolve(map.dir, e.originalSource.replace(/^file:\/\//, '')));
  return `${src}:${e.originalLine + 1}`;
}

/** Where a frame comes from: larder (dist), a package, node itself, or V8 bookkeeping. */
export function category(url, name) {
  if (url === '') return name.startsWith('(') ? name : 'native (V8 builtins, C++)';
  if (url.startsWith('node:')) return 'node core (node:*)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return `package ${m[1]}`;
  if (url.includes('/dist/')) return 'larder (dist/)';
  return 'other';
}

function shortUrl(url) {
  if (url.startsWith('file://')) {
    const p = fileURLToPath(url);
    const rel = path.relative(process.cwd(), p);
    return rel.startsWith('..') ? p : rel;
  }
  return url;
}

/**
 * Returns { totalMs, functions: [{ name, where, source, category, selfMs, selfPct }], categories }.
 * `where` is file:line (1-based); `source` the src/ position for larder frames.
 */
export function aggregate(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const groups = new Map();
  let total = 0;
  for (const [id, us] of self) {
    total += us;
    const cf = byId.get(id).callFrame;
    const name = cf.functionName || '(anonymous)';
    const key = `${name}\u0000${cf.url}\u0000${cf.lineNumber}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = {
        name,
        where: cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '',
        source: mapToSource(cf.url, cf.lineNumber, cf.columnNumber),
        category: category(cf.url, name),
        us: 0,
      };
      groups.set(key, g);
    }
    g.us += us;
  }
  const functions = [...groups.values()]
    .sort((a, b) => b.us - a.us)
    .map((g) => ({ ...g, selfMs: g.us / 1000, selfPct: total ? (100 * g.us) / total : 0 }));
  const cats = new Map();
  for (const f of functions) cats.set(f.category, (cats.get(f.category) ?? 0) + f.us);
  const categories = [...cats.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => ({ name, selfMs: us / 1000, selfPct: total ? (100 * us) / total : 0 }));
  return { totalMs: total / 1000, functions, categories };
}

/** Markdown tables: the top functions and the split by origin of the code. */
export function formatMarkdown(agg, top = 15) {
  const out = [];
  out.push(`Sampled time: ${(agg.totalMs / 1000).toFixed(1)} s.`, '');
  out.push('| # | self % | function | file:line | larder source |', '|---:|---:|---|---|---|');
  agg.functions.slice(0, top).forEach((f, i) => {
    const mine = f.category === 'larder (dist/)';
    out.push(`| ${i + 1} | ${f.selfPct.toFixed(1)} | ${mine ? '**' + f.name + '**' : f.name} | ${f.where || '(native)'} | ${f.source ?? ''} |`);
  });
  out.push('', '| code | self % |', '|---|---:|');
  for (const c of agg.categories) if (c.selfPct >= 0.05) out.push(`| ${c.name} | ${c.selfPct.toFixed(1)} |`);
  const larder = agg.functions.filter((f) => f.category === 'larder (dist/)');
  if (larder.length > 0) {
    out.push('', 'Top larder functions (dist/):', '', '| self % | function | file:line | source |', '|---:|---|---|---|');
    for (const f of larder.slice(0, 10)) out.push(`| ${f.selfPct.toFixed(2)} | ${f.name} | ${f.where} | ${f.source ?? ''} |`);
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/lib/cpuprofile.mjs FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 15;
  console.log(formatMarkdown(aggregate(JSON.parse(fs.readFileSync(file, 'utf8'))), top));
}
