// What recording a request's visibility costs on the HIT path, against the whole HIT's CPU.
//
//   npm run build && node bench/metrics-cost.mjs [--root DIR] [--rounds N] [--calls N] [--hit] [--profile] [--duration s]
//
// 1. In this process, against the built dist/ of --root (default: this checkout):
//    - Recorder.request() for an L1 HIT (counter + duration histogram + hits-by-tier), ns/call;
//    - the status page's per-request work: StatusCollector.record() alone, and as app.ts runs it
//      (whenSent for a response already ended, then record), ns/call.
//    Each figure is the median of --rounds rounds of --calls calls, after a warm-up.
// 2. With --hit: the CPU an L1 HIT of a 1 KB body costs larder, measured from outside. The bench
//    origin and larder (bin/larder.js of --root, memory only, admin.status off and on) are started
//    on 127.0.0.1, /b/1024/hot is filled, then `wrk -t1 -c50 -d5s` runs in its own process and
//    larder's CPU time (user + system, /proc/<pid>/stat) over the run is divided by the requests
//    wrk counted. The share printed is recording ns ÷ HIT CPU ns (issue 18's budget: ≤ 2 %).
// 3. With --profile: larder (admin.status on) under `node --cpu-prof` during one wrk run; the
//    share of its busy CPU spent in the access log, prom-client, dist/metrics/ and the status
//    collector, builtins they call included (see profileHit).
// --root lets the same script measure another build (a worktree of an older commit, built).
//
// Run one bench at a time on a machine:
//   flock /tmp/bench.lock node bench/metrics-cost.mjs --hit --profile
//
// Measured 2026-12-01 on 2 shared cores (load average 3 to 5 from other work, so the µs per
// request moved between runs), Node 22.23; before = the prom-client Counter/Histogram recording,
// after = cells (metrics/cells.ts). Ranges are over every run made (3 to 9 each).
//   Recorder.request (HIT):              before 830-1080 ns, after 14-32 ns per call (54 ns in
//                                        one short run under load); Node 24.21: 1451 → 36 ns
//   StatusCollector.record (HIT):        before 92-186 ns, after 95-139 ns (204 in one run);
//                                        about 50 ns of it is reading the clock on this VM
//   whenSent + record, as app.ts runs it: before 220-305 ns, after 117-202 ns (117-130 in most)
//   L1 HIT CPU (1 KB, access lines on):  after 41-83 µs per request (41-47 in most runs);
//                                        before 50-76 µs (the machine's load decides)
//   Recorder.request ÷ HIT CPU:          before 1.2-1.9 %, after 0.03-0.05 %
//   with the status record (status on):  before 1.4-2.35 %, after 0.30-0.37 %
//   profile, admin.status on:            prom-client + dist/metrics 0.9-3.0 % of busy CPU before,
//                                        0.16-0.38 % after; status collector 1.4-1.7 % before,
//                                        0.35-0.39 % after; the access log (one JSON line per
//                                        request, the default) 6.0-9.4 % in every run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { cpuMs, freePort, start, startLarder, stop, waitHttp } from './lib/procs.mjs';

const { values: flags } = parseArgs({
  options: {
    root: { type: 'string', default: '.' },
    rounds: { type: 'string', default: '7' },
    calls: { type: 'string', default: '1000000' },
    hit: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    duration: { type: 'string', default: '5' },
  },
});
const ROOT = path.resolve(flags.root);
const ROUNDS = Math.min(Number(flags.rounds), 50);
const CALLS = Math.min(Number(flags.calls), 10_000_000);
const DURATION = Math.min(Number(flags.duration), 10);
const PATH = '/b/1024/hot';

setTimeout(() => {
  console.error('bench: time limit reached, exiting');
  process.exit(1);
}, 3 * 60_000).unref();

const load = (rel) => import(pathToFileURL(path.join(ROOT, 'dist', rel)).href);
const { createMetrics } = await load('metrics/registry.js');
const { Recorder } = await load('metrics/record.js');
const { StatusCollector } = await load('ops/status.js');
const { whenSent } = await load('ops/sent.js');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Median ns per call of `body(i)` over ROUNDS rounds of CALLS calls, after one warm-up round. */
function measure(body) {
  const times = [];
  for (let r = -1; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) body(i);
    const ns = Number(process.hrtime.bigint() - t0) / CALLS;
    if (r >= 0) times.push(ns);
  }
  return median(times);
}

