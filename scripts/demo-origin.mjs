// A small API to put larder in front of: `node scripts/demo-origin.mjs [port]` (default 3000).
// Each path shows one caching behaviour; every response says how many requests reached it.
import http from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
let served = 0;

const routes = {
  // Fresh for 60 s, revalidatable by ETag, served stale for 30 s while refreshing.
  '/api/products': (res, url) => {
    const id = url.pathname.split('/')[3] ?? 'all';
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=60, stale-while-revalidate=30, stale-if-error=600',
      etag: `"product-${id}"`,
      'surrogate-key': `product-${id} catalog`,
    });
    res.end(JSON.stringify({ id, name: `Product ${id}`, page: url.searchParams.get('page'), served }));
  },
  // Never stored: the answer is per user.
  '/api/me': (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'private, max-age=60' });
    res.end(JSON.stringify({ user: 'demo', served }));
  },
  // No freshness information: cached only when a route gives a ttl.
  '/api/time': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ now: new Date().toISOString(), served }));
  },
  // Slow on purpose, to watch coalescing and stale-while-revalidate.
  '/api/slow': (res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=5, stale-while-revalidate=60' });
      res.end(JSON.stringify({ slow: true, served }));
    }, 2_000);
  },
  '/api/auth': (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ token: 'not-a-real-token', served }));
  },
};

const server = http.createServer((req, res) => {
  served++;
  const url = new URL(req.url ?? '/', 'http://demo');
  const prefix = Object.keys(routes).find((p) => url.pathname === p || url.pathname.startsWith(p + '/'));
  if (prefix === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return void res.end('not found\n');
  }
  req.resume();
  routes[prefix](res, url);
});
server.listen(port, host, () => console.log(`demo origin on http://${host}:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
