// The bench origin: `node bench/lib/origin.mjs PORT`. GET /<kind>/<bytes>/<anything>[?delay=ms]
// answers a body of that many bytes (after `delay` ms), with a Cache-Control chosen by kind:
//   /b/...        max-age=3600 (cacheable for an hour; also /pass/... and any other kind)
//   /nocache/...  no-store
//   /swr/...      max-age=1, stale-while-revalidate=600
//   /swr0/...     max-age=0, stale-while-revalidate=600 and an ETag (stale from the start)
//   /swr0nv/...   the same without the ETag
// /__count tells how many requests reached it, /__paths the same per path as JSON, and
// /__reset zeroes both.
import http from 'node:http';

const port = Number(process.argv[2]);
const bodies = new Map();
let count = 0;
let paths = new Map();

const CACHE_CONTROL = {
  nocache: 'no-store',
  swr: 'max-age=1, stale-while-revalidate=600',
  swr0: 'max-age=0, stale-while-revalidate=600',
  swr0nv: 'max-age=0, stale-while-revalidate=600',
};

function body(size) {
  let b = bodies.get(size);
  if (b === undefined) {
    b = Buffer.alloc(size, 'x');
    bodies.set(size, b);
  }
  return b;
}

http
  .createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const url = req.url ?? '/';
    if (url === '/__count') return void res.end(String(count));
    if (url === '/__paths') return void res.end(JSON.stringify(Object.fromEntries(paths)));
    if (url === '/__reset') {
      count = 0;
      paths = new Map();
      return void res.end('0');
    }
    count++;
    if (paths.size < 10_000) paths.set(url, (paths.get(url) ?? 0) + 1);
    const [, kind, size] = url.split('/');
    const b = body(Number(size) || 1024);
    const q = url.indexOf('?');
    const delay = q === -1 ? 0 : Number(new URLSearchParams(url.slice(q + 1)).get('delay') ?? 0);
    const send = () => {
      const headers = {
        'content-type': 'application/octet-stream',
        'content-length': b.length,
        'cache-control': CACHE_CONTROL[kind] ?? 'max-age=3600',
      };
      if (kind === 'swr0') headers.etag = '"v1"';
      res.writeHead(200, headers);
      res.end(b);
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  })
  .listen(port, '127.0.0.1');
