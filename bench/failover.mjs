// Requests lost while one of two servers of an upstream is killed under load, and brought back.
// `npm run bench:failover` (builds, then runs under flock /tmp/bench.lock: one bench at a time).
//
// Two bench origins (bench/lib/origin.mjs) in their own processes, larder (bin/larder.js, the
// built dist) in its own, and the load from autocannon in a third, 50 connections for --seconds.
// A GET route with cache: false, so that every request goes to a server. A third of the way in,
// server a is SIGKILLed; two thirds in it starts again on its port. Each setting is one run:
//   no retry       : upstream with active health checks, retry.attempts 1
//   retry          : the same with retry { attempts: 2, on: [connect, 502, 503, 504] }
//
//   node bench/failover.mjs [--seconds 12] [--interval 500ms]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { freePort, sleep, start, startLarder, stop, waitHttp } from './lib/procs.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '12' }, interval: { type: 'string', default: '500ms' } } });
const seconds = Math.max(3, Math.min(120, Number(values.seconds)));

async function startOrigin(port) {
  const child = start(process.execPath, ['bench/lib/origin.mjs', String(port)]);
  await waitHttp(`http://127.0.0.1:${port}/__count`);
  return child;
}

/** autocannon in its own process; resolves to its JSON summary. */
function load(url) {
  return new Promise((resolve, reject) => {
    const child = spawn('node_modules/.bin/autocannon', ['-c', '50', '-d', String(seconds), '--json', url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(new Error(`autocannon printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

async function run(label, retry) {
  const [pa, pb] = [await freePort(), await freePort()];
  let a = await startOrigin(pa);
  const b = await startOrigin(pb);
  const rules = [
    'origin: api',
    'upstreams:',
    '  api:',
    `    servers: [http://127.0.0.1:${pa}, http://127.0.0.1:${pb}]`,
    `    healthCheck: { path: /__count, interval: ${values.interval}, timeout: 1s, unhealthyAfter: 2, healthyAfter: 2 }`,
    ...(retry ? ['    retry: { attempts: 2, on: [connect, 502, 503, 504] }'] : []),
    'routes:',
    '  - { name: pass, match: /**, cache: false }',
    '',
  ].join('\n');
  const larder = await startLarder(rules);
  try {
    const result = load(`${larder.url}/b/256/x`);
    await sleep((seconds * 1000) / 3);
    a.kill('SIGKILL');
    const killedAt = Date.now();
    await sleep((seconds * 1000) / 3);
    a = await startOrigin(pa);
    const back = Date.now() - killedAt;
    const r = await result;
    return { label, total: r.requests.total, non2xx: r.non2xx, errors: r.errors + r.timeouts, rps: r.requests.average, p99: r.latency.p99, downMs: back };
  } finally {
    await stop(larder.child);
    await stop(a);
    await stop(b);
  }
}

const rows = [await run('no retry (attempts 1)', false), await run('retry (attempts 2)', true)];
console.log(
  `\nOne of two servers SIGKILLed under load (50 connections, ${seconds} s, GET through a cache: false route; ` +
    `health check every ${values.interval}, unhealthyAfter 2), node ${process.version}\n`,
);
console.log('| setting | requests | non-2xx | socket errors | req/s | p99 ms | server a down for |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.total} | ${r.non2xx} | ${r.errors} | ${Math.round(r.rps)} | ${r.p99} | ${(r.downMs / 1000).toFixed(1)} s |`);