// A few routes as a config would have, the hits on one of them, with varied durations (ms) as
// real hits have: most in the first buckets, some further up.
const routes = ['api', 'static', 'pages', 'default'];
const DURATIONS = [0.031, 0.045, 0.052, 0.07, 0.12, 0.38, 0.9, 1.7, 0.041, 0.066, 0.058, 0.049, 3.2, 0.08, 0.035, 0.6];
const outcomes = DURATIONS.map((ms) => ({ route: 'api', result: 'HIT', tier: 'memory', status: 200, ms, method: 'GET' }));
const MASK = outcomes.length - 1;

const rec = new Recorder(createMetrics({ memory: () => ({ bytes: 0, entries: 0 }) }, { defaultMetrics: false }));
rec.init(routes);
const recordNs = measure((i) => rec.request(outcomes[i & MASK]));

const status = new StatusCollector({
  now: () => Date.now(),
  memory: () => ({ bytes: 0, entries: 0, maxSize: 0 }),
  evictions: () => 0,
  redactQuery: ((none) => () => none)([]),
});
const host = '127.0.0.1:8080';
const statusNs = measure((i) => status.record(outcomes[i & MASK], host, PATH, 1200));

// As app.ts's onOutcome runs it for a hit (written in one go, so already ended): whenSent, then
// record with the bytes the socket wrote.
const socket = { bytesWritten: 0 };
const req = { socket, headers: { host }, url: PATH };
const res = { writableEnded: true };
const status2 = new StatusCollector({
  now: () => Date.now(),
  memory: () => ({ bytes: 0, entries: 0, maxSize: 0 }),
  evictions: () => 0,
  redactQuery: ((none) => () => none)([]),
});
// whenSent(req, res, elapsed, done, a, b) calls one function made once; the older
// whenSent(req, res, elapsed, done) took a closure per request.
const sent = (rq, o, _access, bytes) => status2.record(o, rq.headers.host ?? '', rq.url ?? '/', bytes);
const sentNs =
  whenSent.length >= 6
    ? measure((i) => {
        socket.bytesWritten += 1200;
        const o = outcomes[i & MASK];
        whenSent(req, res, o.ms, sent, o, false);
      })
    : measure((i) => {
        socket.bytesWritten += 1200;
        const o = outcomes[i & MASK];
        const host = req.headers.host ?? '';
        const url = req.url ?? '/';
        whenSent(req, res, o.ms, (bytes) => status2.record(o, host, url, bytes));
      });

console.log(`root: ${ROOT} (node ${process.version})`);
console.log(`Recorder.request (HIT):            ${recordNs.toFixed(1)} ns/call`);
console.log(`StatusCollector.record (HIT):      ${statusNs.toFixed(1)} ns/call`);
console.log(`whenSent + record (app.ts's path): ${sentNs.toFixed(1)} ns/call`);

if (flags.hit || flags.profile) {
  const wrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim();
  if (!wrk) throw new Error('--hit needs wrk on PATH');
  const originPort = await freePort();
  const origin = start(process.execPath, [path.join(ROOT, 'bench/lib/origin.mjs'), String(originPort)]);
  const originUrl = `http://127.0.0.1:${originPort}`;
  await waitHttp(originUrl + '/__count');
  // bin/larder.js of --root is what startLarder runs.
  process.chdir(ROOT);
  const cpu = {};
  for (const page of flags.hit ? [false, true] : []) {
    const adminPort = await freePort();
    const l = await startLarder(`origin: ${originUrl}\nadmin: { listen: 127.0.0.1:${adminPort}, status: ${page} }\n`);
    for (let i = 0; i < 3; i++) await fetch(l.url + PATH).then((r) => r.arrayBuffer());
    const r = await fetch(l.url + PATH);
    await r.arrayBuffer();
    if (r.headers.get('x-cache') !== 'HIT') throw new Error(`${PATH} is not a HIT (${r.headers.get('x-cache')})`);
    // One short warm-up run, not counted.
    await wrkRun(wrk, l.url + PATH, 1);
    const before = cpuMs(l.child.pid);
    const { total, rps } = await wrkRun(wrk, l.url + PATH, DURATION);
    const us = ((cpuMs(l.child.pid) - before) * 1000) / total;
    cpu[page] = us;
    console.log(`L1 HIT CPU, admin.status ${page ? 'on ' : 'off'}:        ${us.toFixed(1)} µs/request (${total} requests, ${Math.round(rps)} req/s)`);
    await stop(l.child);
  }
  if (flags.hit) {
    console.log(`Recorder.request share of the HIT:  ${((recordNs / (cpu[false] * 1000)) * 100).toFixed(2)} %`);
    console.log(`with the status page's record:      ${(((recordNs + sentNs) / (cpu[true] * 1000)) * 100).toFixed(2)} %`);
  }
  if (flags.profile) await profileHit(wrk, originUrl);
  await stop(origin);
}

