// The bare reference server: `node bench/lib/bare.mjs PORT`. A plain node:http server that
// answers GET /<kind>/<bytes>/<anything>[?delay=ms] with the bytes and header fields larder
// writes for a cached hit (same body, same field names and similar values, written with the
// same writeHead(status, message, flatArray) call), without any lookup. It is the ceiling a
// node:http cache can reach on this machine: larder's ratio to it is what its own work costs.
import http from 'node:http';

const port = Number(process.argv[2]);
const date = new Date().toUTCString();
const prepared = new Map();

function answer(size) {
  let p = prepared.get(size);
  if (p === undefined) {
    p = {
      body: Buffer.alloc(size, 'x'),
      headers: [
        'content-type', 'application/octet-stream',
        'cache-control', 'max-age=3600',
        'date', date,
        'content-length', String(size),
        'via', '1.1 larder',
      ],
    };
    prepared.set(size, p);
  }
  return p;
}

http
  .createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    const url = req.url ?? '/';
    const [, , size] = url.split('/');
    const p = answer(Number(size) || 1024);
    const q = url.indexOf('?');
    const delay = q === -1 ? 0 : Number(new URLSearchParams(url.slice(q + 1)).get('delay') ?? 0);
    const send = () => {
      const headers = p.headers.slice();
      headers.push('age', '0', 'x-cache', 'HIT', 'cache-status', 'larder; hit; ttl=3599');
      res.writeHead(200, 'OK', headers);
      res.end(p.body);
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  })
  .listen(port, '127.0.0.1');

// Exits cleanly on SIGTERM, so that a --cpu-prof run of the reference writes its profile.
process.on('SIGTERM', () => process.exit(0));
