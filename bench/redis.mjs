// Shared-tier figures, measured in one run on loopback:
//  1. L2 HIT throughput (memory tier too small to hold the entry, so every hit reads Redis)
//     as a ratio of L1 HIT throughput, 1000-byte bodies, interleaved rounds;
//  2. p99 latency of cache misses while redis-server is killed mid-run, against the same load
//     with Redis up.
//
//   npm run build && node bench/redis.mjs [--quick]
import { get } from 'node:http';
import { cannon, freePort, sleep, start, startLarder, startRedis, stop, waitHttp } from './lib/procs.mjs';

const quick = process.argv.includes('--quick');
const duration = quick ? 2 : 5;
const rounds = quick ? 1 : 3;

const originPort = await freePort();
const origin = start(process.execPath, ['bench/lib/origin.mjs', String(originPort)]);
const originUrl = `http://127.0.0.1:${originPort}`;
await waitHttp(originUrl + '/__count');
const redis = await startRedis();

const base = `origin: ${originUrl}\n`;
const l1 = await startLarder(base);
// 1kb of memory holds no 1000-byte entry (each is charged body + headers + ~1 KB), so every
// hit on this instance is a Redis read followed by a refused memory backfill.
const l2 = await startLarder(
  base + `cache:\n  memory: { maxSize: 1kb, maxEntrySize: 1kb }\n  redis: { url: ${redis.url}, commandTimeout: 50ms }\n`,
);

const fetchOnce = (url) =>
  new Promise((resolve, reject) => get(url, (res) => res.resume().on('end', resolve)).on('error', reject));
const path = '/b/1000/hot';
await fetchOnce(l1.url + path);
await fetchOnce(l2.url + path);
await sleep(200);

const results = { l1: [], l2: [] };
for (let i = 0; i < rounds; i++) {
  results.l1.push(await cannon({ url: l1.url + path, duration }));
  results.l2.push(await cannon({ url: l2.url + path, duration }));
}
const avg = (xs, k) => xs.reduce((s, x) => s + x[k], 0) / xs.length;
const fmt = (n) => n.toFixed(0).padStart(8);
console.log('\nL1 vs L2 HIT, 1000-byte body, 50 connections, ' + `${rounds} interleaved round(s) of ${duration}s`);
console.log('tier      req/s     p50 ms   p99 ms   non-2xx');
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name.padEnd(6)}${fmt(avg(xs, 'rps'))}${fmt(avg(xs, 'p50'))}${fmt(avg(xs, 'p99'))}${fmt(xs.reduce((s, x) => s + x.non2xx, 0))}`);
}
console.log(`L2 / L1 throughput ratio: ${(avg(results.l2, 'rps') / avg(results.l1, 'rps')).toFixed(2)}`);
await stop(l1.child);
await stop(l2.child);

// 2. Misses with Redis up, then misses while Redis dies.
const shared = await startLarder(
  base + `cache:\n  redis: { url: ${redis.url}, commandTimeout: 50ms, breaker: { failures: 5, coolDown: 5s } }\n`,
);
let n = 0;
const missLoad = () => cannon({
  url: shared.url,
  connections: 20,
  duration,
  requests: [{ setupRequest: (req) => ({ ...req, path: `/b/1000/miss-${n++}` }) }],
});
const up = await missLoad();
const killAt = setTimeout(() => redis.child.kill('SIGKILL'), 1000);
const down = await missLoad();
clearTimeout(killAt);
console.log('\nCache misses (unique keys), 20 connections, ' + `${duration}s each`);
console.log('phase                  req/s     p50 ms   p99 ms   max ms   non-2xx  errors');
for (const [name, r] of [['redis up', up], ['redis killed at 1s', down]]) {
  console.log(`${name.padEnd(20)}${fmt(r.rps)}${fmt(r.p50)}${fmt(r.p99)}${fmt(r.max)}${fmt(r.non2xx)}${fmt(r.errors)}`);
}
console.log(`p99 added while Redis is killed: ${(down.p99 - up.p99).toFixed(0)} ms`);
await stop(shared.child);
await stop(origin);
process.exit(0);