/**
 * --profile: larder (admin.status on, access lines on as by default) under `node --cpu-prof`
 * while wrk asks for the HIT. Each busy sample (idle, GC and module loading left out) goes to
 * the first of these found from the sampled frame up its stack (so builtins they call count):
 * the access log (ops/access-log.js, log.js, sonic-boom), prom-client, dist/metrics/, and the
 * status collector with what feeds it (ops/status.js, ops/sent.js, app.ts's `sent`).
 */
async function profileHit(wrk, originUrl) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-metrics-prof-'));
  const adminPort = await freePort();
  const l = await startLarder(`origin: ${originUrl}\nadmin: { listen: 127.0.0.1:${adminPort}, status: true }\n`, {
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100'],
  });
  for (let i = 0; i < 3; i++) await fetch(l.url + PATH).then((r) => r.arrayBuffer());
  await wrkRun(wrk, l.url + PATH, DURATION);
  await stop(l.child);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no .cpuprofile written');
  const prof = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parts = [
    ['access log', (cf) => /\/dist\/ops\/access-log\.js$|\/dist\/log\.js$|node_modules\/sonic-boom\//.test(cf.url)],
    ['prom-client', (cf) => cf.url.includes('node_modules/prom-client/')],
    ['metrics (dist/metrics)', (cf) => cf.url.includes('/dist/metrics/')],
    ['status collector', (cf) => /\/dist\/ops\/(status|sent)\.js$/.test(cf.url) || (cf.functionName === 'sent' && cf.url.endsWith('/dist/app.js'))],
  ];
  const share = Object.fromEntries(parts.map(([k]) => [k, 0]));
  let busy = 0;
  const { samples, timeDeltas } = prof;
  next: for (let i = 0; i < samples.length; i++) {
    const dt = Math.max(0, timeDeltas[i + 1] ?? 0);
    const leaf = byId.get(samples[i]).callFrame.functionName;
    if (leaf === '(idle)' || leaf === '(garbage collector)') continue;
    let found;
    for (let n = samples[i]; n !== undefined; n = parent.get(n)) {
      const cf = byId.get(n).callFrame;
      if (cf.url.startsWith('node:internal/modules')) continue next;
      found ??= parts.find(([, test]) => test(cf))?.[0];
    }
    busy += dt;
    if (found !== undefined) share[found] += dt;
  }
  const pct = (us) => ((100 * us) / busy).toFixed(2);
  console.log(`profile, admin.status on, ${(busy / 1e6).toFixed(1)} s busy (${path.join(dir, file)}):`);
  for (const [k, us] of Object.entries(share)) console.log(`  ${k.padEnd(24)} ${pct(us)} % of busy CPU`);
}

/** One wrk run in its own process: { total, rps }. */
function wrkRun(wrk, url, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, ['-t1', '-c50', `-d${seconds}s`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const total = /(\d+) requests in/.exec(out);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !total || !rps) return reject(new Error(`wrk exited ${code}: ${out}`));
      if (/Non-2xx/.test(out)) return reject(new Error(`non-2xx answers: ${out}`));
      resolve({ total: Number(total[1]), rps: Number(rps[1]) });
    });
  });
}
