// Measures what the memory tier really holds against what it charges itself for:
// stores N entries of a given body size, then compares heap + external growth with
// the tier's own byte count and with the configured maxSize.
//
//   npm run build && node --expose-gc bench/memory.mjs [--entries 100000] [--body 1024] [--max-size 256mb]
import { parseArgs } from 'node:util';
import { buildConfig } from '../dist/config/load.js';
import { benchEntry } from './lib/entries.mjs';
import { MemoryStore } from '../dist/cache/memory-store.js';
import { TieredStore } from '../dist/cache/tiered-store.js';

if (typeof globalThis.gc !== 'function') {
  console.error('run with: node --expose-gc bench/memory.mjs');
  process.exit(2);
}
const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    body: { type: 'string', default: '1024' },
    'max-size': { type: 'string', default: '256mb' },
  },
});
const n = Number(values.entries);
const bodySize = Number(values.body);
const config = buildConfig({ origin: 'http://127.0.0.1:3000', cache: { memory: { maxSize: values['max-size'], maxEntrySize: '8mb' } } });
const clock = { now: () => Date.now() };

const used = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const memory = new MemoryStore({ maxSize: config.cache.memory.maxSize, clock });
const store = new TieredStore(memory, { clock, maxVariants: 16, keepForRevalidation: 3_600_000, maxTtl: config.cache.maxTtl, urlRuleTtl: 65_000 });
const before = used();
const now = Date.now();
for (let i = 0; i < n; i++) {
  const headers = {
    'content-type': 'application/json',
    'cache-control': 'max-age=3600',
    date: new Date(now).toUTCString(),
    etag: `"${i.toString(16).padStart(8, '0')}"`,
  };
  const entry = benchEntry(config, headers, bodySize, 97 + (i % 26), now);
  store.store(`bench.example/api/items/${i}?page=1`, entry);
}
const after = used();
const real = after - before;
const charged = memory.bytes;
const mb = (b) => (b / 1048576).toFixed(1) + ' MiB';
console.log(`entries stored:        ${memory.entries} of ${n} (body ${bodySize} B)`);
console.log(`configured maxSize:    ${mb(config.cache.memory.maxSize)}`);
console.log(`charged by the tier:   ${mb(charged)} (${(charged / memory.entries).toFixed(0)} B/entry)`);
console.log(`heap+external growth:  ${mb(real)} (${(real / memory.entries).toFixed(0)} B/entry)`);
console.log(`real / charged:        ${(real / charged).toFixed(3)}`);
console.log(`real / maxSize:        ${(real / config.cache.memory.maxSize).toFixed(3)}`);
