/**
 * Loads the conformance test definitions, plays them all with bounded concurrency and
 * classifies the outcomes the way cache-tests.fyi presents them.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { playTest, type ClientOptions, type RawResult, type SuiteDef, type TestDef } from './client.js';

/** The definitions shipped in the `http-cache-tests` npm package (a devDependency). */
export function packagedTestsDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('http-cache-tests/package.json')), 'tests');
}

export interface LoadedSuites {
  suites: SuiteDef[];
  /** Where they came from, e.g. "http-cache-tests@0.4.5". */
  source: string;
}

/** Imports `<dir>/index.mjs` (default export: the list of suites). */
export async function loadSuites(dir = packagedTestsDir()): Promise<LoadedSuites> {
  const mod = (await import(pathToFileURL(path.join(dir, 'index.mjs')).href)) as { default: SuiteDef[] };
  let source = dir;
  try {
    const pkg = JSON.parse(await readFile(path.join(dir, '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
    if (pkg.name && pkg.version) source = `${pkg.name}@${pkg.version}`;
  } catch {
    /* a checkout without package.json */
  }
  // Plain data from here on: the runner resolves values in its own copies.
  return { suites: structuredClone(mod.default), source };
}

export type Outcome =
  | 'pass' // required or optimal test passed
  | 'fail' // required test failed
  | 'optional_fail' // optimal test failed
  | 'yes' // check answered yes
  | 'no' // check answered no
  | 'setup_fail' // a setup check failed: inconclusive
  | 'retry' // the proxy retried a request: inconclusive
  | 'harness_fail' // a request timed out: inconclusive
  | 'dependency_fail' // a test this one depends on did not pass
  | 'untested'; // not run (browser-only, or not selected)

export interface TestReport {
  id: string;
  section: string;
  kind: 'required' | 'optimal' | 'check';
  outcome: Outcome;
  /** Absent when the test passed. */
  error?: string;
  ms?: number;
}

export interface RunReport {
  source: string;
  proxy: string;
  startedAt: string;
  durationMs: number;
  tests: TestReport[];
}

const PASSING: readonly Outcome[] = ['pass', 'yes'];

/** The classification of cache-tests.fyi: dependencies first, then inconclusive results, then kind. */
export function classify(byId: Map<string, TestDef>, raw: Map<string, RawResult>, id: string, seen = new Set<string>()): Outcome {
  const test = byId.get(id);
  const result = raw.get(id);
  if (test === undefined || result === undefined) return 'untested';
  if (!seen.has(id)) {
    const inner = new Set(seen).add(id);
    for (const dep of test.depends_on ?? []) {
      if (!PASSING.includes(classify(byId, raw, dep, inner))) return 'dependency_fail';
    }
  }
  if (result !== true) {
    if (result[0] === 'Setup') return result[1] === 'retry' ? 'retry' : 'setup_fail';
    if (result[0] === 'AbortError') return 'harness_fail';
  }
  const kind = test.kind ?? 'required';
  if (kind === 'optimal') return result === true ? 'pass' : 'optional_fail';
  if (kind === 'check') return result === true ? 'yes' : 'no';
  return result === true ? 'pass' : 'fail';
}

export interface RunOptions extends ClientOptions {
  suites: SuiteDef[];
  source?: string;
  /** Tests played at once. Default 25. */
  concurrency?: number;
  /** Only these test ids (plus what they depend on). */
  ids?: string[];
  onResult?: (id: string, result: RawResult) => void;
}

/** Which tests a reverse proxy plays: not the browser-only ones (as the suite's client does). */
function runnable(test: TestDef): boolean {
  if (test.browser_only === true) return false;
  // Interim (1xx) responses cannot be observed through fetch(); the packaged definitions have none.
  if (test.requests.some((r) => r.expected_interim_responses !== undefined)) return false;
  return true;
}

export async function runConformance(opts: RunOptions): Promise<RunReport> {
  const startedAt = new Date();
  const byId = new Map<string, TestDef>();
  const sectionOf = new Map<string, string>();
  for (const suite of opts.suites) {
    for (const test of suite.tests) {
      if (byId.has(test.id)) throw new Error(`duplicate test id ${test.id}`);
      byId.set(test.id, test);
      sectionOf.set(test.id, suite.id);
    }
  }
  let selected = [...byId.values()].filter(runnable);
  if (opts.ids && opts.ids.length > 0) {
    const want = new Set<string>();
    const add = (id: string): void => {
      if (want.has(id)) return;
      const t = byId.get(id);
      if (!t) throw new Error(`unknown test id ${id}`);
      want.add(id);
      for (const d of t.depends_on ?? []) add(d);
    };
    opts.ids.forEach(add);
    selected = selected.filter((t) => want.has(t.id));
  }

  // Longest tests first, so the tail of the run is not one slow test.
  const cost = (t: TestDef): number =>
    t.requests.reduce((s, r) => s + (r.pause_after === true ? 3 : 0) + Number(r.response_pause ?? 0), 0);
  const queue = [...selected].sort((a, b) => cost(b) - cost(a));

  const raw = new Map<string, RawResult>();
  const took = new Map<string, number>();
  const workers = Array.from({ length: Math.max(1, opts.concurrency ?? 25) }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
      const began = Date.now();
      const result = await playTest(t, opts);
      took.set(t.id, Date.now() - began);
      raw.set(t.id, result);
      opts.onResult?.(t.id, result);
    }
  });
  await Promise.all(workers);

  const tests: TestReport[] = [];
  for (const suite of opts.suites) {
    for (const test of suite.tests) {
      const result = raw.get(test.id);
      const report: TestReport = {
        id: test.id,
        section: suite.id,
        kind: test.kind ?? 'required',
        outcome: classify(byId, raw, test.id),
      };
      if (result !== undefined && result !== true) report.error = `${result[0]}: ${result[1]}`;
      const ms = took.get(test.id);
      if (ms !== undefined) report.ms = ms;
      tests.push(report);
    }
  }
  return {
    source: opts.source ?? 'unknown',
    proxy: opts.proxy,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    tests,
  };
}

export interface SectionCounts {
  section: string;
  requiredPass: number;
  requiredFail: number;
  optimalPass: number;
  optimalFail: number;
  checkYes: number;
  checkNo: number;
  setupFail: number;
  dependencyFail: number;
  harnessFail: number;
  retry: number;
  untested: number;
}

export function countBySection(report: RunReport): SectionCounts[] {
  const rows = new Map<string, SectionCounts>();
  const blank = (section: string): SectionCounts => ({
    section,
    requiredPass: 0,
    requiredFail: 0,
    optimalPass: 0,
    optimalFail: 0,
    checkYes: 0,
    checkNo: 0,
    setupFail: 0,
    dependencyFail: 0,
    harnessFail: 0,
    retry: 0,
    untested: 0,
  });
  const total = blank('TOTAL');
  for (const t of report.tests) {
    let row = rows.get(t.section);
    if (!row) rows.set(t.section, (row = blank(t.section)));
    for (const r of [row, total]) {
      switch (t.outcome) {
        case 'pass':
          if (t.kind === 'optimal') r.optimalPass++;
          else r.requiredPass++;
          break;
        case 'fail':
          r.requiredFail++;
          break;
        case 'optional_fail':
          r.optimalFail++;
          break;
        case 'yes':
          r.checkYes++;
          break;
        case 'no':
          r.checkNo++;
          break;
        case 'setup_fail':
          r.setupFail++;
          break;
        case 'dependency_fail':
          r.dependencyFail++;
          break;
        case 'harness_fail':
          r.harnessFail++;
          break;
        case 'retry':
          r.retry++;
          break;
        case 'untested':
          r.untested++;
          break;
      }
    }
  }
  return [...rows.values(), total];
}

const COLUMNS: [string, keyof SectionCounts][] = [
  ['section', 'section'],
  ['req pass', 'requiredPass'],
  ['req fail', 'requiredFail'],
  ['opt pass', 'optimalPass'],
  ['opt fail', 'optimalFail'],
  ['check yes', 'checkYes'],
  ['check no', 'checkNo'],
  ['setup', 'setupFail'],
  ['dependency', 'dependencyFail'],
  ['harness', 'harnessFail'],
  ['retry', 'retry'],
  ['not run', 'untested'],
];

/** A plain-text table, or a Markdown one. */
export function formatTable(rows: SectionCounts[], markdown = false): string {
  const cells = rows.map((r) => COLUMNS.map(([, k]) => String(r[k])));
  const head = COLUMNS.map(([h]) => h);
  if (markdown) {
    const line = (c: string[]): string => `| ${c.join(' | ')} |`;
    return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...cells.map((c, i) => line(rows[i]!.section === 'TOTAL' ? c.map((x) => `**${x}**`) : c))].join('\n');
  }
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(head), ...cells.map(line)].join('\n');
}

/** Baseline: the ids that passed (pass, or yes for checks), grouped by section. */
export type Baseline = Record<string, string[]>;

export function baselineOf(report: RunReport): Baseline {
  const out: Baseline = {};
  for (const t of report.tests) {
    if (!PASSING.includes(t.outcome)) continue;
    (out[t.section] ??= []).push(t.id);
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

/** Baseline tests that no longer pass, with what happened instead. */
export function regressions(baseline: Baseline, report: RunReport): TestReport[] {
  const byId = new Map(report.tests.map((t) => [t.id, t]));
  const out: TestReport[] = [];
  for (const [section, ids] of Object.entries(baseline)) {
    for (const id of ids) {
      const t = byId.get(id);
      if (t === undefined) out.push({ id, section, kind: 'required', outcome: 'untested', error: 'no longer in the definitions' });
      else if (!PASSING.includes(t.outcome)) out.push(t);
    }
  }
  return out;
}
