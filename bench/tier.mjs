// The shared tier's costs, measured in one run with interleaved rounds (ratios are what matter):
//   1. L2 HIT req/s and p99 with and without cache.redis.encryption (every request reads Redis);
//   2. L1 HIT p99 with 0 and with 10,000 prefix purge rules;
//   3. the slowest L1 hit while a purge of 10,000 tags runs, against a window without one
//      (a probe sends one request at a time; larder is in its own process).
// larder runs in child processes, autocannon in this one.
//   npm run build && node bench/tier.mjs [--rounds N] [--duration S]
import { Agent, request } from 'undici';
import { cannon, freePort, start, startLarder, startRedis, stop, waitHttp } from './lib/procs.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const ROUNDS = arg('--rounds', 3);
const DURATION = arg('--duration', 3);
const CONNECTIONS = 50;

const originPort = await freePort();
const origin = start(process.execPath, ['bench/lib/origin.mjs', String(originPort)]);
const originUrl = `http://127.0.0.1:${originPort}`;
await waitHttp(originUrl + '/b/10/ready');
const redis = await startRedis();
const base = `origin: ${originUrl}\nlog: { level: warn, requests: 0 }\n`;
const l2 = (extra) => `cache:\n  memory: { maxSize: 1kb, maxEntrySize: 1kb }\n  redis: { url: ${redis.url}, commandTimeout: 50ms${extra} }\n`;
const key = (n) => Buffer.alloc(32, n).toString('hex');
const adminPort = await freePort();
const targets = {
  l2: await startLarder(base + l2(', prefix: "plain:"')),
  l2enc: await startLarder(base + l2(`, prefix: "enc:", encryption: { keys: [ { id: k2, key: "${key(2)}" }, { id: k1, key: "${key(1)}" } ] }`)),
  l1: await startLarder(base + 'cache:\n  memory: { maxSize: 256mb }\n'),
  l1rules: await startLarder(base + `cache:\n  memory: { maxSize: 256mb }\nadmin: { listen: "127.0.0.1:${adminPort}", token: t }\n`),
};
const tenThousand = Array.from({ length: 10_000 }, (_, i) => `/purged/${i}/`);
const t = performance.now();
const purge = await fetch(`http://127.0.0.1:${adminPort}/purge`, {
  method: 'POST',
  headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
  body: JSON.stringify({ prefixes: tenThousand }),
});
console.log(`POST /purge of 10,000 prefixes: ${purge.status} in ${(performance.now() - t).toFixed(0)} ms`);

async function interleaved(label, pair) {
  const results = new Map(pair.map(([name]) => [name, []]));
  for (const [, url] of pair) await cannon({ url, duration: 1, connections: CONNECTIONS });
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, url] of round % 2 === 0 ? pair : [...pair].reverse()) {
      const r = await cannon({ url, duration: DURATION, connections: CONNECTIONS });
      if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      results.get(name).push(r);
    }
  }
  console.log(`\n${label} (${ROUNDS} interleaved rounds of ${DURATION} s, ${CONNECTIONS} connections)`);
  const [a, b] = pair.map(([name]) => results.get(name));
  for (const [name] of pair) {
    const rs = results.get(name);
    const mean = (f) => rs.reduce((s, x) => s + f(x), 0) / rs.length;
    console.log(`  ${name.padEnd(34)} ${mean((x) => x.rps).toFixed(0).padStart(7)} req/s  p50 ${mean((x) => x.p50).toFixed(1)} ms  p99 ${mean((x) => x.p99).toFixed(1)} ms`);
  }
  const ratios = a.map((x, i) => b[i].rps / x.rps).sort((x, y) => x - y);
  const p99s = a.map((x, i) => b[i].p99 / Math.max(x.p99, 0.001)).sort((x, y) => x - y);
  console.log(`  second / first req/s per round: median ${ratios[ratios.length >> 1].toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(', ')})`);
  console.log(`  second / first p99 per round: ${p99s.map((r) => r.toFixed(2)).join(', ')}`);
}

/** Sequential requests for `ms`; the slowest one's latency and the count. */
async function probe(url, ms, dispatcher) {
  let worst = 0;
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    const r = await request(url, { dispatcher });
    await r.body.dump();
    worst = Math.max(worst, performance.now() - t0);
    n++;
  }
  return { worst, n };
}

async function purgeStall() {
  const dispatcher = new Agent({ connections: 1 });
  const url = targets.l1rules.url + '/b/1000/stall';
  await probe(url, 500, dispatcher);
  const control = await probe(url, 1_000, dispatcher);
  const tags = Array.from({ length: 10_000 }, (_, i) => `tag-${i}`);
  const during = probe(url, 1_000, dispatcher);
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${adminPort}/purge`, {
    method: 'POST',
    headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
    body: JSON.stringify({ tags }),
  });
  const took = performance.now() - t0;
  const d = await during;
  console.log(`\nPOST /purge of 10,000 tags during sequential L1 hits: ${r.status} in ${took.toFixed(0)} ms`);
  console.log(`  slowest hit without a purge: ${control.worst.toFixed(1)} ms (${control.n} requests); during the purge: ${d.worst.toFixed(1)} ms (${d.n} requests)`);
  await dispatcher.close();
}

try {
  await purgeStall();
  await interleaved('L2 HIT, 1000-byte body', [
    ['larder L2 (clear)', targets.l2.url + '/b/1000/l2'],
    ['larder L2 (AES-256-GCM)', targets.l2enc.url + '/b/1000/l2'],
  ]);
  await interleaved('L1 HIT, 1000-byte body', [
    ['larder L1, 0 purge rules', targets.l1.url + '/b/1000/l1'],
    ['larder L1, 10,000 prefix rules', targets.l1rules.url + '/b/1000/l1'],
  ]);
} finally {
  for (const x of Object.values(targets)) await stop(x.child);
  await stop(redis.child);
  await stop(origin);
}
