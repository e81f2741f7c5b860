import { describe, expect, it } from 'vitest';
import { variantKey } from '../../../src/cache/key.js';
import { MemoryStore } from '../../../src/cache/memory-store.js';
import { TieredStore, type TieredStoreOptions } from '../../../src/cache/tiered-store.js';
import { ManualClock } from '../../../src/clock.js';
import { variantId } from '../../../src/rfc9111/index.js';
import { isVaryIndex, type CacheEntry } from '../../../src/types.js';
import { sampleEntry } from './entries.js';

/** The memory tier alone (no shared tier, no peers): the variant logic, lifetimes and purges. */
function setup(opts: Partial<TieredStoreOptions> = {}) {
  const clock = new ManualClock();
  const memory = new MemoryStore({ maxSize: 10_000_000, clock });
  const store = new TieredStore(memory, {
    clock,
    maxVariants: 3,
    keepForRevalidation: 0,
    maxTtl: 3_600_000,
    urlRuleTtl: 5_000,
    ...opts,
  });
  return { clock, memory, store };
}

/**
 * An entry fetched just now, fresh for `ttl` ms with no stale windows, selected by
 * Accept-Encoding `encoding` (or not varying when undefined).
 */
function live(clock: ManualClock, encoding: string | undefined, ttl = 60_000, overrides: Partial<CacheEntry> = {}): CacheEntry {
  const now = clock.now();
  return sampleEntry({
    requestTime: now - 5,
    responseTime: now,
    lifetime: ttl,
    freshUntil: now + ttl,
    staleWhileRevalidateUntil: now + ttl,
    staleIfErrorUntil: now + ttl,
    varyNames: encoding === undefined ? [] : ['accept-encoding'],
    varyValues: encoding === undefined ? [] : [encoding],
    body: Buffer.from(`body ${encoding ?? 'plain'}`),
    ...overrides,
  });
}

const P = 'shop.test/item?id=1';
const ae = (v: string) => ({ 'accept-encoding': v });

