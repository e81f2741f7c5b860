import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Breaker } from '../../src/cache/breaker.js';
import { variantKey } from '../../src/cache/key.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { createRedisClient, RedisStore } from '../../src/cache/redis-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { ManualClock, systemClock } from '../../src/clock.js';
import type { CacheEntry } from '../../src/types.js';
import { sleep, startRedis, waitFor, type RedisServer } from '../helpers/redis.js';
import { ALL_BYTES, sampleEntry, sampleIndex } from '../unit/cache/entries.js';

/** What the contract needs besides the store: a way to let `ms` of store time pass. */
interface Harness {
  store: CacheStore;
  elapse(ms: number): Promise<void>;
}

/**
 * The one behaviour every CacheStore must show. TTLs are short so that a store on real
 * time (Redis expires keys itself) passes without slowing the suite much.
 */
function storeContract(name: string, makeStore: () => Promise<Harness> | Harness): void {
  describe(`CacheStore contract: ${name}`, () => {
    let h: Harness;
    let n = 0;
    /** A fresh key per test, so tests never see each other's values. */
    const key = (): string => `${name}.example/${++n}?q=1`;

    beforeAll(async () => {
      h = await makeStore();
    });

    it('round-trips an entry with a binary body and multi-value headers', async () => {
      const k = key();
      const entry = sampleEntry();
      await h.store.set(k, entry, 60_000);
      const got = (await h.store.get(k)) as CacheEntry;
      expect(got).toEqual(entry);
      expect(got.body.equals(ALL_BYTES)).toBe(true);
      expect(got.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    });

    it('round-trips a vary index and its variants under separate keys', async () => {
      const k = key();
      const index = sampleIndex(['v1', 'v2']);
      const a = sampleEntry({ varyValues: ['gzip'] });
      const b = sampleEntry({ varyValues: ['br'], body: Buffer.from('brotli') });
      await h.store.set(k, index, 60_000);
      await h.store.set(variantKey(k, 'v1'), a, 60_000);
      await h.store.set(variantKey(k, 'v2'), b, 60_000);
      expect(await h.store.get(k)).toEqual(index);
      expect(await h.store.get(variantKey(k, 'v1'))).toEqual(a);
      expect(await h.store.get(variantKey(k, 'v2'))).toEqual(b);
    });

    it('returns undefined for a key never stored', async () => {
      expect(await h.store.get(key())).toBeUndefined();
      expect(await h.store.get(variantKey(key(), 'nope'))).toBeUndefined();
    });

    it('overwrites', async () => {
      const k = key();
      await h.store.set(k, sampleEntry({ status: 200 }), 60_000);
      const second = sampleEntry({ status: 404, statusMessage: 'Not Found', body: Buffer.from('gone') });
      await h.store.set(k, second, 60_000);
      expect(await h.store.get(k)).toEqual(second);
      await h.store.set(k, sampleIndex(), 60_000);
      expect(await h.store.get(k)).toEqual(sampleIndex());
    });

    it('deletes', async () => {
      const k = key();
      await h.store.set(k, sampleEntry(), 60_000);
      await h.store.delete(k);
      expect(await h.store.get(k)).toBeUndefined();
      await h.store.delete(key());
    });

    it('treats a TTL of zero or less as a delete', async () => {
      const k = key();
      await h.store.set(k, sampleEntry(), 60_000);
      await h.store.set(k, sampleEntry(), 0);
      expect(await h.store.get(k)).toBeUndefined();
      await h.store.set(k, sampleEntry(), -5);
      expect(await h.store.get(k)).toBeUndefined();
    });

    it('expires values after their TTL', async () => {
      const short = key();
      const long = key();
      await h.store.set(short, sampleEntry(), 150);
      await h.store.set(long, sampleEntry(), 60_000);
      expect(await h.store.get(short)).toBeDefined();
      await h.elapse(350);
      expect(await h.store.get(short)).toBeUndefined();
      expect(await h.store.get(long)).toBeDefined();
    });
  });
}

storeContract('memory', () => {
  const clock = new ManualClock();
  return {
    store: new MemoryStore({ maxSize: 10_000_000, clock }),
    elapse: async (ms) => clock.advance(ms),
  };
});

let server: RedisServer | undefined;
let client: Redis | undefined;

storeContract('redis', async () => {
  server = await startRedis();
  client = createRedisClient({ url: server.url, commandTimeout: 500 }) as Redis;
  await waitFor(() => client!.status === 'ready', 5000, 'redis client ready');
  const errors: unknown[] = [];
  const store = new RedisStore({
    client,
    prefix: 'contract:',
    clock: systemClock,
    breaker: new Breaker({ clock: systemClock }),
    onError: (_op, err) => errors.push(err),
  });
  // Redis expires keys on its own clock, so the contract's time passes for real here.
  return { store, elapse: (ms) => sleep(ms) };
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});
