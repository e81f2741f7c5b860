// The fallback load generator: `node bench/lib/cannon-child.mjs '<json options>'` runs one
// autocannon load in this process (not the bench's) and prints one JSON line: the same result
// shape as load() in bench/lib/load.mjs. Options as load() takes them.
import autocannon from 'autocannon';
import { zipf } from './zipf.mjs';

const opts = JSON.parse(process.argv[2] ?? '{}');
const counts = {};
const request = {};
if (opts.zipf) {
  const next = zipf(opts.zipf.keys, opts.zipf.s);
  request.setupRequest = (req) => {
    req.path = `${opts.zipf.prefix}${next()}${opts.zipf.suffix ?? ''}`;
    return req;
  };
}
if (opts.xcache) {
  request.onResponse = (_status, _body, _ctx, headers) => {
    let x = String(headers['x-cache'] ?? '(none)');
    if (String(headers['cache-status'] ?? '').includes('redis-down')) x += ' (redis-down)';
    counts[x] = (counts[x] ?? 0) + 1;
  };
}
autocannon(
  {
    url: opts.url,
    duration: opts.duration,
    connections: opts.connections,
    pipelining: 1,
    headers: opts.headers ?? {},
    requests: [request],
  },
  (err, r) => {
    if (err) throw err;
    const out = {
      rps: r.requests.total / (r.duration || opts.duration),
      p50: r.latency.p50,
      p99: r.latency.p99,
      total: r.requests.total,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
    };
    if (opts.xcache) out.xcache = counts;
    process.stdout.write(JSON.stringify(out) + '\n');
  },
);
