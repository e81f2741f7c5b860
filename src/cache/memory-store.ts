import { LRUCache } from 'lru-cache';
import type { Clock, StoredValue } from '../types.js';
import type { CacheStore } from './store.js';

export interface MemoryStoreOptions {
  /** Bytes the tier may hold in all; the least recently used entries go first. */
  maxSize: number;
  /** Time source for TTLs. */
  clock: Clock;
  /** Called with every value pushed out to make room (not for expiry or deletes). */
  onEvict?: (value: StoredValue) => void;
}

/** Bytes charged for a vary index: its ids and names plus a small fixed part. */
const INDEX_OVERHEAD = 200;

/** The L1 tier: an lru-cache bounded in bytes. Synchronous, so a hit costs no promise hop. */
export class MemoryStore implements CacheStore {
  readonly tier = 'memory' as const;
  private readonly lru: LRUCache<string, StoredValue>;
  private readonly maxSize: number;

  constructor(opts: MemoryStoreOptions) {
    this.maxSize = opts.maxSize;
    this.lru = new LRUCache<string, StoredValue>({
      maxSize: opts.maxSize,
      sizeCalculation: sizeOf,
      perf: { now: () => opts.clock.now() },
      // The injected clock is the only time source; lru-cache must not cache readings of it.
      ttlResolution: 0,
      // Expired entries are dropped when touched; a timer per entry would cost more than it saves.
      ttlAutopurge: false,
      dispose: opts.onEvict
        ? (value, _key, reason) => {
            if (reason === 'evict') opts.onEvict!(value);
          }
        : undefined,
    });
  }

  get(key: string): StoredValue | undefined {
    return this.lru.get(key);
  }

  /** Whether an entry charged `size` bytes can be held at all (lru-cache refuses more than maxSize). */
  accepts(size: number): boolean {
    return size <= this.maxSize;
  }

  /** Reads without touching recency or expiry: for sweeps, not the request path. */
  peek(key: string): StoredValue | undefined {
    return this.lru.peek(key);
  }

  set(key: string, value: StoredValue, ttl: number): void {
    if (ttl <= 0) {
      this.lru.delete(key);
      return;
    }
    this.lru.set(key, value, { ttl: Math.ceil(ttl) });
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  /** Remaining lifetime of a key in ms (0 when absent). */
  remainingTtl(key: string): number {
    const t = this.lru.getRemainingTTL(key);
    return Number.isFinite(t) ? Math.max(0, t) : 0;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get entries(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }

  /** Every key, most recently used first; for purges and tests, never on the request path. */
  keys(): IterableIterator<string> {
    return this.lru.keys();
  }
}

/** What a key/value pair costs: the value's own size plus the key, which the LRU holds twice. */
function sizeOf(value: StoredValue, key: string): number {
  const keyBytes = 2 * key.length;
  if ('kind' in value) {
    let n = INDEX_OVERHEAD + keyBytes;
    for (const s of value.variants) n += s.length;
    for (const s of value.varyNames) n += s.length;
    return n;
  }
  return value.size + keyBytes;
}
