import type { StoredValue, Tier } from '../types.js';

/**
 * What every cache tier offers. Implementations never throw to the caller: a fault is a
 * miss (get → undefined) or a dropped write, recorded by the tier itself.
 */
export interface CacheStore {
  readonly tier: Tier;
  get(key: string): StoredValue | undefined | Promise<StoredValue | undefined>;
  /** Stores `value` until `ttl` milliseconds from now. */
  set(key: string, value: StoredValue, ttl: number): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}
