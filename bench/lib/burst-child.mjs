// A stampede in a process of its own: `node bench/lib/burst-child.mjs URL N` sends N GETs for
// URL at once, each on its own keep-alive socket, and prints one JSON line: time to the last
// answer, req/s (N ÷ that time), p50/p99 per-request times in ms, the X-Cache mix, errors.
import http from 'node:http';

const [url, nArg] = process.argv.slice(2);
const n = Number(nArg);

function get(agent) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('timeout after 60 s')));
  });
}

/** How a response is counted: its X-Cache, marked when Cache-Status says Redis was skipped. */
function classify(headers) {
  const x = String(headers['x-cache'] ?? '(none)');
  const cs = headers['cache-status'];
  return cs !== undefined && String(cs).includes('redis-down') ? `${x} (redis-down)` : x;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: n });
const t0 = performance.now();
const settled = await Promise.allSettled(Array.from({ length: n }, () => get(agent)));
const wall = performance.now() - t0;
agent.destroy();
const ok = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
const lat = ok.map((r) => r.ms).sort((a, b) => a - b);
const xcache = {};
for (const r of ok) xcache[classify(r.headers)] = (xcache[classify(r.headers)] ?? 0) + 1;
process.stdout.write(
  JSON.stringify({
    wall,
    rps: (n * 1000) / wall,
    p50: lat[Math.floor(lat.length * 0.5)] ?? null,
    p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] ?? null,
    total: ok.length,
    non2xx: ok.filter((r) => r.status < 200 || r.status > 299).length,
    errors: settled.length - ok.length,
    xcache,
  }) + '\n',
);
process.exit(0);
