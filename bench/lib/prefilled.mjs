// larder with a memory tier filled before it listens, for bench/growth.mjs:
//   node --expose-gc bench/lib/prefilled.mjs PORT KEYS BODY_BYTES
// Builds KEYS entries of BODY_BYTES each exactly as a fill would (createEntry, then the tiered
// store), keyed for requests to http://127.0.0.1:PORT/b/BODY_BYTES/k<i>, measures heap +
// external growth around the fill, then listens and prints one JSON line on stdout.
import { buildConfig } from '../../dist/config/load.js';
import { createLarder } from '../../dist/app.js';
import { benchEntry } from './entries.mjs';

const [port, keys, bodySize] = process.argv.slice(2).map(Number);
const config = buildConfig(
  {
    listen: `127.0.0.1:${port}`,
    // Never contacted: every request is a memory hit.
    origin: 'http://127.0.0.1:9',
    cache: { memory: { maxSize: '6gb', maxEntrySize: '8mb' } },
    log: { level: 'warn' },
  },
  {},
);
const larder = createLarder(config, { defaultMetrics: false });
const used = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
const host = `127.0.0.1:${port}`;
const now = Date.now();
const date = new Date(now).toUTCString();
const before = used();
let headerBytes = 0;
let keyBytes = 0;
for (let i = 0; i < keys; i++) {
  const headers = { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=86400', date };
  const entry = benchEntry(config, headers, bodySize, 97 + (i % 26), now);
  const key = `${host}/b/${bodySize}/k${i}`;
  if (i === 0) for (const h of entry.rawHeaders) headerBytes += h.length;
  keyBytes += key.length;
  larder.store.store(key, entry);
}
const real = used() - before;
await larder.listen(port, '127.0.0.1');
console.log(
  JSON.stringify({
    entries: larder.memory.entries,
    charged: larder.memory.bytes,
    real,
    perEntry: real / keys,
    headerBytes,
    keyBytes: keyBytes / keys,
  }),
);
