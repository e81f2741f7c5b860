import { ownBody } from './codec.js';
import type { CacheEntry, Clock, RequestInfo, StoredValue, Tier, VaryIndex } from '../types.js';
import { isVaryIndex } from '../types.js';
import { variantId, varyValues } from '../rfc9111/index.js';
import { usefulUntil } from './entry.js';
import { VARIANT_SEPARATOR, variantKey } from './key.js';
import { markedStale, PurgeRules, RULE_SLICE, turn, type PurgeRule } from './purge-rules.js';
import { jitterOffset } from './refresh-ahead.js';
import type { MemoryStore } from './memory-store.js';
import type { SharedTier } from './shared-tier.js';
import type { Peers } from './peers.js';

export interface Lookup {
  entry: CacheEntry | undefined;
  tier: Tier | undefined;
  /**
   * The key this request's response lives (or would live) under: the primary key, or the
   * variant key when a vary index is known. Coalescing uses it, so requests that select
   * different variants never wait for each other.
   */
  key: string;
}

export interface TieredStoreOptions {
  clock: Clock;
  /** Most variants kept per primary key. */
  maxVariants: number;
  /** How long an entry with a validator is kept after its stale windows, for conditional refreshes (ms). */
  keepForRevalidation: number;
  /** No entry is kept longer than this (ms); purge rules live this long. */
  maxTtl: number;
  /** How long a hard URL purge keeps winning over fills that were already under way (ms). */
  urlRuleTtl: number;
}

/** Memory keys a purge sweep looks at between two turns of the event loop. */
const SWEEP_SLICE = 2_000;

/** Reads one tier: synchronous for memory, a promise for Redis. */
type Get = (key: string) => StoredValue | undefined | Promise<StoredValue | undefined>;

/**
 * The cache as the request path sees it: variant selection over the tiers.
 *
 * A primary key holds either the entry itself (the response does not vary) or a vary
 * index naming the request fields that select a variant; variants live under
 * primary + separator + variantId, and only the ids the index lists are ever read, so a
 * variant left behind by a lost index update can never be served. Route key headers are
 * treated as Vary fields, so a URL purge removes every variant however it was selected.
 *
 * Memory is read synchronously (a hit costs no promise hop); the shared tier, when there
 * is one, is read after a memory miss and backfills memory with the remaining lifetime.
 * Writes reach memory at once and the shared tier in the background.
 */
export class TieredStore {
  /** Purges that are applied when entries are read (prefix, path, tag, soft, in-flight fills). */
  readonly rules = new PurgeRules();

  /** Whom fills, invalidations and purges are coordinated with: the shared tier, or worker IPC. */
  readonly peers: Peers | undefined;

  constructor(
    readonly memory: MemoryStore,
    private readonly opts: TieredStoreOptions,
    readonly shared?: SharedTier,
    peers?: Peers,
  ) {
    this.peers = shared ?? peers;
    this.peers?.attach({
      storeFromPeer: (primary, entry) => {
        // A fill handed over late never replaces a response this process received after it.
        if (!this.holdsNewer(primary, entry)) this.storeLocal(primary, entry);
      },
      invalidateLocal: (primary) => this.invalidateLocal(primary),
      clearLocal: () => this.memory.clear(),
      applyRules: (rules) => {
        // Peers send large purges in slices of RULE_SLICE; a batch loaded at start is added whole.
        this.rules.add(rules);
        void this.sweep(rules);
      },
    });
  }

  /** Whether memory holds, at `entry`'s key, a response received after `entry`'s. */
  private holdsNewer(primary: string, entry: CacheEntry): boolean {
    const key = entry.varyNames.length === 0 ? primary : variantKey(primary, variantId(entry.varyValues));
    const held = this.memory.get(key);
    return held !== undefined && !isVaryIndex(held) && held.responseTime > entry.responseTime;
  }

