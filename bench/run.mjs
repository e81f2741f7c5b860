// larder's benchmark: every scenario against reference servers on the same machine, in the same
// run, interleaved round by round, so that the figures that matter are ratios.
//
//   npm run build && node bench/run.mjs [--quick] [--only l1,l2,...] [--no-write]
//   npm run build && node bench/run.mjs --profile [--quick]     # CPU profiles of L1 and L2 hits
//
// Starts on 127.0.0.1: the bench origin, a bare node:http server answering the bytes of a
// cached larder response, larder (memory only), larder on its own redis-server, and nginx with
// proxy_cache when `nginx` is on PATH. Writes bench/results/<date>.md and latest.md
// (--quick: <date>-quick.md and latest-quick.md). See bench/README.md.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpuMs, freePort, pinServers, rssMiB, sleep, start, startLarder, startRedis, stop, waitHttp } from './lib/procs.mjs';
import { generatorName, load, pinning } from './lib/load.mjs';
import { startNginx } from './lib/nginx.mjs';
import { aggregate, formatMarkdown } from './lib/cpuprofile.mjs';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'no-nginx': { type: 'boolean', default: false },
  },
});
const quick = flags.quick;
const ROUNDS = quick ? 2 : 5;
const DURATION = quick ? 1 : 5; // seconds per measured run
const WARMUP = quick ? 0.5 : 1; // seconds per target before a scenario's rounds (not counted)
const CONNECTIONS = 50;
const STAMPEDE = 1000;
const STAMPEDE_ROUNDS = quick ? 1 : 3;
const ORIGIN_DELAY = 500; // ms the origin takes to answer a stampede's key
const ZIPF_KEYS = 100_000;
const ZIPF_S = 1.0;
const HERE = path.dirname(new URL(import.meta.url).pathname);
const only = flags.only ? new Set(flags.only.split(',')) : undefined;
const wanted = (id) => only === undefined || only.has(id);

// Hard bound on the whole run, whatever happens.
setTimeout(() => {
  console.error('bench: time limit reached, exiting');
  process.exit(1);
}, (flags.profile ? 3 : quick ? 5 : 20) * 60_000).unref();

const progress = (...a) => console.error('bench:', ...a);

// ---------------------------------------------------------------------------------------------
// Small HTTP helpers (outside measurement windows).

function get(url, { agent = false, timeout = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(timeout, () => req.destroy(new Error(`timeout after ${timeout} ms: ${url}`)));
  });
}

let originUrl;
const originCount = async () => Number((await get(originUrl + '/__count')).body.toString());
const originReset = () => get(originUrl + '/__reset');

/**
 * Waits until the origin count stops moving (bounded by `ms`), so that requests still in flight
 * from a run, or queued inside a proxy, are counted for that run and not for the next one.
 */
async function originSettled(quietMs = 200, ms = 8_000) {
  const end = Date.now() + ms;
  let last = await originCount();
  for (;;) {
    await sleep(quietMs);
    const now = await originCount();
    if (now === last || Date.now() > end) return now;
    last = now;
  }
}

