// 100,000 random-query requests flood the cache while a hot key is asked for in between.
import http from 'node:http';
import { request, Agent } from 'undici';
import { startChild, rssOf, mb } from './common.mjs';
const MAX = process.env.MAXSIZE ?? '256mb';
const origin = http.createServer((req, res) => { res.setHeader('cache-control', 'max-age=300'); res.end('x'.repeat(1024) + req.url); });
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const { child, port } = await startChild({ origin: `http://127.0.0.1:${origin.address().port}`, log: { level: 'silent' }, cache: { memory: { maxSize: MAX } } });
const agent = new Agent({ connections: 64 });
const base = rssOf(child.pid);
let peak = base, hot = 0, hotHits = 0, flood = 0, errors = 0;
const rssTimer = setInterval(() => (peak = Math.max(peak, rssOf(child.pid))), 100);
const get = async (path) => { const r = await request(`http://127.0.0.1:${port}${path}`, { dispatcher: agent, headers: { host: 'shop.test' } }); await r.body.text(); if (r.statusCode !== 200) errors++; return r.headers['x-cache']; };
await get('/hot');
const t0 = performance.now();
let i = 0;
const worker = async () => {
  while (i < 100_000) {
    i++;
    await get(`/item?r=${Math.random().toString(36).slice(2)}&n=${i}`);
    flood++;
    if (i % 10 === 0) { hot++; if ((await get('/hot')) === 'HIT') hotHits++; }
  }
};
await Promise.all(Array.from({ length: 32 }, worker));
clearInterval(rssTimer);
const stats = await new Promise((r) => { child.once('message', (m) => r(m.stats)); child.send('stats'); });
console.log(`maxSize ${MAX}: ${flood} flood requests + ${hot} hot-key requests in ${((performance.now() - t0) / 1000).toFixed(1)} s, errors ${errors}`);
console.log(`hot key hit ratio ${(100 * hotHits / hot).toFixed(2)}% (${hotHits}/${hot})`);
console.log(`larder RSS before ${mb(base)}, peak ${mb(peak)}, end ${mb(rssOf(child.pid))}; memory tier ${mb(stats.memoryBytes)} in ${stats.entries} entries`);
child.kill(); origin.close(); await agent.close();
process.exit(0);
