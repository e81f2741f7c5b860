// The shared-tier reference: `node bench/lib/redis-reader.mjs PORT REDIS_URL`. A minimal
// node:http server that answers every request by reading a body from Redis with ioredis
// (auto-pipelining on, as in larder) and writing it with the same header fields as the bare
// server. No decoding, no validation, no cache logic: the ceiling for a Node cache whose
// every hit is a Redis read, so larder's L2 ratio to it is what larder's own L2 work costs.
import http from 'node:http';
import { Redis } from 'ioredis';

const port = Number(process.argv[2]);
const redis = new Redis(process.argv[3], { enableAutoPipelining: true });
const KEY = 'bench:redis-reader:body';
const date = new Date().toUTCString();
const sizes = new Set();

async function ensure(size) {
  if (sizes.has(size)) return;
  await redis.set(`${KEY}:${size}`, Buffer.alloc(size, 'x'), 'PX', 3_600_000);
  sizes.add(size);
}

http
  .createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    const size = Number((req.url ?? '/').split('/')[2]) || 1024;
    ensure(size)
      .then(() => redis.getBuffer(`${KEY}:${size}`))
      .then((body) => {
        res.writeHead(200, 'OK', [
          'content-type', 'application/octet-stream',
          'cache-control', 'max-age=3600',
          'date', date,
          'content-length', String(body.length),
          'via', '1.1 larder',
          'age', '0',
          'x-cache', 'HIT',
          'cache-status', 'larder; hit; ttl=3599',
        ]);
        res.end(body);
      })
      .catch(() => {
        res.writeHead(502).end();
      });
  })
  .listen(port, '127.0.0.1');
