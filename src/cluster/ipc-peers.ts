import type { CacheEntry } from '../types.js';
import { decode, encode } from '../cache/codec.js';
import { FillWaiters } from '../cache/fill-waiters.js';
import type { LocalCache, Peers } from '../cache/peers.js';
import { isRule, type PurgeRule } from '../cache/purge-rules.js';
import type { LeaseAnswer } from '../cache/redis-store.js';
import type { Msg } from './messages.js';

/** Longest wait for the primary's answer to a lock request (ms); then the lock is "unavailable". */
const LOCK_TIMEOUT = 1_000;

/** Fill locks and notices through the primary over IPC. */
export class IpcPeers implements Peers {
  private local: LocalCache | undefined;
  private seq = 0;
  private readonly pendingLocks = new Map<number, (r: LeaseAnswer) => void>();
  private readonly waiters = new FillWaiters();
  private rules: PurgeRule[] = [];

  constructor(private readonly send: (m: Msg) => void) {}

  /** Called with every message from the primary that concerns coordination. */
  receive(m: Msg): void {
    switch (m.t) {
      case 'lock-reply':
        this.pendingLocks.get(m.id)?.(m.heldFor === undefined ? { result: m.result } : { result: m.result, heldFor: m.heldFor });
        this.pendingLocks.delete(m.id);
        return;
      case 'filled': {
        if (m.entry !== undefined) {
          const value = decode(Buffer.from(m.entry, 'base64'), m.primary);
          if (value !== undefined && !('kind' in value)) this.local?.storeFromPeer(m.primary, value);
        }
        this.waiters.wake(m.key);
        return;
      }
      case 'invalidate':
        this.local?.invalidateLocal(m.primary);
        return;
      case 'rule': {
        const rules = Array.isArray(m.rules) ? m.rules.filter(isRule) : [];
        if (rules.length > 0) this.local?.applyRules(rules);
        return;
      }
      case 'rules':
        this.rules = m.rules.filter(isRule);
        if (this.rules.length > 0) this.local?.applyRules(this.rules);
        return;
      default:
        return;
    }
  }

  attach(local: LocalCache): void {
    this.local = local;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async loadRules(): Promise<void> {
    if (this.rules.length > 0) this.local?.applyRules(this.rules);
  }

  owner(): string {
    return `${process.pid}:${++this.seq}`;
  }

  tryLock(key: string, owner: string, ttl: number): Promise<LeaseAnswer> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingLocks.delete(id);
        resolve({ result: 'unavailable' });
      }, LOCK_TIMEOUT);
      timer.unref();
      this.pendingLocks.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.send({ t: 'lock', id, key, owner, ttl });
    });
  }

  async renew(key: string, owner: string, ttl: number): Promise<boolean> {
    this.send({ t: 'renew', key, owner, ttl });
    return true;
  }

  async unlock(key: string, owner: string): Promise<boolean> {
    this.send({ t: 'unlock', key, owner });
    return true;
  }

  waitForFill(key: string, ms: number): { done: Promise<void>; cancel(): void } {
    return this.waiters.wait(key, ms);
  }

  async announceFilled(key: string, primary: string, entry: CacheEntry | undefined): Promise<boolean> {
    this.send({ t: 'filled', key, primary, ...(entry === undefined ? {} : { entry: encode(entry, primary).toString('base64') }) });
    return true;
  }

  async announceInvalidation(primary: string): Promise<boolean> {
    this.send({ t: 'invalidate', primary });
    return true;
  }

  async shareRules(rules: readonly PurgeRule[]): Promise<void> {
    this.send({ t: 'rule', rules: [...rules] });
  }

  async close(): Promise<void> {
    this.waiters.wakeAll();
  }
}
