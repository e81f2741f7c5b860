import type { CacheEntry } from '../types.js';
import type { PurgeRule } from './purge-rules.js';
import type { LeaseAnswer } from './redis-store.js';

/** What other instances (or worker processes) ask of this one's memory tier. */
export interface LocalCache {
  invalidateLocal(primary: string): void;
  /** Drops all of memory: after a gap in messages, invalidations may have been missed. */
  clearLocal(): void;
  /** Applies purge rules another instance made (or loaded from storage). */
  applyRules(rules: readonly PurgeRule[]): void;
  /** Stores an entry another process fetched (when there is no shared tier to read it from). */
  storeFromPeer(primary: string, entry: CacheEntry): void;
}

/**
 * Coordination between the processes that act as one cache: fill locks, fill notices,
 * invalidations and purge rules. Two implementations: Redis (`SharedTier`, for instances on
 * any machine) and the cluster primary over IPC (`cluster/ipc-peers.ts` `IpcPeers`, for
 * `--workers` without Redis).
 */
export interface Peers {
  attach(local: LocalCache): void;
  /** Resolves once the channel is usable, or after `ms`. */
  ready(ms: number): Promise<boolean>;
  /** Applies the purge rules made before this process started. */
  loadRules(): Promise<void>;
  /** A fresh lock owner token. */
  owner(): string;
  /**
   * Takes the fill lease of `key` for `ttl` ms. The holder renews it while its fill runs and
   * releases it when done, so a lease outlives a dead holder by at most `ttl`.
   */
  tryLock(key: string, owner: string, ttl: number): Promise<LeaseAnswer>;
  /** Extends `owner`'s lease to `ttl` ms from now; false when it no longer holds it. */
  renew(key: string, owner: string, ttl: number): Promise<boolean>;
  unlock(key: string, owner: string): Promise<boolean>;
  /** Resolves when a peer announces `key` filled, or after `ms`. Register before looking. */
  waitForFill(key: string, ms: number): { done: Promise<void>; cancel(): void };
  /** Tells the peers `key` is filled; `entry` travels along when they cannot read a shared tier. */
  announceFilled(key: string, primary: string, entry: CacheEntry | undefined): Promise<boolean>;
  announceInvalidation(primary: string): Promise<boolean>;
  /** Stores purge rules for instances that start later, and sends them to the running ones. */
  shareRules(rules: readonly PurgeRule[], ttl: number): Promise<void>;
  close(): Promise<void>;
}
