// A JSON origin for the content-coding bench: `node bench/lib/json-origin.mjs PORT`.
// GET /json/<bytes>/<anything> answers a deterministic JSON array of about that many bytes,
// Content-Type application/json, max-age=3600 and a strong ETag, never compressed.
// /__count tells how many requests reached it.
import http from 'node:http';

const port = Number(process.argv[2]);
const bodies = new Map();
let count = 0;

/** Records with the repetition of a real API answer: field names, some text, numbers, dates. */
function json(bytes) {
  const items = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const item = {
      id: 100_000 + i,
      sku: `SKU-${(i * 7919) % 100_000}`.padEnd(10, '0'),
      name: `Product ${i} ${['red', 'blue', 'green', 'black'][i % 4]} ${['small', 'medium', 'large'][i % 3]}`,
      price: Math.round(((i * 2654435761) % 100_000) / 7) / 100,
      stock: (i * 31) % 500,
      updated: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString(),
      tags: ['catalog', `c${i % 17}`, `b${i % 5}`],
      active: i % 7 !== 0,
    };
    size += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return Buffer.from(JSON.stringify(items));
}

http
  .createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const url = req.url ?? '/';
    if (url === '/__count') return void res.end(String(count));
    count++;
    const size = Number(url.split('/')[2]) || 1024;
    let b = bodies.get(size);
    if (b === undefined) {
      b = json(size);
      bodies.set(size, b);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600', etag: `"j${size}"`, 'content-length': b.length });
    res.end(b);
  })
  .listen(port, '127.0.0.1');
