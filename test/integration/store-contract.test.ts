import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Breaker } from '../../src/cache/breaker.js';
import { variantKey } from '../../src/cache/key.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { RedisBus } from '../../src/cache/redis-bus.js';
import { createRedisClient, RedisStore } from '../../src/cache/redis-store.js';
import { SharedTier } from '../../src/cache/shared-tier.js';
import type { CacheStore } from '../../src/cache/store.js';
import { TieredStore } from '../../src/cache/tiered-store.js';
import { ManualClock, systemClock } from '../../src/clock.js';
import type { CacheEntry, Clock, StoredValue } from '../../src/types.js';
import { SkippingClock } from '../helpers/clock.js';
import { startRelay, type Relay } from '../helpers/relay.js';
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

/**
 * The tiered store (memory in front of Redis, as `createLarder` builds it) keeps the same
 * promises at the level it offers them: an entry under a primary key, variants selected by
 * the request, deletes (invalidate) and lifetimes, through either tier. Two instances share
 * one Redis, so "through Redis" means read by an instance whose memory never held it.
 */
describe('CacheStore contract: tiered (memory + redis)', () => {
  let server: RedisServer;
  let client: Redis;
  const instances: TieredStore[] = [];
  let n = 0;
  const key = (): string => `tiered.example/${++n}?q=1`;

  const instance = (): TieredStore => {
    const store = new RedisStore({ client, prefix: 'tiered:', clock: systemClock, breaker: new Breaker({ clock: systemClock }) });
    const shared = new SharedTier(store, new RedisBus({ client }), systemClock);
    const memory = new MemoryStore({ maxSize: 10_000_000, clock: systemClock });
    const tiered = new TieredStore(memory, { clock: systemClock, maxVariants: 4, keepForRevalidation: 0, maxTtl: 3_600_000, urlRuleTtl: 5_000 }, shared);
    instances.push(tiered);
    return tiered;
  };

  beforeAll(async () => {
    server = await startRedis();
    client = createRedisClient({ url: server.url, commandTimeout: 500 }) as Redis;
    await waitFor(() => client.status === 'ready', 5000, 'redis client ready');
  });
  afterAll(async () => {
    for (const t of instances) await t.shared?.close();
    client?.disconnect();
    await server?.stop();
  });

  /** An entry fetched just now, useful for `ttl` ms, selected by Accept-Encoding when `encoding` is given. */
  const live = (ttl: number, encoding?: string, overrides: Partial<CacheEntry> = {}): CacheEntry => {
    const now = Date.now();
    return sampleEntry({
      requestTime: now - 5,
      responseTime: now,
      freshUntil: now + ttl,
      staleWhileRevalidateUntil: now + ttl,
      staleIfErrorUntil: now + ttl,
      varyNames: encoding === undefined ? [] : ['accept-encoding'],
      varyValues: encoding === undefined ? [] : [encoding],
      ...overrides,
    });
  };
  const ae = (v: string) => ({ 'accept-encoding': v });

  it('round-trips an entry with a binary body and multi-value headers, through memory and through Redis', async () => {
    const [a, b] = [instance(), instance()];
    const k = key();
    const entry = live(60_000);
    await a.store(k, entry);
    expect(a.lookup(k, {})).toEqual({ entry, tier: 'memory', key: k });
    expect(b.lookup(k, {}).entry).toBeUndefined();
    const got = await b.lookupShared(k, {});
    expect(got.tier).toBe('redis');
    expect(got.entry).toEqual(entry);
    expect(got.entry!.body.equals(ALL_BYTES)).toBe(true);
    expect(got.entry!.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    // The Redis hit was copied into b's memory.
    expect(b.lookup(k, {})).toEqual({ entry, tier: 'memory', key: k });
  });

  it('round-trips variants under one primary key, each selected by its request', async () => {
    const [a, b] = [instance(), instance()];
    const k = key();
    const gzip = live(60_000, 'gzip');
    const br = live(60_000, 'br', { body: Buffer.from('brotli') });
    await a.store(k, gzip);
    await a.store(k, br);
    expect(a.lookup(k, ae('gzip')).entry).toEqual(gzip);
    expect(a.lookup(k, ae('br')).entry).toEqual(br);
    expect((await b.lookupShared(k, ae('gzip'))).entry).toEqual(gzip);
    expect((await b.lookupShared(k, ae('br'))).entry).toEqual(br);
    expect((await b.lookupShared(k, ae('zstd'))).entry).toBeUndefined();
    expect(b.lookup(k, ae('br')).entry).toEqual(br);
  });

  it('returns nothing for a key never stored', async () => {
    const b = instance();
    const k = key();
    expect(b.lookup(k, {})).toEqual({ entry: undefined, tier: undefined, key: k });
    expect(await b.lookupShared(k, {})).toEqual({ entry: undefined, tier: undefined, key: k });
  });

  it('overwrites, in both tiers', async () => {
    const [a, b] = [instance(), instance()];
    const k = key();
    await a.store(k, live(60_000));
    const second = live(60_000, undefined, { status: 404, statusMessage: 'Not Found', body: Buffer.from('gone') });
    await a.store(k, second);
    expect(a.lookup(k, {}).entry).toEqual(second);
    expect((await b.lookupShared(k, {})).entry).toEqual(second);
    // A varying entry replaces a plain one (and the other way round) in both tiers.
    const varied = live(60_000, 'gzip');
    await a.store(k, varied);
    expect(a.lookup(k, {}).entry).toBeUndefined();
    expect((await instance().lookupShared(k, ae('gzip'))).entry).toEqual(varied);
  });

  it('deletes (invalidate) from every tier and from the other instance\'s memory', async () => {
    const [a, b] = [instance(), instance()];
    await Promise.all([a.shared!.ready(2_000), b.shared!.ready(2_000)]);
    const k = key();
    await a.store(k, live(60_000, 'gzip'));
    await a.store(k, live(60_000, 'br'));
    expect((await b.lookupShared(k, ae('gzip'))).tier).toBe('redis');
    expect(await a.invalidate(k)).toBe(3); // the index and both variants, in Redis
    expect(a.lookup(k, ae('gzip')).entry).toBeUndefined();
    expect((await instance().lookupShared(k, ae('br'))).entry).toBeUndefined();
    await waitFor(() => b.lookup(k, ae('gzip')).entry === undefined, 2_000, 'the invalidation to reach b');
    expect(await a.invalidate(key())).toBe(0);
  });

  it('stores nothing for an entry whose useful life is over', async () => {
    const a = instance();
    const k = key();
    await a.store(k, live(0));
    await a.store(k, live(-5));
    expect(a.lookup(k, {}).entry).toBeUndefined();
    expect((await instance().lookupShared(k, {})).entry).toBeUndefined();
  });

  it('expires entries after their useful life, in both tiers', async () => {
    const a = instance();
    const [short, long] = [key(), key()];
    await a.store(short, live(150));
    await a.store(long, live(60_000));
    expect(a.lookup(short, {}).entry).toBeDefined();
    // Redis expires keys on its own clock, so time passes for real here.
    await sleep(350);
    expect(a.lookup(short, {}).entry).toBeUndefined();
    expect((await a.lookupShared(short, {})).entry).toBeUndefined();
    expect(a.lookup(long, {}).entry).toBeDefined();
    expect((await instance().lookupShared(long, {})).entry).toBeDefined();
  });
});

describe('MemoryStore eviction', () => {
  /** Entries of about 1 kB: 256 body bytes, headers and the key. */
  const setup = (maxSize: number) => {
    const clock = new ManualClock();
    const evicted: StoredValue[] = [];
    const store = new MemoryStore({ maxSize, clock, onEvict: (v) => evicted.push(v) });
    return { store, evicted };
  };
  const e = (i: number): CacheEntry => sampleEntry({ status: 200 + i });

  it('stays within maxSize bytes, pushing out the least recently used entry first', () => {
    const size = e(0).size + 2 * 'k0'.length;
    const { store, evicted } = setup(size * 3);
    for (const i of [0, 1, 2]) store.set(`k${i}`, e(i), 60_000);
    expect([store.entries, store.bytes]).toEqual([3, size * 3]);
    expect(store.get('k0')).toBeDefined(); // k0 is now the most recently used; k1 the least
    store.set('k3', e(3), 60_000);
    expect([...store.keys()].sort()).toEqual(['k0', 'k2', 'k3']);
    expect(evicted.map((v) => (v as CacheEntry).status)).toEqual([201]);
    expect(store.bytes).toBeLessThanOrEqual(size * 3);
    // peek reads without refreshing recency: k2 is still the next to go.
    store.peek('k2');
    store.set('k4', e(4), 60_000);
    expect([...store.keys()].sort()).toEqual(['k0', 'k3', 'k4']);
  });

  it('makes room for a large entry by evicting as many as needed', () => {
    const size = e(0).size + 4;
    const { store, evicted } = setup(size * 4);
    for (const i of [0, 1, 2, 3]) store.set(`k${i}`, e(i), 60_000);
    const big = sampleEntry({ body: Buffer.alloc(2 * size) });
    store.set('kb', big, 60_000);
    expect(store.get('kb')).toBe(big);
    expect(store.bytes).toBeLessThanOrEqual(size * 4);
    expect(evicted.map((v) => (v as CacheEntry).status)).toEqual([200, 201, 202]);
    expect([...store.keys()].sort()).toEqual(['k3', 'kb']);
  });

  it('does not hold an entry larger than the whole tier, and says so beforehand', () => {
    const { store, evicted } = setup(4_000);
    store.set('small', e(0), 60_000);
    const huge = sampleEntry({ body: Buffer.alloc(5_000) });
    expect(store.accepts(huge.size)).toBe(false);
    expect(store.accepts(e(0).size)).toBe(true);
    store.set('huge', huge, 60_000);
    expect(store.get('huge')).toBeUndefined();
    expect(store.get('small')).toBeDefined();
    expect(evicted).toEqual([]);
  });

  it('counts expiry and deletes apart from evictions', () => {
    const clock = new ManualClock();
    const evicted: StoredValue[] = [];
    const store = new MemoryStore({ maxSize: 1_000_000, clock, onEvict: (v) => evicted.push(v) });
    store.set('a', e(0), 100);
    store.set('b', e(1), 60_000);
    store.delete('b');
    clock.advance(101);
    expect(store.get('a')).toBeUndefined();
    expect([store.entries, store.bytes, evicted.length]).toEqual([0, 0, 0]);
  });
});

/**
 * "Never throws": every operation of the Redis store, the shared tier and the tiered store
 * resolves (to a miss, a dropped write, or "unavailable") within about the command timeout
 * when Redis fails in the middle of the call: silence, lost replies, a cut connection, a
 * killed server. Faults are made on real sockets by a TCP relay in front of a real Redis.
 */
describe('never throws: Redis failing mid-call', () => {
  const TIMEOUT = 50;
  let server: RedisServer;
  let relay: Relay;
  let client: Redis;
  const clock = new SkippingClock();
  const shareds: SharedTier[] = [];

  beforeAll(async () => {
    server = await startRedis();
    relay = await startRelay(server.port);
    client = createRedisClient({ url: relay.url, commandTimeout: TIMEOUT }) as Redis;
    await waitFor(() => client.status === 'ready', 5000, 'redis client ready');
  });
  afterAll(async () => {
    for (const s of shareds) await s.close();
    client?.disconnect();
    await relay?.close();
    await server?.stop();
  });

  /** A store whose breaker never opens here, so that every call really goes to the socket. */
  const subjects = (breaker = new Breaker({ clock, threshold: 1_000_000 }), via: Redis = client) => {
    const errors: string[] = [];
    const store = new RedisStore({ client: via, prefix: 'fault:', clock, breaker, onError: (op) => errors.push(op) });
    const shared = new SharedTier(store, new RedisBus({ client: via }), clock);
    shareds.push(shared);
    const memory = new MemoryStore({ maxSize: 10_000_000, clock });
    const tiered = new TieredStore(memory, { clock, maxVariants: 4, keepForRevalidation: 0, maxTtl: 3_600_000, urlRuleTtl: 5_000 }, shared);
    return { store, shared, tiered, errors, breaker };
  };

  const fresh = (c: Clock, encoding?: string): CacheEntry => {
    const now = c.now();
    return sampleEntry({
      requestTime: now - 5,
      responseTime: now,
      freshUntil: now + 60_000,
      staleWhileRevalidateUntil: now + 60_000,
      staleIfErrorUntil: now + 60_000,
      varyNames: encoding === undefined ? [] : ['accept-encoding'],
      varyValues: encoding === undefined ? [] : [encoding],
    });
  };

  /**
   * Every operation at once, each with the answer a fault must give. Resolves to the
   * operations that rejected, answered otherwise, or took longer than `bound` ms.
   */
  async function everyCall(s: ReturnType<typeof subjects>, bound: number): Promise<string[]> {
    const k = `shop.test/${Math.random()}`;
    const calls: Array<[string, () => Promise<unknown>, (v: unknown) => boolean]> = [
      ['get', () => s.store.get(k), (v) => v === undefined],
      ['set', () => s.store.set(k, sampleEntry(), 60_000), (v) => v === undefined],
      ['delete', () => s.store.delete(k), (v) => v === undefined],
      ['storeEntry', () => s.store.storeEntry(k, fresh(clock), 60_000), (v) => v === undefined],
      ['storeVariant', () => s.store.storeVariant(k, 'v1', fresh(clock, 'gzip'), 60_000, 4), (v) => v === undefined],
      ['deletePrimary', () => s.store.deletePrimary(k), (v) => v === 0],
      ['tryLease', () => s.store.tryLease(k, 'me', 1_000), (v) => (v as { result: string }).result === 'unavailable'],
      ['renew', () => s.store.renew(k, 'me', 1_000), (v) => v === false],
      ['lock', () => s.store.lock(k, 'me', 1_000), (v) => v === true],
      ['unlock', () => s.store.unlock(k, 'me'), (v) => v === false],
      ['savePurgeRules', () => s.store.savePurgeRules([{ json: '{}', until: clock.now() + 1_000 }], 1_000), (v) => v === false],
      ['loadPurgeRules', () => s.store.loadPurgeRules(clock.now()), (v) => Array.isArray(v) && v.length === 0],
      ['shared.announceFilled', () => s.shared.announceFilled(k), (v) => v === false],
      ['shared.loadRules', () => s.shared.loadRules(), (v) => v === undefined],
      ['tiered.lookupShared', () => s.tiered.lookupShared(k, {}), (v) => (v as { entry: unknown }).entry === undefined],
      ['tiered.store', () => s.tiered.store(`${k}/t`, fresh(clock, 'br')), (v) => v === undefined],
      ['tiered.invalidate', () => s.tiered.invalidate(`${k}/t`), (v) => v === 1],
      ['tiered.purgeUrl', () => s.tiered.purgeUrl(`${k}/u`, false), (v) => v === 0],
      ['tiered.purgeRule', () => s.tiered.purgeRule(s.tiered.rule('tag', 'x', true)), (v) => v === 0],
    ];
    const t0 = performance.now();
    const results = await Promise.all(
      calls.map(async ([name, call, ok]) => {
        try {
          const v = await call();
          const ms = performance.now() - t0;
          if (!ok(v)) return `${name}: answered ${JSON.stringify(v)}`;
          return ms > bound ? `${name}: took ${Math.round(ms)} ms` : undefined;
        } catch (err) {
          return `${name}: threw ${String(err)}`;
        }
      }),
    );
    return results.filter((r): r is string => r !== undefined);
  }

  /** Back to a healthy, freshly connected relay (replies lost to a fault would desynchronise the old connection). */
  async function heal(): Promise<void> {
    relay.blackhole = false;
    relay.delay = 0;
    relay.cut();
    await waitFor(() => client.status !== 'ready', 2_000, 'the client to notice the cut');
    await waitFor(() => client.status === 'ready', 5_000, 'the client to reconnect');
  }

  it('Redis silent (every packet dropped)', async () => {
    const s = subjects();
    relay.blackhole = 'both';
    // A few calls are two or three commands in a row, each bounded by the timeout.
    expect(await everyCall(s, 6 * TIMEOUT + 200)).toEqual([]);
    expect(s.errors.length).toBeGreaterThan(0);
    await heal();
  });

  it('replies lost (commands run, answers dropped)', async () => {
    const s = subjects();
    relay.blackhole = 'replies';
    expect(await everyCall(s, 6 * TIMEOUT + 200)).toEqual([]);
    expect(s.errors.length).toBeGreaterThan(0);
    await heal();
  });

  it('connection cut while the commands are in flight', async () => {
    const s = subjects();
    relay.delay = 60;
    const running = everyCall(s, 6 * TIMEOUT + 200);
    await sleep(20);
    relay.cut();
    expect(await running).toEqual([]);
    expect(s.errors.length).toBeGreaterThan(0);
    await heal();
  });

  it('server killed while the commands are in flight, then back: the store works again once the breaker lets it', async () => {
    // A long command timeout on this client: the calls must end because the connection died,
    // well before any of them could time out.
    const patient = createRedisClient({ url: relay.url, commandTimeout: 2_000 }) as Redis;
    try {
      await waitFor(() => patient.status === 'ready', 5000, 'redis client ready');
      const breaker = new Breaker({ clock, threshold: 3, coolDown: 60_000 });
      const s = subjects(breaker, patient);
      relay.delay = 40;
      const running = everyCall(s, 1_000);
      await server.kill();
      expect(await running).toEqual([]);
      expect(breaker.state).toBe('open');
      // While the breaker is open, every call answers at once (well within this client's
      // 2 s command timeout): the store skips Redis, and publishes fail fast while it is down.
      expect(await everyCall(s, 500)).toEqual([]);
      await server.restart();
      relay.delay = 0;
      await waitFor(() => patient.status === 'ready', 5_000, 'the client to reconnect');
      const k = 'shop.test/after-restart';
      await s.store.set(k, sampleEntry(), 60_000);
      expect(await s.store.get(k)).toBeUndefined(); // still skipped: the cool-down has not passed
      clock.advance(60_000); // the breaker's clock, not the wall clock, decides the cool-down
      await s.store.set(k, sampleEntry(), 60_000);
      expect(breaker.state).toBe('closed');
      expect(await s.store.get(k)).toEqual(sampleEntry());
    } finally {
      patient.disconnect();
    }
  });
});