function redisCommands(port) {
  const r = spawnSync('redis-cli', ['-p', String(port), 'INFO', 'stats'], { encoding: 'utf8' });
  const m = /total_commands_processed:(\d+)/.exec(r.stdout ?? '');
  return m ? Number(m[1]) : NaN;
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting.

const mean = (xs) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f0 = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const fms = (n) => (!Number.isFinite(n) ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(1));

const md = [];
function out(line = '') {
  md.push(line);
  console.log(line);
}

function ratioCell(runsA, runsB, key = 'rps') {
  const n = Math.min(runsA.length, runsB.length);
  const rs = [];
  for (let i = 0; i < n; i++) rs.push(runsA[i][key] / runsB[i][key]);
  if (!rs.length || rs.some((r) => !Number.isFinite(r))) return '–';
  const lo = Math.min(...rs);
  const hi = Math.max(...rs);
  return rs.length === 1 ? f2(rs[0]) : `${f2(median(rs))} (${f2(lo)}–${f2(hi)})`;
}

/**
 * One markdown table: a row per target. The first figure is the target's own CPU time per
 * request, with its ratio to the first reference's; then req/s with ratios to each reference.
 */
function table(results, refs) {
  const head = [
    'target', 'CPU µs/req', `CPU ÷ ${refs[0]}`, 'req/s', ...refs.map((r) => `req/s ÷ ${r}`),
    'p50 ms', 'p99 ms', 'client req', 'origin req', 'RSS MiB', 'non-2xx / err',
  ];
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  const cell = (label, runs, ref, key) => (ref === label ? '1' : results.has(ref) ? ratioCell(runs, results.get(ref), key) : '–');
  for (const [label, runs] of results) {
    const cells = [
      label,
      f1(median(runs.map((r) => r.cpuUs))),
      cell(label, runs, refs[0], 'cpuUs'),
      f0(mean(runs.map((r) => r.rps))),
      ...refs.map((ref) => cell(label, runs, ref, 'rps')),
      fms(mean(runs.map((r) => r.p50))),
      fms(mean(runs.map((r) => r.p99))),
      f0(runs.reduce((s, r) => s + r.total, 0)),
      runs.every((r) => r.origin === undefined) ? '–' : f0(runs.reduce((s, r) => s + (r.origin ?? 0), 0)),
      f1(Math.max(...runs.map((r) => r.rss))),
      `${f0(runs.reduce((s, r) => s + r.non2xx, 0))} / ${f0(runs.reduce((s, r) => s + r.errors, 0))}`,
    ];
    out(`| ${cells.join(' | ')} |`);
  }
  out();
}

function xcacheLine(results) {
  const parts = [];
  for (const [label, runs] of results) {
    const counts = {};
    for (const r of runs) for (const [k, v] of Object.entries(r.xcache ?? {})) counts[k] = (counts[k] ?? 0) + v;
    const total = Object.values(counts).reduce((s, v) => s + v, 0);
    if (!total) continue;
    parts.push(
      `${label}: ` +
        Object.entries(counts)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${f1((100 * v) / total)}%`)
          .join(', '),
    );
  }
  if (parts.length) out(`X-Cache seen by the client: ${parts.join('; ')}.`);
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

/**
 * Runs the load generator (its own process, see bench/lib/load.mjs) against each target in
 * turn, round after round (A B C, then C B A, ...), after a short unmeasured warm-up of each.
 * A target is { label, url, pid(), path | zipf }.
 */
async function interleave(targets, { countOrigin = false, xcache = false, beforeRun, afterRun } = {}) {
  const results = new Map(targets.map((t) => [t.label, []]));
  const opts = (t, duration) => ({
    url: t.url + (t.path ?? ''),
    duration,
    connections: t.connections ?? CONNECTIONS,
    ...(t.zipf ? { zipf: t.zipf } : {}),
    xcache,
  });
  for (const t of targets) await load(opts(t, WARMUP));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const extra = beforeRun ? await beforeRun(t) : undefined;
      if (countOrigin) await originReset();
      const cpu0 = cpuMs(t.pid());
      const r = await load(opts(t, DURATION));
      r.cpuUs = ((cpuMs(t.pid()) - cpu0) * 1000) / r.total;
      if (countOrigin) r.origin = await originSettled(t.quietMs);
      if (afterRun) Object.assign(r, await afterRun(t, extra, r));
      r.rss = rssMiB(t.pid());
      results.get(t.label).push(r);
    }
    progress(`  round ${round + 1}/${ROUNDS} done`);
  }
  // Results in the targets' order.
  return new Map(targets.map((t) => [t.label, results.get(t.label)]));
}

/** Fires `n` requests for one cold URL at once, from a process of its own (bench/lib/burst-child.mjs). */
function burst(url, n) {
  const r = spawnSync(process.execPath, [path.join(HERE, 'lib', 'burst-child.mjs'), url, String(n)], { encoding: 'utf8', timeout: 120_000 });
  const line = (r.stdout ?? '').trim().split('\n').pop();
  if (r.status !== 0 || !line) throw new Error(`burst failed: ${r.stderr?.slice(0, 500)}`);
  return JSON.parse(line);
}

/** Asserts what a target answers for a path (after a warming request) and returns the X-Cache. */
async function check(t, p, expect) {
  await get(t.url + p);
  const r = await get(t.url + p);
  const x = String(r.headers['x-cache'] ?? '(none)');
  const ok = r.status === 200 && (expect === undefined || expect.includes(x));
  if (!ok) progress(`WARNING: ${t.label} ${p} answered ${r.status} X-Cache ${x}, expected ${expect}`);
  return `${t.label}: ${r.status} ${x}${r.headers['cache-status'] ? ` (${r.headers['cache-status']})` : ''}`;
}

// ---------------------------------------------------------------------------------------------

function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function machine() {
  const cpus = os.cpus();
  const redis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout?.match(/v=(\S+)/)?.[1];
  return {
    cpu: `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}`,
    node: process.version,
    redis: redis ?? 'not installed',
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

const NO_ACCESS_LOG = 'log:\n  access: { sample: 0 }\n';

const LARDER_BASE = (origin) => `origin: ${origin}
routes:
  - name: pass
    match: /pass/**
    cache: false
`;

async function startCommon() {
  const originPort = await freePort();
  const origin = start(process.execPath, ['bench/lib/origin.mjs', String(originPort)], { pin: false });
  originUrl = `http://127.0.0.1:${originPort}`;
  await waitHttp(originUrl + '/__count');
  return { origin, originPort };
}

async function main() {
  const t0 = Date.now();
  pinServers(pinning().servers);
  const { origin, originPort } = await startCommon();
  const barePort = await freePort();
  const bareChild = start(process.execPath, ['bench/lib/bare.mjs', String(barePort)]);
  const bare = { label: 'bare node:http', url: `http://127.0.0.1:${barePort}`, pid: () => bareChild.pid };
  await waitHttp(bare.url + '/b/1/ready');
  const fwdPort = await freePort();
  const fwdChild = start(process.execPath, ['bench/lib/forwarder.mjs', String(fwdPort), originUrl]);
  const forwarder = { label: 'undici pool.stream forwarder', url: `http://127.0.0.1:${fwdPort}`, pid: () => fwdChild.pid };
  await waitHttp(forwarder.url + '/__count');
  const redis = await startRedis();
  const rrPort = await freePort();
  const rrChild = start(process.execPath, ['bench/lib/redis-reader.mjs', String(rrPort), redis.url]);
  const redisReader = { label: 'ioredis reader', url: `http://127.0.0.1:${rrPort}`, pid: () => rrChild.pid };
  await waitHttp(redisReader.url + '/b/1000/ready');

  // Access lines off, as on nginx (access_log off) and the references: the row below measures them.
  const mem = await startLarder(LARDER_BASE(originUrl) + `cache:\n  memory: { maxSize: 256mb }\n` + NO_ACCESS_LOG);
  const larder = { label: 'larder', url: mem.url, pid: () => mem.child.pid };
  const logged = wanted('l1') ? await startLarder(LARDER_BASE(originUrl) + `cache:\n  memory: { maxSize: 256mb }\n`) : undefined;
  const larderLogged = logged && { label: 'larder, access log on (default)', url: logged.url, pid: () => logged.child.pid };
  // 1kb of memory holds no 1000-byte entry (each is charged body + headers + ~1 KB), so every
  // hit on this instance is a Redis read (see bench/redis.mjs).
  const l2 = await startLarder(
    LARDER_BASE(originUrl) +
      `cache:\n  memory: { maxSize: 1kb, maxEntrySize: 1kb }\n  redis: { url: ${redis.url}, commandTimeout: 50ms }\n` +
      NO_ACCESS_LOG,
  );
  const larderL2 = { label: 'larder L2 (Redis)', url: l2.url, pid: () => l2.child.pid };
  const zl = await startLarder(LARDER_BASE(originUrl) + `cache:\n  memory: { maxSize: 16mb }\n` + NO_ACCESS_LOG);
  const larderZipf = { label: 'larder (16mb L1)', url: zl.url, pid: () => zl.child.pid };

  const ngx = flags['no-nginx'] ? undefined : await startNginx(originPort);
  // nginx's cache lock makes waiting requests retry every 500 ms, even after their client left:
  // its origin count is read once the origin has been quiet for longer than that.
  const nginx = ngx && { label: 'nginx proxy_cache', url: ngx.url, pid: ngx.workerPid, quietMs: 700 };
  const withNginx = (ts) => (nginx ? [...ts, nginx] : ts);

  const m = machine();
  out(`# larder bench, ${today()}${quick ? ' (quick)' : ''}`);
  out();
  out(`${m.cpu}; Node ${m.node}; redis-server ${m.redis}; nginx ${ngx ? ngx.version : 'not on PATH (skipped)'}; ` + `load average at start ${m.load}.`);
  out(
    `Load: ${generatorName()}; ${CONNECTIONS} connections, ${ROUNDS} interleaved round(s) of ${DURATION} s per target ` +
      `(order A B C, then C B A, ...) after a ${WARMUP} s warm-up. ` +
      'CPU µs/req is the target process\'s own CPU time (user + system, from /proc) per request served, median over rounds: ' +
      'unlike req/s it does not depend on what else the machine was doing. ' +
      '"÷ X" is the median over rounds of (the target\'s figure ÷ X\'s figure in the same round), with the range in brackets. ' +
      'req/s, p50 and p99 are means over rounds. ' +
      'RSS is the largest VmRSS seen after a round (nginx: its worker).',
  );
  out();

  // 1. L1 HIT 1 KB and 100 KB.
  for (const [id, size] of [['l1', 1024], ['l1-100k', 102400]]) {
    if (!wanted(id)) continue;
    const p = `/b/${size}/hot`;
    const targets = withNginx([larder, bare, ...(id === 'l1' && larderLogged ? [larderLogged] : [])]).map((t) => ({ ...t, path: p }));
    progress(`L1 HIT ${size} B`);
    const checks = [];
    for (const t of targets) checks.push(await check(t, p, t.label === bare.label ? undefined : ['HIT']));
    const r = await interleave(targets, { countOrigin: true });
    out(`## L1 HIT, ${size === 1024 ? '1 KB' : '100 KB'} body`);
    out();
    out(`One cached key \`${p}\`, every request a memory hit. Checks: ${checks.join('; ')}.`);
    out();
    table(r, [bare.label]);
  }

  // 2. L2 HIT 1000 B.
  if (wanted('l2')) {
    const p = '/b/1000/hot';
    const targets = [larderL2, redisReader, larder, bare].map((t) => ({ ...t, path: p }));
    progress('L2 HIT 1000 B');
    const checks = [];
    for (const t of targets) checks.push(await check(t, p, t.label === bare.label || t === redisReader ? undefined : ['HIT']));
    const r = await interleave(targets, {
      countOrigin: true,
      xcache: true,
      beforeRun: (t) => (t === targets[0] ? redisCommands(redis.port) : undefined),
      afterRun: (t, before) => (t === targets[0] ? { redisCmds: redisCommands(redis.port) - before - 1 } : {}),
    });
    out('## L2 HIT, 1000-byte body (L1 too small to hold it)');
    out();
    out(
      'Every request on `larder L2` reads Redis. The ioredis reader (`bench/lib/redis-reader.mjs`) is a minimal server ' +
        `that reads the body from the same Redis on every request and writes it: the ceiling for a Node cache whose hits are Redis reads. Checks: ${checks.join('; ')}.`,
    );
    const runs = r.get(larderL2.label);
    out(`Redis commands per request on larder L2: ${f2(runs.reduce((s, x) => s + x.redisCmds, 0) / runs.reduce((s, x) => s + x.total, 0))}.`);
    out();
    table(r, [redisReader.label, bare.label, larder.label]);
    xcacheLine(new Map([...r].filter(([k]) => k !== bare.label && k !== redisReader.label)));
    out();
  }

  // 3. MISS / pass-through.
  for (const [id, p, title, text] of [
    ['pass', '/pass/1024/x', 'Pass-through: a `cache: false` route, 1 KB', 'http-proxy-3 relays every request to the origin.'],
    [
      'nostore',
      '/nocache/1024/x',
      'MISS: an uncacheable `no-store` GET on a cacheable route, 1 KB',
      'Every request is fetched through undici and not stored (hit-for-pass keeps them out of the coalescing queue).',
    ],
  ]) {
    if (!wanted(id)) continue;
    progress(title);
    const targets = withNginx([larder, forwarder, bare]).map((t) => ({ ...t, path: p }));
    const checks = [];
    for (const t of targets) checks.push(await check(t, p));
    const r = await interleave(targets, { countOrigin: true });
    out(`## ${title}`);
    out();
    out(
      `${text} The bare server answers from memory, so the ratio to it is what a proxy hop costs; the forwarder ` +
        `(\`bench/lib/forwarder.mjs\`) is a minimal undici \`pool.stream\` proxy, the ceiling for a Node hop. Checks: ${checks.join('; ')}.`,
    );
    out();
    table(r, [forwarder.label, bare.label]);
  }

  // 4. STALE: stale-while-revalidate under load.
  if (wanted('stale')) {
    progress('STALE');
    const targets = [
      { ...larder, path: '/swr/1024/hot' },
      { ...larder, label: 'larder, max-age=0', path: '/swr0/1024/hot' },
      { ...bare, path: '/b/1024/hot' },
      ...(nginx ? [{ ...nginx, path: '/swr/1024/hot' }] : []),
    ];
    const noValidator = await check(larder, '/swr0nv/1024/hot');
    for (const t of targets) await get(t.url + t.path);
    await sleep(1_200);
    const r = await interleave(targets, { countOrigin: true, xcache: true });
    const secs = ROUNDS * DURATION;
    out('## STALE: stale-while-revalidate under load, 1 KB');
    out();
    out(
      'The origin answers `max-age=1, stale-while-revalidate=600` (rows `larder`, nginx): an entry is fresh for 1 s, ' +
        'then served STALE while one background refresh runs, and the refreshed entry is fresh for another second; ' +
        `expected: about one origin request per second of load (${secs} s per target here). Row \`larder, max-age=0\`: ` +
        'the origin answers `max-age=0, stale-while-revalidate=600` with an ETag, so every answer is STALE and refreshes ' +
        'run back to back (one at a time per key). nginx does not store max-age=0 answers, so it has no such row. ' +
        `Without a validator larder does not store that answer at all (second request: ${noValidator}).`,
    );
    out();
    table(r, [bare.label]);
    xcacheLine(new Map([...r].filter(([k]) => k !== bare.label)));
    out();
  }

  // 5. Stampede: 1,000 concurrent cold requests for one key.
  if (wanted('stampede')) {
    progress('stampede');
    const targets = withNginx([larder, larderL2, bare]);
    const results = new Map(targets.map((t) => [t.label, []]));
    for (let round = 0; round < STAMPEDE_ROUNDS; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const key = `/b/1000/stampede-${t.label.replace(/\W+/g, '-')}-${round}-${Date.now()}?delay=${ORIGIN_DELAY}`;
        await originReset();
        const r = await burst(t.url + key, STAMPEDE);
        r.origin = t === bare ? undefined : await originSettled(t.quietMs);
        if (process.env.BENCH_DEBUG) progress(t.label, (await get(originUrl + '/__paths')).body.toString());
        r.rss = rssMiB(t.pid());
        results.get(t.label).push(r);
      }
    }
    out(`## Stampede: ${STAMPEDE.toLocaleString('en-US')} concurrent requests for one cold key`);
    out();
    out(
      `Raw node:http requests over a keep-alive agent of ${STAMPEDE} sockets, all sent at once; the origin takes ` +
        `${ORIGIN_DELAY} ms to answer. ${STAMPEDE_ROUNDS} round(s), a fresh key each. req/s = ${STAMPEDE} ÷ time until the last ` +
        'answer; p50/p99 are per-request times including connection set-up. The bare server waits the same delay ' +
        'and answers every request itself. larder L2 coalesces in-process and takes the Redis fill lock.',
    );
    out();
    table(results, [bare.label]);
    xcacheLine(new Map([...results].filter(([k]) => k !== bare.label)));
    out();
  }

  // 6. Zipf mix over 100,000 keys, bounded L1.
  if (wanted('zipf')) {
    progress('Zipf');
    const z = { keys: ZIPF_KEYS, s: ZIPF_S, prefix: '/b/1024/z' };
    const targets = [
      { ...larderZipf, zipf: z },
      { ...bare, zipf: z },
    ];
    // Fill the cache first (unmeasured), so the rounds see the steady state.
    const warm = await load({ url: larderZipf.url, duration: quick ? 2 : 10, connections: CONNECTIONS, zipf: z });
    const r = await interleave(targets, { countOrigin: true, xcache: true });
    const runs = r.get(larderZipf.label);
    const total = runs.reduce((s, x) => s + x.total, 0);
    const hits = runs.reduce((s, x) => s + (x.xcache.HIT ?? 0), 0);
    const seen = runs.reduce((s, x) => s + Object.values(x.xcache).reduce((a, b) => a + b, 0), 0);
    const originReq = runs.reduce((s, x) => s + x.origin, 0);
    out(`## Zipf mix: ${ZIPF_KEYS.toLocaleString('en-US')} keys, s = ${ZIPF_S}, 1 KB bodies, L1 maxSize 16mb`);
    out();
    out(
      `Each request picks key k with probability ∝ 1/(k+1)^${ZIPF_S}; misses go to the origin and are stored, ` +
        `the LRU evicts. ${f0(warm.total)} unmeasured warm-up requests first.`,
    );
    out();
    table(r, [bare.label]);
    out(
      `Hit ratio (X-Cache HIT): ${f1((100 * hits) / seen)}%; from the origin count: ${f1(100 * (1 - originReq / total))}% ` +
        `(${f0(originReq)} origin requests for ${f0(total)} client requests). larder RSS after the rounds: ` +
        `${f1(rssMiB(zl.child.pid))} MiB (memory tier 16 MiB).`,
    );
    out();
  }

  out(`Total bench time: ${f0((Date.now() - t0) / 1000)} s.`);

  for (const c of [mem.child, logged?.child, l2.child, zl.child, bareChild, fwdChild, rrChild, ngx?.child, redis.child, origin]) if (c) await stop(c);
  return md.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// --profile: CPU profiles of larder serving L1 and L2 hits, misses and pass-through.

async function profile() {
  pinServers(pinning().servers);
  const duration = quick ? 3 : 10;
  const { origin } = await startCommon();
  const redis = await startRedis();
  const stamp = Date.now();
  out(`# larder CPU profiles, ${today()}`);
  out();
  out(
    `node --cpu-prof (sampling every 500 µs) while the load generator (${generatorName()}; ${CONNECTIONS} connections, ${duration} s) asks for one cached key; ` +
      'self time per function, from `node bench/lib/cpuprofile.mjs`. Bold names are larder code (dist/, mapped to src/). ' +
      `${os.cpus()[0]?.model ?? ''} × ${os.cpus().length}, Node ${process.version}.`,
  );
  out();
  const tiers = [
    ['L1 HIT, 1 KB body', 'l1', '/b/1024/hot', `cache:\n  memory: { maxSize: 256mb }\n`],
    [
      'L2 HIT, 1000-byte body (L1 too small)',
      'l2',
      '/b/1000/hot',
      `cache:\n  memory: { maxSize: 1kb, maxEntrySize: 1kb }\n  redis: { url: ${redis.url}, commandTimeout: 50ms }\n`,
    ],
    ['MISS, no-store GET on a cacheable route, 1 KB', 'miss', '/nocache/1024/x', `cache:\n  memory: { maxSize: 256mb }\n`, ['MISS']],
    ['Pass-through, `cache: false` route, 1 KB', 'pass', '/pass/1024/x', `cache:\n  memory: { maxSize: 256mb }\n`, ['BYPASS']],
  ];
  for (const [title, id, p, cache, expect = ['HIT']] of tiers) {
    if (!wanted(id)) continue;
    progress(`profiling ${title}`);
    const dir = `/tmp/larder-prof/${id}-${stamp}`;
    fs.mkdirSync(dir, { recursive: true });
    const l = await startLarder(LARDER_BASE(originUrl) + cache + NO_ACCESS_LOG, {
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=500'],
    });
    const c = await check({ label: 'larder', url: l.url }, p, expect);
    const r = await load({ url: l.url + p, duration, connections: CONNECTIONS });
    await stop(l.child);
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    out(`## ${title}`);
    out();
    out(`Load: ${f0(r.rps)} req/s, p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms (with the profiler on). Check: ${c}. Profile: ${dir}/${file}.`);
    out();
    if (!file) {
      out('No .cpuprofile was written (larder did not exit cleanly).');
      continue;
    }
    out(formatMarkdown(aggregate(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))), 15));
    out();
  }
  await stop(redis.child);
  await stop(origin);
  return md.join('\n') + '\n';
}

const text = flags.profile ? await profile() : await main();
if (!flags['no-write'] && !only) {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const suffix = flags.profile ? 'profile' : quick ? 'quick' : '';
  const dated = path.join(dir, `${today()}${suffix ? '-' + suffix : ''}.md`);
  const latest = path.join(dir, `latest${suffix ? '-' + suffix : ''}.md`);
  fs.writeFileSync(dated, text);
  fs.writeFileSync(latest, text);
  progress(`wrote ${path.relative(process.cwd(), dated)} and ${path.relative(process.cwd(), latest)}`);
}
process.exit(0);