  /** Memory-tier lookup; synchronous so that a hit costs no promise hop. */
  lookup(primary: string, headers: RequestInfo['headers']): Lookup {
    const value = this.memory.get(primary);
    if (value === undefined) return { entry: undefined, tier: undefined, key: primary };
    if (!isVaryIndex(value)) {
      const entry = this.rules.active ? this.screen(primary, primary, value) : value;
      return { entry, tier: entry === undefined ? undefined : 'memory', key: primary };
    }
    const id = variantId(varyValues(value.varyNames, headers));
    const key = variantKey(primary, id);
    const found = value.variants.includes(id) ? this.memory.get(key) : undefined;
    const entry = found === undefined || isVaryIndex(found) ? undefined : this.rules.active ? this.screen(primary, key, found) : found;
    return { entry, tier: entry === undefined ? undefined : 'memory', key };
  }

  /** Applies the purge rules to an entry read from memory: gone, marked stale, or as it is. */
  private screen(primary: string, key: string, entry: CacheEntry): CacheEntry | undefined {
    const verdict = this.rules.check(entry, primary);
    if (verdict === 'ok') return entry;
    if (verdict === 'hard') {
      this.memory.delete(key);
      return undefined;
    }
    return markedStale(entry, this.rules.softAt(entry, primary));
  }

  /**
   * Shared-tier lookup after a memory miss; a hit is copied into memory unless `backfill` is
   * false (a look that must change nothing, such as /explain). Never rejects.
   */
  lookupShared(primary: string, headers: RequestInfo['headers'], backfill = true): Promise<Lookup> {
    return new Promise((resolve, reject) => this.lookupSharedThen(primary, headers, resolve, reject, backfill));
  }

  /**
   * lookupShared for the request path: the result goes to `done` as the read settles, not
   * through a promise of its own (every L2 hit's path, and each layer of promises costs an
   * allocation and a turn of the microtask queue). `failed` gets what `done` (or the lookup)
   * throws; `done` runs at most once, and not before this returns.
   */
  lookupSharedThen(primary: string, headers: RequestInfo['headers'], done: (found: Lookup) => void, failed: (err: unknown) => void, backfill = true): void {
    const store = this.shared?.store;
    if (store === undefined) {
      queueMicrotask(() => settle(done, failed, { entry: undefined, tier: undefined, key: primary }));
      return;
    }
    store.get(primary).then((value) => {
      if (value === undefined || !isVaryIndex(value)) {
        let found: Lookup;
        try {
          found = value === undefined ? { entry: undefined, tier: undefined, key: primary } : this.sharedFound(primary, value, primary, undefined, backfill);
        } catch (err) {
          return failed(err);
        }
        return settle(done, failed, found);
      }
      selectVariant(primary, headers, (k) => store.get(k), value).then(
        (found) => settle(done, failed, found.entry === undefined ? found : this.sharedFound(primary, found.entry, found.key, found.index, backfill)),
        failed,
      );
    }, failed);
  }

  /**
   * An entry the shared tier holds under `key` (found through `index`, when the primary key
   * holds one), after the purge rules, backfilled into memory (see lookupShared).
   */
  private sharedFound(primary: string, entry: CacheEntry, key: string, index: VaryIndex | undefined, backfill: boolean): Lookup {
    if (this.rules.active) {
      const verdict = this.rules.check(entry, primary);
      if (verdict === 'hard') return { entry: undefined, tier: undefined, key };
      if (verdict === 'soft') return { entry: markedStale(entry, this.rules.softAt(entry, primary)), tier: 'redis', key };
    }
    // Backfill memory, with the body copied out of the Redis reply's read buffer; an entry
    // memory cannot hold is served without the copy. Memory's index follows Redis's.
    if (backfill && this.memory.accepts(entry.size)) {
      this.storeLocal(primary, { ...entry, body: ownBody(entry.body) });
      if (index !== undefined) this.alignLocal(primary, index.varyNames, index.variants);
    }
    return { entry, tier: 'redis', key };
  }

