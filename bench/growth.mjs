// How HIT throughput, p99 latency and memory change as the cache grows: more keys (1k, 100k,
// 1M entries of 1 KB) and bigger bodies (1 KB, 100 KB, 1 MB over 1k keys).
//
//   npm run build && node bench/growth.mjs [--quick] [--no-write]
//
// Each case starts larder with its memory tier filled in-process before it listens
// (bench/lib/prefilled.mjs), then the load generator (bench/lib/load.mjs, its own process) asks for uniformly random keys, interleaved round
// by round with the bare node:http server answering the same bytes. Memory per entry is heap +
// external growth over the fill divided by the entries; the constant is that minus the body,
// the header bytes written on a hit and the key. Writes bench/results/growth-<date>.md and
// growth-latest.md (--quick: growth-latest-quick.md).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpuMs, freePort, rssMiB, start, stop, waitHttp } from './lib/procs.mjs';
import { generatorName, load } from './lib/load.mjs';

const { values: flags } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, 'no-write': { type: 'boolean', default: false } },
});
const quick = flags.quick;
const ROUNDS = quick ? 1 : 3;
const DURATION = quick ? 1 : 5;
const CASES = quick
  ? [
      [1_000, 1024],
      [10_000, 1024],
      [1_000, 102_400],
    ]
  : [
      [1_000, 1024],
      [100_000, 1024],
      [1_000_000, 1024],
      [1_000, 102_400],
      [1_000, 1_048_576],
    ];

setTimeout(() => {
  console.error('growth: time limit reached, exiting');
  process.exit(1);
}, (quick ? 4 : 20) * 60_000).unref();

const progress = (...a) => console.error('growth:', ...a);
const md = [];
const out = (line = '') => {
  md.push(line);
  console.log(line);
};
const f0 = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const fms = (n) => (!Number.isFinite(n) ? '–' : n < 1 ? '<1' : n.toFixed(1));
const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const size = (b) => (b >= 1_048_576 ? `${b / 1_048_576} MB` : b >= 1024 ? `${b / 1024} KB` : `${b} B`);

/** Starts the prefilled larder; resolves once it listens, with what it measured. */
async function startPrefilled(keys, body) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', 'bench/lib/prefilled.mjs', String(port), String(keys), String(body)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('prefilled larder did not start in 5 minutes')), 300_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(JSON.parse(buf.slice(0, nl)));
      }
    });
    child.on('exit', (code) => reject(new Error(`prefilled larder exited with ${code}`)));
  });
  child.removeAllListeners('exit');
  return { child, url: `http://127.0.0.1:${port}`, info };
}

/** Uniformly random keys (Zipf with s = 0), drawn by the load generator. */
function randomKeys(keys, body) {
  return { keys, s: 0, prefix: `/b/${body}/k` };
}

const barePort = await freePort();
const bareChild = start(process.execPath, ['bench/lib/bare.mjs', String(barePort)]);
const bareUrl = `http://127.0.0.1:${barePort}`;
await waitHttp(bareUrl + '/b/1/ready');

const d = new Date();
const today = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
out(`# larder cost growth, ${today}${quick ? ' (quick)' : ''}`);
out();
out(
  `${os.cpus()[0]?.model ?? 'CPU'} × ${os.cpus().length}; Node ${process.version}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}. ` +
    `${generatorName()}; 50 connections, uniformly random keys, ${ROUNDS} interleaved round(s) of ${DURATION} s against the bare node:http ` +
    'server answering the same bytes. Memory: heap + external growth over the fill (after GC) per entry; "constant" is that minus ' +
    'the body, the header bytes written on a hit and the key.',
);
out();
out('| keys | body | req/s | p50 ms | p99 ms | ÷ bare | CPU µs/req | RSS MiB | tier charge MiB | real B/entry | constant B/entry |');
out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const constants = [];
for (const [keys, body] of CASES) {
  progress(`${keys} keys × ${size(body)}: filling`);
  const l = await startPrefilled(keys, body);
  const targets = [
    { label: 'larder', url: l.url, pid: l.child.pid },
    { label: 'bare', url: bareUrl, pid: bareChild.pid },
  ];
  for (const t of targets) await load({ url: t.url, duration: 1, connections: 50, zipf: randomKeys(keys, body) });
  const runs = { larder: [], bare: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      const c0 = cpuMs(t.pid);
      const r = await load({ url: t.url, duration: DURATION, connections: 50, zipf: randomKeys(keys, body) });
      r.cpuUs = ((cpuMs(t.pid) - c0) * 1000) / r.total;
      runs[t.label].push(r);
    }
  }
  const lr = runs.larder;
  const ratios = lr.map((r, i) => r.rps / runs.bare[i].rps);
  const bad = lr.reduce((s, r) => s + r.non2xx + r.errors, 0);
  if (bad > 0) progress(`WARNING: ${bad} non-2xx or failed requests on larder`);
  const { info } = l;
  const constant = info.perEntry - body - info.headerBytes - info.keyBytes;
  constants.push(constant);
  out(
    `| ${f0(keys)} | ${size(body)} | ${f0(mean(lr.map((r) => r.rps)))} | ${fms(mean(lr.map((r) => r.p50)))} | ${fms(mean(lr.map((r) => r.p99)))} | ` +
      `${f2(median(ratios))} | ${f0(median(lr.map((r) => r.cpuUs)))} | ${f1(rssMiB(l.child.pid))} | ${f1(info.charged / 1_048_576)} | ` +
      `${f0(info.perEntry)} | ${f0(constant)} |`,
  );
  await stop(l.child);
}
out();
out(
  `Constant per entry over the cases: ${f0(Math.min(...constants))}–${f0(Math.max(...constants))} B ` +
    '(the tier charges a fixed ENTRY_OVERHEAD of 1,000 B for it, src/cache/entry.ts).',
);
await stop(bareChild);
if (!flags['no-write']) {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const text = md.join('\n') + '\n';
  if (quick) fs.writeFileSync(path.join(dir, 'growth-latest-quick.md'), text);
  else {
    fs.writeFileSync(path.join(dir, `growth-${today}.md`), text);
    fs.writeFileSync(path.join(dir, 'growth-latest.md'), text);
  }
}
process.exit(0);
