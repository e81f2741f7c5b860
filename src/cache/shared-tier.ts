import { randomUUID } from 'node:crypto';
import type { RedisBus } from './redis-bus.js';
import type { Clock } from '../types.js';
import { FillWaiters } from './fill-waiters.js';
import type { LocalCache, Peers } from './peers.js';
import { isRule, RULE_SLICE, turn, type PurgeRule } from './purge-rules.js';
import { filledChannel, invalidateChannel, purgeChannel } from './redis-keys.js';
import type { LeaseAnswer, RedisStore } from './redis-store.js';


/**
 * Redis as the cache every instance shares: the store, fill locks, and the two pub/sub
 * channels that make many instances behave as one cache.
 *
 * - `invalidate`: "<instance id> <primary key>"; every other instance drops its memory copy.
 * - `filled`: "<lookup key>"; instances waiting on another's fill lock read Redis again.
 */
export class SharedTier implements Peers {
  /** Distinguishes this process's messages from the others'. */
  readonly instanceId = randomUUID();
  private readonly waiters = new FillWaiters();
  private local: LocalCache | undefined;
  private seq = 0;

  constructor(
    readonly store: RedisStore,
    private readonly bus: RedisBus,
    private readonly clock: Clock,
  ) {}

  /** Connects the channels to the local cache; called once by the tiered store. */
  attach(local: LocalCache): void {
    this.local = local;
    void this.bus.subscribe(invalidateChannel(this.store.prefix), (message) => {
      const space = message.indexOf(' ');
      if (space === -1 || message.slice(0, space) === this.instanceId) return;
      this.local?.invalidateLocal(message.slice(space + 1));
    });
    void this.bus.subscribe(filledChannel(this.store.prefix), (key) => this.waiters.wake(key));
    void this.bus.subscribe(purgeChannel(this.store.prefix), (message) => {
      const space = message.indexOf(' ');
      if (space === -1 || message.slice(0, space) === this.instanceId) return;
      const rules = parseRules(message.slice(space + 1));
      if (rules.length > 0) this.local?.applyRules(rules);
    });
    this.bus.onReconnect(() => {
      this.local?.clearLocal();
      void this.loadRules();
    });
  }

  /** Loads the purge rules other instances stored, so a new or reconnected instance obeys them. */
  async loadRules(): Promise<void> {
    const rules: PurgeRule[] = [];
    for (const json of await this.store.loadPurgeRules(this.clock.now())) rules.push(...parseRules(json));
    if (rules.length > 0) this.local?.applyRules(rules);
  }

  /** Stores purge rules in Redis (one write) and tells the other instances (one message). */
  async shareRules(rules: readonly PurgeRule[], ttl: number): Promise<void> {
    // In slices, each stored (one ZADD) and published (one message) before the next is built:
    // neither this process nor a peer ever handles a whole large purge in one go.
    for (let i = 0; i < rules.length; i += RULE_SLICE) {
      if (i > 0) await turn();
      const slice = rules.slice(i, i + RULE_SLICE);
      await this.store.savePurgeRules(
        slice.map((r) => ({ json: JSON.stringify(r), until: r.until })),
        ttl,
      );
      const payload = slice.length === 1 ? JSON.stringify(slice[0]) : JSON.stringify(slice);
      await this.bus.publish(purgeChannel(this.store.prefix), `${this.instanceId} ${payload}`);
    }
  }

  /** Resolves once the store and the subscriber are connected, or after `ms`, whichever is first. */
  async ready(ms: number): Promise<boolean> {
    for (let waited = 0; waited < ms; waited += 10) {
      if (this.store.state() === 'up' && this.bus.connected) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  announceInvalidation(primary: string): Promise<boolean> {
    return this.bus.publish(invalidateChannel(this.store.prefix), `${this.instanceId} ${primary}`);
  }

  /** Peers read the entry from Redis, so only the key travels. */
  announceFilled(key: string): Promise<boolean> {
    return this.bus.publish(filledChannel(this.store.prefix), key);
  }

  /** A fresh lock owner token for this instance. */
  owner(): string {
    return `${this.instanceId}:${++this.seq}`;
  }

  tryLock(key: string, owner: string, ttl: number): Promise<LeaseAnswer> {
    return this.store.tryLease(key, owner, ttl);
  }

  renew(key: string, owner: string, ttl: number): Promise<boolean> {
    return this.store.renew(key, owner, ttl);
  }

  unlock(key: string, owner: string): Promise<boolean> {
    return this.store.unlock(key, owner);
  }

  /**
   * Resolves when another instance announces `key` filled, or after `ms`. Register before
   * looking at Redis, so an announcement between the look and the wait is not missed.
   */
  waitForFill(key: string, ms: number): { done: Promise<void>; cancel(): void } {
    return this.waiters.wait(key, ms);
  }

  async close(): Promise<void> {
    this.waiters.wakeAll();
    await this.bus.close();
    this.store.dispose();
  }
}

/** One rule, or a batch of them (as one purge request publishes them); what does not check out is dropped. */
function parseRules(json: string): PurgeRule[] {
  try {
    const r: unknown = JSON.parse(json);
    if (Array.isArray(r)) return r.filter(isRule);
    return isRule(r) ? [r] : [];
  } catch {
    return [];
  }
}