  /**
   * Stores an entry: in memory now, in the shared tier in the background. The promise
   * settles when the shared write is done (at once without a shared tier); it never rejects.
   */
  store(primary: string, entry: CacheEntry, jitter = 0): Promise<void> {
    const ttl = this.ttlOf(entry) - jitterOffset(entry, primary, jitter);
    if (ttl <= 0) return Promise.resolve();
    this.storeLocal(primary, entry, ttl);
    return this.shared === undefined ? Promise.resolve() : this.storeShared(primary, entry, ttl);
  }

  /**
   * Stores `entry` in memory now and, when `next` settles, what it gives in its place: in
   * memory only while memory still holds `entry` (a purge or a newer fill in between wins), and
   * in the shared tier, which receives only that one (a compressed entry, say, is written to
   * Redis once). The promise settles when the shared write is done; it never rejects.
   */
  storeThen(primary: string, entry: CacheEntry, jitter: number, next: Promise<CacheEntry>): Promise<void> {
    const ttl = this.ttlOf(entry) - jitterOffset(entry, primary, jitter);
    if (ttl <= 0) return Promise.resolve();
    this.storeLocal(primary, entry, ttl);
    return next.then(
      (replacement) => {
        const key = this.keyOf(primary, entry);
        const left = this.memory.remainingTtl(key);
        if (replacement !== entry && this.memory.peek(key) === entry && left > 0) this.storeLocal(primary, replacement, left);
        const shared = this.ttlOf(replacement) - jitterOffset(replacement, primary, jitter);
        return this.shared === undefined || shared <= 0 ? undefined : this.storeShared(primary, replacement, shared);
      },
      () => undefined,
    );
  }

  /** The memory key an entry is (or would be) held under. */
  private keyOf(primary: string, entry: CacheEntry): string {
    return entry.varyNames.length === 0 ? primary : variantKey(primary, variantId(entry.varyValues));
  }

  /**
   * Charges the memory tier `bytes` more for an entry it holds (a copy of its body in another
   * coding, kept with it). False, charging nothing, when memory no longer holds this very entry
   * for `primary` or could not hold it grown: the caller then keeps nothing.
   */
  charge(primary: string, entry: CacheEntry, bytes: number): boolean {
    const key = this.keyOf(primary, entry);
    if (this.memory.peek(key) !== entry) return false;
    const ttl = this.memory.remainingTtl(key);
    if (ttl <= 0 || !this.memory.accepts(entry.size + bytes)) return false;
    entry.size += bytes;
    // Removed and set again: the LRU recounts a value's size only when it is added.
    this.memory.delete(key);
    this.memory.set(key, entry, ttl);
    return true;
  }

  /** Removes a URL (every variant) from every tier and tells the other instances. */
  async invalidate(primary: string): Promise<number> {
    const local = this.invalidateLocal(primary);
    const remote = this.shared === undefined ? 0 : await this.shared.store.deletePrimary(primary);
    await this.peers?.announceInvalidation(primary);
    return Math.max(local, remote);
  }

  /** Removes the primary key and every variant under it from memory only. */
  invalidateLocal(primary: string): number {
    const value = this.memory.get(primary);
    if (value === undefined) return 0;
    const n = isVaryIndex(value) ? this.dropVariants(primary) : 1;
    this.memory.delete(primary);
    return n;
  }

  private ttlOf(entry: CacheEntry): number {
    return Math.min(usefulUntil(entry, this.opts.keepForRevalidation) - this.opts.clock.now(), this.opts.maxTtl);
  }

