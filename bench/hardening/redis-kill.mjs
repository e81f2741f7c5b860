// 60 s load loop against larder + Redis; Redis is SIGKILLed at 15 s and restarted at 40 s.
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, Agent } from 'undici';
import { startChild, rssOf, mb, pct } from './common.mjs';
const DURATION = Number(process.env.DURATION ?? 60_000);
const freePort = () => new Promise((r) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const rport = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'larder-redis-'));
const startRedis = () => spawn('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
let redis = startRedis();
await new Promise((r) => setTimeout(r, 300));
const origin = http.createServer((req, res) => { res.setHeader('cache-control', 'max-age=5'); res.end(`body of ${req.url}`); });
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const { child, port } = await startChild({ origin: `http://127.0.0.1:${origin.address().port}`, log: { level: 'silent' }, cache: { redis: { url: `redis://127.0.0.1:${rport}`, commandTimeout: '50ms' } } });
const agent = new Agent({ connections: 64 });
const phases = { before: [], down: [], after: [] };
let errors = 0, non200 = 0, n = 0, peakRss = 0;
const t0 = performance.now();
const phase = () => { const t = performance.now() - t0; return t < DURATION * 0.25 ? 'before' : t < DURATION * 0.667 ? 'down' : 'after'; };
setTimeout(() => { redis.kill('SIGKILL'); console.log('redis killed at', ((performance.now() - t0) / 1000).toFixed(1), 's'); }, DURATION * 0.25);
setTimeout(() => { redis = startRedis(); console.log('redis restarted at', ((performance.now() - t0) / 1000).toFixed(1), 's'); }, DURATION * 0.667);
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssOf(child.pid))), 250);
const worker = async () => {
  while (performance.now() - t0 < DURATION) {
    const p = phase();
    const s = performance.now();
    try {
      const r = await request(`http://127.0.0.1:${port}/k${Math.floor(Math.random() * 2000)}`, { dispatcher: agent, headers: { host: 'shop.test' } });
      await r.body.text();
      if (r.statusCode !== 200) non200++;
    } catch { errors++; }
    phases[p].push(performance.now() - s);
    n++;
  }
};
await Promise.all(Array.from({ length: 16 }, worker));
clearInterval(rssTimer);
const all = [...phases.before, ...phases.down, ...phases.after];
const fmt = (xs) => `n=${xs.length} p50=${pct(xs, 0.5).toFixed(2)}ms p99=${pct(xs, 0.99).toFixed(2)}ms max=${xs.reduce((a, b) => Math.max(a, b), 0).toFixed(1)}ms`;
console.log(`requests ${n}, transport errors ${errors}, non-200 ${non200}, larder peak RSS ${mb(peakRss)}`);
for (const [k, v] of Object.entries(phases)) console.log(`  ${k.padEnd(6)} ${fmt(v)}`);
console.log(`  all    ${fmt(all)}`);
const dbsize = await new Promise((r) => { const c = spawn('redis-cli', ['-p', String(rport), 'DBSIZE']); let o = ''; c.stdout.on('data', (d) => (o += d)); c.on('close', () => r(o.trim())); });
console.log('redis DBSIZE at the end (writes resumed without restart):', dbsize);
child.kill(); redis.kill('SIGKILL'); origin.close(); await agent.close();
process.exit(0);
