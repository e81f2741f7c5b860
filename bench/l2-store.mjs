// The shared tier's own cost per L2 hit, in process: CPU µs per TieredStore.lookupShared of the
// bench's 1000-byte entry (as larder stores /b/1000/hot from bench/lib/origin.mjs) against a real
// redis-server, 50 lookups in flight, next to a bare ioredis getBuffer of the same bytes; and the
// codec's decode alone. With --baseline DIR (another checkout, built), its dist/ is measured in
// the same process, pair by pair, under its own key prefix.
//
//   npm run build && flock /tmp/bench.lock node bench/l2-store.mjs [--baseline DIR] [--pairs 10]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis, stop } from './lib/procs.mjs';

const { values: flags } = parseArgs({ options: { baseline: { type: 'string' }, pairs: { type: 'string', default: '10' } } });
const PAIRS = Math.max(1, Number(flags.pairs));
const PRIMARY = '127.0.0.1:8080/b/1000/hot';
setTimeout(() => {
  console.error('l2-store: giving up after 3 minutes');
  process.exit(1);
}, 3 * 60_000).unref();

const redis = await startRedis();
const clock = { now: () => Date.now() };

/** The entry larder makes of the bench origin's answer to /b/1000/hot (route default, no Vary). */
function benchEntry() {
  const t = Date.now();
  const date = new Date(t).toUTCString();
  return {
    v: 1,
    status: 200,
    statusMessage: 'OK',
    headers: { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=3600', date },
    rawHeaders: ['content-type', 'application/octet-stream', 'cache-control', 'max-age=3600', 'date', date, 'content-length', '1000', 'via', '1.1 larder'],
    body: Buffer.alloc(1000, 'x'),
    requestTime: t - 1,
    responseTime: t,
    initialAge: 0,
    lifetime: 3_600_000,
    lifetimeSource: 'max-age',
    freshUntil: t + 3_600_000,
    staleWhileRevalidateUntil: t + 3_600_000,
    staleIfErrorUntil: t + 3_600_000,
    mustRevalidate: false,
    noCache: false,
    authShareable: false,
    varyNames: [],
    varyValues: [],
    tags: [],
    route: 'default',
    size: 0,
    fetchDuration: 1,
  };
}

async function setup(root, prefix) {
  const d = (m) => import(path.resolve(root, 'dist', m));
  const [{ createRedisClient, RedisStore }, { Breaker }, { MemoryStore }, { TieredStore }, codec, { entrySize }] = await Promise.all(
    ['cache/redis-store.js', 'cache/breaker.js', 'cache/memory-store.js', 'cache/tiered-store.js', 'cache/codec.js', 'cache/entry.js'].map(d),
  );
  const client = createRedisClient({ url: redis.url, commandTimeout: 50 });
  await new Promise((r) => client.once('ready', r));
  const store = new RedisStore({ client, prefix, clock, breaker: new Breaker({ clock }) });
  // 1 KB of memory holds no 1000-byte entry: every lookup reads Redis, as in the L2 HIT bench.
  const tiered = new TieredStore(new MemoryStore({ maxSize: 1024, clock }), { clock, maxVariants: 8, keepForRevalidation: 0, maxTtl: 86_400_000, urlRuleTtl: 1000 }, { store, attach() {} });
  const entry = benchEntry();
  entry.size = entrySize(entry);
  await tiered.store(PRIMARY, entry);
  const found = await tiered.lookupShared(PRIMARY, {});
  if (found.entry === undefined || found.tier !== 'redis') throw new Error(`${root}: no L2 hit`);
  const encoded = codec.encode(entry, PRIMARY);
  return {
    label: path.basename(path.resolve(root)),
    client,
    lookup: () => tiered.lookupShared(PRIMARY, {}),
    raw: () => client.getBuffer(`${prefix}raw`),
    decode: () => codec.decode(encoded, PRIMARY),
    async init() {
      await client.set(`${prefix}raw`, encoded, 'PX', 600_000);
    },
  };
}

/** CPU µs per call of `op` with `conc` calls in flight. */
async function perCall(op, n = 100_000, conc = 50) {
  let left = n;
  const worker = async () => {
    while (left-- > 0) await op();
  };
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: conc }, worker));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

function decodeCost(decode, n = 200_000) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) decode();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const targets = [await setup('.', 'larder:')];
if (flags.baseline) targets.push(await setup(flags.baseline, 'baseline:'));
for (const t of targets) {
  await t.init();
  await perCall(t.lookup, 20_000);
  await perCall(t.raw, 20_000);
  decodeCost(t.decode, 50_000);
}
const got = new Map(targets.map((t) => [t, { lookup: [], raw: [], decode: [] }]));
for (let i = 0; i < PAIRS; i++) {
  for (const t of i % 2 === 0 ? targets : [...targets].reverse()) {
    const g = got.get(t);
    g.lookup.push(await perCall(t.lookup));
    g.raw.push(await perCall(t.raw));
    g.decode.push(decodeCost(t.decode));
  }
}
console.log(`node ${process.version}; ${PAIRS} rounds; CPU µs per call, median (range)\n`);
console.log('| code | TieredStore.lookupShared | ioredis getBuffer of the same bytes | codec.decode |');
console.log('|---|---:|---:|---:|');
const cell = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
for (const [t, g] of got) console.log(`| ${t.label} | ${cell(g.lookup)} | ${cell(g.raw)} | ${cell(g.decode)} |`);
if (targets.length === 2) {
  const [a, b] = targets.map((t) => got.get(t));
  const pair = (k) => median(a[k].map((x, i) => x / b[k][i])).toFixed(3);
  console.log(`\n${targets[0].label} ÷ ${targets[1].label}, per round: lookupShared ${pair('lookup')}, decode ${pair('decode')}.`);
}
for (const t of targets) t.client.disconnect();
await stop(redis.child);
process.exit(0);
