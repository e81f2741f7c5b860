// How larder scales with --workers, next to nginx with as many workers, and what workers
// without Redis cost the origin.
//
//   npm run build && node bench/workers.mjs [--quick]     # writes bench/results/workers-latest.md (not with --quick)
//
// 1. L1 HIT, 1 KB: larder --workers 1 and 2 and nginx with 1 and 2 worker processes (access
//    logs off on both), interleaved round by round. The load generator (bench/lib/load.mjs: wrk,
//    else autocannon in a child) is pinned to the last CPU; the servers are not pinned, so a
//    second worker has the other CPUs to itself and shares the generator's. CPU µs/req sums the
//    whole process tree (primary and workers, nginx master and workers).
// 2. Origin requests per key without Redis: for N = 1 and 2, 50 new keys, each asked 4 times in a
//    row, every request on a connection of its own (the cluster primary deals connections to the
//    workers in turn).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMs, freePort, sleep, start, startLarder, stop, waitHttp } from './lib/procs.mjs';
import { childPids, startNginx } from './lib/nginx.mjs';
import { generatorName, load } from './lib/load.mjs';

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const ROUNDS = flags.quick ? 2 : 5;
const DURATION = flags.quick ? 1 : 5;
const CONNECTIONS = 50;
const KEYS = flags.quick ? 10 : 50;
setTimeout(() => {
  console.error('bench: time limit reached, exiting');
  process.exit(1);
}, (flags.quick ? 3 : 10) * 60_000).unref();

/** CPU ms of a process and all its descendants. */
function treeCpuMs(pid) {
  let total = cpuMs(pid);
  for (const c of childPids(pid)) total += treeCpuMs(c);
  return total;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

const originPort = await freePort();
const origin = start(process.execPath, ['bench/lib/origin.mjs', String(originPort)], { pin: false });
const originUrl = `http://127.0.0.1:${originPort}`;
await waitHttp(originUrl + '/__count');
const rules = `origin: ${originUrl}\ncache:\n  memory: { maxSize: 256mb }\nlog:\n  access: { sample: 0 }\n`;

async function larder(n) {
  const l = await startLarder(rules, { args: ['--workers', String(n)], pin: false });
  await sleep(500); // every worker listening
  return { label: `larder --workers ${n}`, url: l.url, pid: l.child.pid, child: l.child };
}
async function nginx(n) {
  const x = await startNginx(originPort, { workers: n, pin: false });
  if (x === undefined) return undefined;
  return { label: `nginx, ${n} worker${n > 1 ? 's' : ''}`, url: x.url, pid: x.child.pid, child: x.child };
}

const targets = [await larder(1), await larder(2), await nginx(1), await nginx(2)].filter(Boolean);
const PATH = '/b/1024/hot';
for (const t of targets) {
  await fetch(t.url + PATH).then((r) => r.arrayBuffer());
  await load({ url: t.url + PATH, duration: 1, connections: CONNECTIONS });
}
const runs = new Map(targets.map((t) => [t.label, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const t of round % 2 ? [...targets].reverse() : targets) {
    const c0 = treeCpuMs(t.pid);
    const r = await load({ url: t.url + PATH, duration: DURATION, connections: CONNECTIONS });
    r.cpuUs = ((treeCpuMs(t.pid) - c0) * 1000) / r.total;
    runs.get(t.label).push(r);
  }
  console.error(`bench: round ${round + 1}/${ROUNDS} done`);
}

const out = [];
const log = (l = '') => {
  out.push(l);
  console.log(l);
};
log(`## Workers: L1 HIT, 1 KB`);
log();
log(
  `${os.cpus()[0]?.model ?? ''} × ${os.cpus().length}; Node ${process.version}; load: ${generatorName().replace(/ \(servers to CPU [^)]*\)/, '')}, ` +
    `servers not pinned; ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION} s. ` +
    '"× 1 worker" is the median over rounds of req/s ÷ the same server with one worker in that round; CPU sums the process tree.',
);
log();
log('| target | req/s | × 1 worker | CPU µs/req | p50 ms | p99 ms | errors |');
log('|---|---:|---:|---:|---:|---:|---:|');
for (const t of targets) {
  const rs = runs.get(t.label);
  const one = runs.get(t.label.replace(/--workers \d+/, '--workers 1').replace(/\d+ workers?/, '1 worker'));
  const factor = rs.map((r, i) => r.rps / one[i].rps);
  log(
    `| ${t.label} | ${Math.round(median(rs.map((r) => r.rps))).toLocaleString('en-US')} | ${range(factor)} | ${median(rs.map((r) => r.cpuUs)).toFixed(1)} | ` +
      `${median(rs.map((r) => r.p50)).toFixed(2)} | ${median(rs.map((r) => r.p99)).toFixed(2)} | ${rs.reduce((s, r) => s + r.non2xx + r.errors, 0)} |`,
  );
}
log();
for (const t of targets) await stop(t.child);

// 2. Origin requests per key.
function fresh(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers['x-cache']));
      })
      .on('error', reject);
  });
}
log(`## Workers without Redis: origin requests per key`);
log();
log(`${KEYS} new keys, each asked 4 times in a row, each request on a new connection.`);
log();
log('| workers | origin requests per key | X-Cache of the 4 requests |');
log('|---:|---:|---|');
for (const n of [1, 2]) {
  const l = await startLarder(rules, { args: ['--workers', String(n)], pin: false });
  await sleep(500);
  await fetch(originUrl + '/__reset');
  const seen = {};
  const stamp = Date.now();
  for (let k = 0; k < KEYS; k++) {
    for (let i = 0; i < 4; i++) {
      const x = await fresh(`${l.url}/b/1024/w${n}-${stamp}-${k}`);
      seen[x] = (seen[x] ?? 0) + 1;
    }
  }
  const count = Number(await (await fetch(originUrl + '/__count')).text());
  log(`| ${n} | ${(count / KEYS).toFixed(2)} | ${Object.entries(seen).map(([k, v]) => `${k} ${v}`).join(', ')} |`);
  await stop(l.child);
}
log();
await stop(origin);
if (!flags.quick) {
  // Written like the other benches' results: a dated file and workers-latest.md.
  const d = new Date();
  const day = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const text = `# larder workers, ${day}\n\n${out.join('\n')}\n`;
  for (const name of [`workers-${day}.md`, 'workers-latest.md']) fs.writeFileSync(path.join(dir, name), text);
  console.error(`bench: wrote bench/results/workers-${day}.md and workers-latest.md`);
}
process.exit(0);
