// The forwarding reference: `node bench/lib/forwarder.mjs PORT ORIGIN_URL`. A minimal proxy that
// relays every request to the origin with undici `pool.stream`, writing the origin's status,
// header fields and body straight to the client response. No cache, no header policing, no
// metrics: it is the ceiling for a Node proxy hop on this machine, so larder's MISS and
// pass-through ratios to it are what larder's own forwarding work costs.
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const pool = new Pool(process.argv[3], { connections: 256, pipelining: 1, keepAliveTimeout: 4_000 });

http
  .createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    pool
      .stream({ path: req.url ?? '/', method: req.method ?? 'GET', headers: req.headers }, ({ statusCode, headers }) => {
        res.writeHead(statusCode, headers);
        return res;
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  })
  .listen(port, '127.0.0.1');
