import type { CacheEntry, Clock, RequestInfo, Tier, VaryIndex } from '../types.js';
import { isVaryIndex } from '../types.js';
import { variantId, varyValues } from '../rfc9111/index.js';
import { usefulUntil } from './entry.js';
import { variantKey } from './key.js';
import type { MemoryStore } from './memory-store.js';

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
}

/**
 * The cache as the request path sees it: variant selection over the tiers.
 *
 * A primary key holds either the entry itself (the response does not vary) or a vary
 * index naming the request fields that select a variant; variants live under
 * primary + separator + variantId. Route key headers are treated as Vary fields, so a URL
 * purge removes every variant however it was selected.
 */
export class TieredStore {
  constructor(
    readonly memory: MemoryStore,
    private readonly opts: TieredStoreOptions,
  ) {}

  /** Memory-tier lookup; synchronous so that a hit costs no promise hop. */
  lookup(primary: string, headers: RequestInfo['headers']): Lookup {
    const value = this.memory.get(primary);
    if (value === undefined) return { entry: undefined, tier: undefined, key: primary };
    if (!isVaryIndex(value)) return { entry: value, tier: 'memory', key: primary };
    const key = variantKey(primary, variantId(varyValues(value.varyNames, headers)));
    const entry = this.memory.get(key) as CacheEntry | undefined;
    return entry === undefined
      ? { entry: undefined, tier: undefined, key }
      : { entry, tier: 'memory', key };
  }

  /** Stores an entry under its primary key, maintaining the vary index when it varies. */
  store(primary: string, entry: CacheEntry): void {
    const ttl = usefulUntil(entry, this.opts.keepForRevalidation) - this.opts.clock.now();
    if (ttl <= 0) return;
    if (entry.varyNames.length === 0) {
      this.dropVariants(primary);
      this.memory.set(primary, entry, ttl);
      return;
    }
    const id = variantId(entry.varyValues);
    const current = this.memory.get(primary);
    let index: VaryIndex;
    if (current !== undefined && isVaryIndex(current) && sameNames(current.varyNames, entry.varyNames)) {
      const variants = current.variants.filter((v) => v !== id);
      variants.push(id);
      while (variants.length > this.opts.maxVariants) this.memory.delete(variantKey(primary, variants.shift()!));
      index = { v: 1, kind: 'vary', varyNames: current.varyNames, variants };
    } else {
      // The selecting fields changed: variants chosen by the old fields can no longer be found.
      this.dropVariants(primary);
      index = { v: 1, kind: 'vary', varyNames: entry.varyNames, variants: [id] };
    }
    const indexTtl = Math.max(ttl, this.memory.remainingTtl(primary));
    this.memory.set(variantKey(primary, id), entry, ttl);
    this.memory.set(primary, index, indexTtl);
  }

  /** Removes the primary key and every variant under it. */
  invalidate(primary: string): number {
    const value = this.memory.get(primary);
    if (value === undefined) return 0;
    const n = isVaryIndex(value) ? this.dropVariants(primary) : 1;
    this.memory.delete(primary);
    return n;
  }

  private dropVariants(primary: string): number {
    const value = this.memory.get(primary);
    if (value === undefined || !isVaryIndex(value)) return 0;
    for (const id of value.variants) this.memory.delete(variantKey(primary, id));
    return value.variants.length;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