describe('TieredStore (memory only)', () => {
  it('misses on an empty cache, then answers a stored entry from memory under its primary key', () => {
    const { clock, store } = setup();
    expect(store.lookup(P, {})).toEqual({ entry: undefined, tier: undefined, key: P });
    const e = live(clock, undefined);
    void store.store(P, e);
    expect(store.lookup(P, {})).toEqual({ entry: e, tier: 'memory', key: P });
  });

  it('selects the variant a request asks for, and reports the variant key even on a miss', async () => {
    const { clock, store } = setup();
    const gzip = live(clock, 'gzip');
    const br = live(clock, 'br');
    await store.store(P, gzip);
    await store.store(P, br);
    expect(store.lookup(P, ae('gzip'))).toEqual({ entry: gzip, tier: 'memory', key: variantKey(P, variantId(['gzip'])) });
    expect(store.lookup(P, ae('br')).entry).toBe(br);
    const miss = store.lookup(P, ae('zstd'));
    expect(miss).toEqual({ entry: undefined, tier: undefined, key: variantKey(P, variantId(['zstd'])) });
  });

  it('keeps at most maxVariants variants, dropping the oldest from memory', async () => {
    const { clock, memory, store } = setup({ maxVariants: 3 });
    for (const enc of ['a', 'b', 'c', 'd']) await store.store(P, live(clock, enc));
    expect(store.lookup(P, ae('a')).entry).toBeUndefined();
    expect(memory.get(variantKey(P, variantId(['a'])))).toBeUndefined();
    for (const enc of ['b', 'c', 'd']) expect(store.lookup(P, ae(enc)).entry?.varyValues).toEqual([enc]);
    const index = memory.get(P);
    expect(isVaryIndex(index!) && index.variants).toEqual(['b', 'c', 'd'].map((v) => variantId([v])));
    // Storing a listed variant again moves it to the newest place instead of adding it.
    await store.store(P, live(clock, 'b'));
    await store.store(P, live(clock, 'e'));
    expect(store.lookup(P, ae('c')).entry).toBeUndefined();
    expect(store.lookup(P, ae('b')).entry).toBeDefined();
  });

  it('replaces an index on other fields, and a non-varying entry replaces every variant', async () => {
    const { clock, memory, store } = setup();
    await store.store(P, live(clock, 'gzip'));
    const lang = live(clock, undefined, 60_000, { varyNames: ['accept-language'], varyValues: ['fr'] });
    await store.store(P, lang);
    expect(store.lookup(P, ae('gzip')).entry).toBeUndefined();
    expect(memory.get(variantKey(P, variantId(['gzip'])))).toBeUndefined();
    expect(store.lookup(P, { 'accept-language': 'FR' }).entry).toBe(lang);
    const plain = live(clock, undefined);
    await store.store(P, plain);
    expect(store.lookup(P, { 'accept-language': 'fr' }).entry).toBe(plain);
    expect(memory.get(variantKey(P, variantId(['fr'])))).toBeUndefined();
    expect(memory.entries).toBe(1);
  });

  it('keeps an entry as long as it is useful: its stale windows, plus keepForRevalidation with a validator, at most maxTtl', async () => {
    const { clock, store } = setup({ keepForRevalidation: 10_000, maxTtl: 100_000 });
    await store.store('a.test/no-validator', live(clock, undefined, 1_000, { staleIfErrorUntil: clock.now() + 3_000, etag: undefined }));
    await store.store('a.test/validator', live(clock, undefined, 1_000));
    await store.store('a.test/long', live(clock, undefined, 10_000_000));
    clock.advance(2_999);
    expect(store.lookup('a.test/no-validator', {}).entry).toBeDefined();
    clock.advance(2);
    expect(store.lookup('a.test/no-validator', {}).entry).toBeUndefined();
    expect(store.lookup('a.test/validator', {}).entry).toBeDefined();
    clock.advance(8_000);
    expect(store.lookup('a.test/validator', {}).entry).toBeUndefined();
    expect(store.lookup('a.test/long', {}).entry).toBeDefined();
    clock.advance(100_000);
    expect(store.lookup('a.test/long', {}).entry).toBeUndefined();
  });

  it('does not store an entry that is of no use any more', async () => {
    const { clock, memory, store } = setup();
    const old = live(clock, undefined, 1_000);
    clock.advance(1_000);
    await store.store(P, old);
    store.storeLocal(P, old);
    expect(memory.entries).toBe(0);
  });

  it('invalidate removes the primary key and every variant, and counts them', async () => {
    const { clock, memory, store } = setup();
    for (const enc of ['a', 'b']) await store.store(P, live(clock, enc));
    await store.store('shop.test/other', live(clock, undefined));
    expect(await store.invalidate(P)).toBe(2);
    expect(store.lookup(P, ae('a')).entry).toBeUndefined();
    expect([...memory.keys()]).toEqual(['shop.test/other']);
    expect(await store.invalidate(P)).toBe(0);
    expect(await store.invalidate('shop.test/other')).toBe(1);
  });

  it('a hard URL purge removes the entry and makes a fill that was already under way lose', async () => {
    const { clock, store } = setup({ urlRuleTtl: 5_000 });
    const inflight = live(clock, 'gzip'); // requested before the purge
    await store.store(P, live(clock, 'gzip'));
    clock.advance(10);
    expect(await store.purgeUrl(P, false)).toBe(1);
    expect(store.lookup(P, ae('gzip')).entry).toBeUndefined();
    await store.store(P, inflight);
    expect(store.lookup(P, ae('gzip')).entry).toBeUndefined();
    clock.advance(10); // requested after the purge
    const after = live(clock, 'gzip');
    await store.store(P, after);
    expect(store.lookup(P, ae('gzip')).entry).toBe(after);
  });

  it('a soft URL purge marks the entry stale from the purge on, keeping it', async () => {
    const { clock, store } = setup();
    const e = live(clock, undefined, 60_000);
    await store.store(P, e);
    clock.advance(100);
    expect(await store.purgeUrl(P, true)).toBe(1);
    const got = store.lookup(P, {}).entry!;
    expect(got.freshUntil).toBe(clock.now());
    expect(got.body.equals(e.body)).toBe(true);
    expect(got.staleWhileRevalidateUntil - got.freshUntil).toBe(e.staleWhileRevalidateUntil - e.freshUntil);
  });

  it('prefix, path and tag purges sweep memory, and apply to what is read later', async () => {
    const { clock, memory, store } = setup();
    await store.store('a.test/docs/1', live(clock, undefined));
    await store.store('b.test/docs/2', live(clock, 'gzip'));
    await store.store('a.test/img/1', live(clock, undefined, 60_000, { tags: ['img'] }));
    await store.store('a.test/keep', live(clock, undefined, 60_000, { tags: [] }));
    clock.advance(10);
    expect(await store.purgeRule(store.rule('prefix', '/docs/', false))).toBe(2);
    expect(store.lookup('a.test/docs/1', {}).entry).toBeUndefined();
    expect(store.lookup('b.test/docs/2', ae('gzip')).entry).toBeUndefined();
    expect(await store.purgeRule(store.rule('tag', 'img', true))).toBe(1);
    expect(store.lookup('a.test/img/1', {}).entry?.freshUntil).toBe(clock.now());
    expect(await store.purgeRules([store.rule('path', '/keep', false), store.rule('tag', 'nothing', false)])).toBe(1);
    expect(store.lookup('a.test/keep', {}).entry).toBeUndefined();
    expect(await store.purgeRules([])).toBe(0);
    // Soft-purged entries stay in memory; hard-purged ones are gone (the vary index alone may remain).
    expect([...memory.keys()].filter((k) => !k.includes('docs/2'))).toEqual(['a.test/img/1']);
    expect(store.rules.counts()).toEqual({ url: 0, path: 1, prefix: 1, tag: 2 });
  });

  it('has no shared tier: lookupShared misses without touching memory', async () => {
    const { clock, store } = setup();
    await store.store(P, live(clock, undefined));
    expect(await store.lookupShared(P, {})).toEqual({ entry: undefined, tier: undefined, key: P });
    expect(store.shared).toBeUndefined();
    expect(store.peers).toBeUndefined();
  });

  describe('storeThen and charge (compressed entries, copies in other codings)', () => {
    it('holds the first entry at once and the replacement when it is ready, variants included', async () => {
      const { clock, store } = setup();
      for (const encoding of [undefined, 'br']) {
        const first = live(clock, encoding);
        const second = { ...first, body: Buffer.from('smaller') };
        let ready!: (e: CacheEntry) => void;
        const done = store.storeThen(P, first, 0, new Promise<CacheEntry>((r) => (ready = r)));
        const h = encoding === undefined ? {} : ae(encoding);
        expect(store.lookup(P, h).entry).toBe(first);
        ready(second);
        await done;
        expect(store.lookup(P, h).entry).toBe(second);
      }
    });

    it('a purge or a newer entry stored meanwhile wins over the replacement', async () => {
      const { clock, store } = setup();
      const first = live(clock, undefined);
      let ready!: (e: CacheEntry) => void;
      const done = store.storeThen(P, first, 0, new Promise<CacheEntry>((r) => (ready = r)));
      store.invalidateLocal(P);
      ready({ ...first });
      await done;
      expect(store.lookup(P, {}).entry).toBeUndefined();
      const again = live(clock, undefined);
      const later = store.storeThen(P, again, 0, new Promise<CacheEntry>((r) => (ready = r)));
      const newer = live(clock, undefined);
      await store.store(P, newer);
      ready({ ...again });
      await later;
      expect(store.lookup(P, {}).entry).toBe(newer);
    });

    it('charge adds to what memory counts for the entry it still holds, and refuses otherwise', async () => {
      const { clock, memory, store } = setup();
      const e = live(clock, 'gzip');
      await store.store(P, e);
      const before = memory.bytes;
      expect(store.charge(P, e, 5_000)).toBe(true);
      expect(memory.bytes).toBe(before + 5_000);
      expect(store.lookup(P, ae('gzip')).entry).toBe(e);
      expect(store.charge(P, { ...e }, 5_000)).toBe(false);
      expect(store.charge(P, e, 20_000_000)).toBe(false);
      expect(memory.bytes).toBe(before + 5_000);
    });
  });
});

describe('TieredStore.lookupSharedThen', () => {
  it('without a shared tier: a miss, handed over after the call returns; what done throws goes to failed', async () => {
    const { store } = setup();
    const seen: string[] = [];
    const failures: unknown[] = [];
    store.lookupSharedThen(
      'example.com/x',
      {},
      (found) => {
        seen.push(`done ${String(found.entry)} ${found.key}`);
        throw new Error('boom');
      },
      (err) => failures.push(err),
    );
    seen.push('returned');
    await new Promise((r) => setTimeout(r, 0));
    expect(seen).toEqual(['returned', 'done undefined example.com/x']);
    expect(failures).toHaveLength(1);
    expect((failures[0] as Error).message).toBe('boom');
    // The promise form resolves to the same.
    expect(await store.lookupShared('example.com/x', {})).toEqual({ entry: undefined, tier: undefined, key: 'example.com/x' });
  });
});
