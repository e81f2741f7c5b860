// The bench origin: `node bench/lib/origin.mjs PORT`. GET /b/<bytes>/<anything> answers a body
// of that many bytes, cacheable for an hour; /nocache/<bytes>/... the same with no-store;
// /__count tells how many requests reached it (and /__reset zeroes the count).
import http from 'node:http';

const port = Number(process.argv[2]);
const bodies = new Map();
let count = 0;

function body(size) {
  let b = bodies.get(size);
  if (b === undefined) {
    b = Buffer.alloc(size, 'x');
    bodies.set(size, b);
  }
  return b;
}

http
  .createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/__count') return void res.end(String(count));
    if (url === '/__reset') {
      count = 0;
      return void res.end('0');
    }
    count++;
    const [, kind, size] = url.split('/');
    const b = body(Number(size) || 1024);
    const delay = Number(new URL(url, 'http://x').searchParams.get('delay') ?? 0);
    const send = () => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': b.length,
        'cache-control': kind === 'nocache' ? 'no-store' : 'max-age=3600',
      });
      res.end(b);
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  })
  .listen(port, '127.0.0.1');