  /**
   * Purges one URL (every variant) on every instance. Hard: deleted now, and a short-lived
   * rule makes fills already under way lose. Soft: marked stale wherever it is read.
   * Resolves to the number of entries removed or marked here.
   */
  async purgeUrl(primary: string, soft: boolean): Promise<number> {
    const now = this.opts.clock.now();
    const rule: PurgeRule = { kind: 'url', value: primary, at: now, soft, until: now + (soft ? this.opts.maxTtl : this.opts.urlRuleTtl) };
    if (soft) return this.purgeRule(rule);
    const n = await this.invalidate(primary);
    this.rules.add(rule);
    await this.peers?.shareRules([rule], this.opts.urlRuleTtl);
    return n;
  }

  /**
   * A path (every host), prefix or tag purge: a rule every instance applies when it reads an
   * entry, so nothing is scanned in Redis. Memory is swept now. Resolves to the number of
   * memory entries removed or marked stale here.
   */
  async purgeRule(rule: PurgeRule): Promise<number> {
    return this.purgeRules([rule]);
  }

  /**
   * Many path, prefix or tag purges at once (one POST /purge). The rules apply to reads at
   * once; memory is swept in bounded slices, yielding to requests in between; the rules are
   * stored and published in one write and one message. Throws PurgeRulesFull, adding nothing,
   * when the rule set has no room for them.
   */
  async purgeRules(rules: PurgeRule[]): Promise<number> {
    if (rules.length === 0) return 0;
    this.rules.prune(this.opts.clock.now());
    this.rules.reserve(rules);
    for (let i = 0; i < rules.length; i += RULE_SLICE) {
      if (i > 0) await turn();
      this.rules.add(rules.slice(i, i + RULE_SLICE));
    }
    const swept = this.sweep(rules);
    await this.peers?.shareRules(rules, this.opts.maxTtl);
    return swept;
  }

  /** A rule's time and lifetime, from now. */
  rule(kind: PurgeRule['kind'], value: string, soft: boolean): PurgeRule {
    const now = this.opts.clock.now();
    return { kind, value, at: now, soft, until: now + this.opts.maxTtl };
  }

  /**
   * Counts (and for hard rules drops) the memory entries the rules match, SWEEP_SLICE keys at
   * a time with a turn of the event loop in between: a purge of many rules over a large memory
   * tier never stalls requests. Reads apply the rules already, so the sweep only frees memory
   * and counts.
   */
  private async sweep(rules: readonly PurgeRule[]): Promise<number> {
    const batch = new PurgeRules(Infinity);
    for (let i = 0; i < rules.length; i += RULE_SLICE) {
      if (i > 0) await turn();
      batch.add(rules.slice(i, i + RULE_SLICE));
    }
    const keys = [...this.memory.keys()];
    let n = 0;
    for (let i = 0; i < keys.length; i += SWEEP_SLICE) {
      if (i > 0) await turn();
      for (const key of keys.slice(i, i + SWEEP_SLICE)) {
        const value = this.memory.peek(key);
        if (value === undefined || isVaryIndex(value)) continue;
        const sep = key.indexOf(VARIANT_SEPARATOR);
        const verdict = batch.check(value, sep === -1 ? key : key.slice(0, sep));
        if (verdict === 'ok') continue;
        n++;
        if (verdict === 'hard') this.memory.delete(key);
      }
    }
    return n;
  }

  /** Stores in memory only (backfills, entries from peers). */
  storeLocal(primary: string, entry: CacheEntry, ttl = this.ttlOf(entry)): void {
    if (ttl <= 0) return;
    if (entry.varyNames.length === 0) {
      this.dropVariants(primary);
      this.memory.set(primary, entry, ttl);
      return;
    }
    const id = variantId(entry.varyValues);
    const current = this.memory.get(primary);
    const { index, dropped } = nextIndex(current, entry, id, this.opts.maxVariants);
    if (dropped === 'all') this.dropVariants(primary);
    else for (const old of dropped) this.memory.delete(variantKey(primary, old));
    this.memory.set(variantKey(primary, id), entry, ttl);
    this.memory.set(primary, index, Math.max(ttl, this.memory.remainingTtl(primary)));
  }

