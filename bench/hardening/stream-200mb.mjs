// RSS of a larder process while a 200 MB body streams through it (maxEntrySize 8mb: not stored).
import http from 'node:http';
import { request } from 'undici';
import { startChild, rssOf, mb } from './common.mjs';
const SIZE = 200 * 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 'x');
const origin = http.createServer((req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=60', ...(req.url.includes('cl') ? { 'content-length': SIZE } : {}) });
  let sent = 0;
  const pump = () => { while (sent < SIZE) { sent += chunk.length; if (!res.write(chunk)) return res.once('drain', pump); } res.end(); };
  pump();
});
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const { child, port } = await startChild({ origin: `http://127.0.0.1:${origin.address().port}`, log: { level: 'silent' } });
for (const [path, slow] of [['/chunked', false], ['/cl', false], ['/chunked-slow-client', true]]) {
  const base = rssOf(child.pid);
  let peak = base;
  const t = setInterval(() => (peak = Math.max(peak, rssOf(child.pid))), 50);
  const t0 = performance.now();
  const res = await request(`http://127.0.0.1:${port}${path}`);
  let n = 0;
  for await (const c of res.body) { n += c.length; if (slow) await new Promise((r) => setTimeout(r, 1)); }
  clearInterval(t);
  console.log(`${path}: ${mb(n)} in ${((performance.now() - t0) / 1000).toFixed(2)} s; larder RSS before ${mb(base)}, peak ${mb(peak)} (+${mb(peak - base)}), x-cache ${res.headers['x-cache']}`);
}
child.kill();
origin.close();
process.exit(0);
