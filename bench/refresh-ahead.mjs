// Origin load of one hot key under steady traffic, with refresh-ahead (XFetch) off and on.
// The origin answers max-age=10 after 200 ms; a client sends about 100 requests per second
// to the hot key for the given time; the script counts origin requests and X-Cache results.
//
//   npm run build && node bench/refresh-ahead.mjs [--seconds 60]
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { freePort, sleep, start, startLarder, stop, waitHttp } from './lib/procs.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
const seconds = Number(values.seconds);

const originPort = await freePort();
const originCode = `
  const http = require('node:http');
  let n = 0;
  http.createServer((req, res) => {
    if (req.url === '/__count') return res.end(String(n));
    n++;
    setTimeout(() => { res.setHeader('cache-control', 'max-age=10'); res.end('hot'); }, 200);
  }).listen(${originPort}, '127.0.0.1');`;
const origin = start(process.execPath, ['-e', originCode]);
await waitHttp(`http://127.0.0.1:${originPort}/__count`);
const count = async () => Number(await (await request(`http://127.0.0.1:${originPort}/__count`)).body.text());

async function run(beta) {
  const larder = await startLarder(
    `origin: http://127.0.0.1:${originPort}\nlog: { requests: 0 }\nroutes:\n  - { name: hot, match: /**, earlyRefresh: ${beta} }\n`,
  );
  const agent = new Agent({ connections: 4 });
  const seen = {};
  const before = await count();
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  const t0 = Date.now();
  while (Date.now() < end) {
    const res = await request(`${larder.url}/hot`, { dispatcher: agent });
    await res.body.dump();
    const x = String(res.headers['x-cache']);
    seen[x] = (seen[x] ?? 0) + 1;
    sent++;
    // About 100 requests per second.
    const due = t0 + sent * 10;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  const origins = (await count()) - before;
  await agent.close();
  await stop(larder.child);
  return { beta, requests: sent, origins, perMinute: (origins * 60) / seconds, seen };
}

const off = await run(0);
const on = await run(1);
console.log(`\nOne hot key, max-age=10, origin takes 200 ms, ~100 req/s for ${seconds} s each:`);
console.log('earlyRefresh  requests  origin requests  per minute  X-Cache');
for (const r of [off, on]) {
  console.log(`${String(r.beta).padEnd(14)}${String(r.requests).padEnd(10)}${String(r.origins).padEnd(17)}${r.perMinute.toFixed(1).padEnd(12)}${JSON.stringify(r.seen)}`);
}
await stop(origin);
process.exit(0);