  /**
   * The shared write. A variant and its index are updated in one atomic step in Redis (so
   * concurrent writers keep the index within maxVariants and leave no unlisted variant behind),
   * and memory's index is then made to list what Redis's lists.
   */
  private async storeShared(primary: string, entry: CacheEntry, ttl: number): Promise<void> {
    const store = this.shared!.store;
    if (entry.varyNames.length === 0) {
      await store.storeEntry(primary, entry, ttl);
      return;
    }
    const id = variantId(entry.varyValues);
    const variants = await store.storeVariant(primary, id, entry, ttl, this.opts.maxVariants);
    if (variants !== undefined) this.alignLocal(primary, entry.varyNames, variants);
  }

  /**
   * Makes memory's vary index of `primary` list the ids the shared tier's lists (when both
   * select on `names`), dropping the variants memory holds that Redis no longer lists: the
   * two tiers then serve the same at most maxVariants variants.
   */
  private alignLocal(primary: string, names: readonly string[], variants: readonly string[]): void {
    const current = this.memory.get(primary);
    if (current === undefined || !isVaryIndex(current) || !sameNames(current.varyNames, names)) return;
    const keep = variants.slice(-this.opts.maxVariants);
    for (const id of current.variants) if (!keep.includes(id)) this.memory.delete(variantKey(primary, id));
    if (sameNames(current.variants, keep)) return;
    this.memory.set(primary, { v: 1, kind: 'vary', varyNames: current.varyNames, variants: keep }, this.memory.remainingTtl(primary));
  }

  private dropVariants(primary: string): number {
    const value = this.memory.get(primary);
    if (value === undefined || !isVaryIndex(value)) return 0;
    for (const id of value.variants) this.memory.delete(variantKey(primary, id));
    return value.variants.length;
  }
}

/** Hands `found` to `done`, and what `done` throws to `failed`. */
function settle(done: (found: Lookup) => void, failed: (err: unknown) => void, found: Lookup): void {
  try {
    done(found);
  } catch (err) {
    failed(err);
  }
}

/** What `selectVariant` found: the entry (if any), the key it lives under, and the index that led to it. */
type Selected = Omit<Lookup, 'tier'> & { tier: undefined; index?: VaryIndex };

/** The variant of `index` this request selects, if the index lists it and it was stored for this request's values. */
async function selectVariant(primary: string, headers: RequestInfo['headers'], get: Get, index: VaryIndex): Promise<Selected> {
  const values = varyValues(index.varyNames, headers);
  const id = variantId(values);
  const key = variantKey(primary, id);
  if (!index.variants.includes(id)) return { entry: undefined, tier: undefined, key };
  const entry = await get(key);
  if (entry === undefined || isVaryIndex(entry)) return { entry: undefined, tier: undefined, key };
  // The variant must have been stored for this request's values of the index's fields: an
  // index from elsewhere cannot make one request's variant answer another.
  if (!sameNames(entry.varyNames, index.varyNames) || !sameNames(entry.varyValues, values)) return { entry: undefined, tier: undefined, key };
  return { entry, tier: undefined, key, index };
}

/**
 * The vary index after adding variant `id`: same selecting fields → append (oldest out past
 * the cap); different fields → a new index, and every old variant is unreachable.
 */
function nextIndex(
  current: StoredValue | undefined,
  entry: CacheEntry,
  id: string,
  maxVariants: number,
): { index: VaryIndex; dropped: string[] | 'all' } {
  if (current !== undefined && isVaryIndex(current) && sameNames(current.varyNames, entry.varyNames)) {
    const variants = current.variants.filter((v) => v !== id);
    variants.push(id);
    const dropped = variants.splice(0, Math.max(0, variants.length - maxVariants));
    return { index: { v: 1, kind: 'vary', varyNames: current.varyNames, variants }, dropped };
  }
  return { index: { v: 1, kind: 'vary', varyNames: entry.varyNames, variants: [id] }, dropped: 'all' };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
