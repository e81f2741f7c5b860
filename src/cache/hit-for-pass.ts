import { LRUCache } from 'lru-cache';
import type { Clock } from '../types.js';

/**
 * Keys that answered uncacheable a moment ago. Requests for them go straight to the
 * origin instead of queuing behind one another in the coalescer, which would serialise
 * every request for a private URL. Bounded in count so a flood of distinct URLs cannot
 * grow it.
 */
export class HitForPass {
  private readonly marks: LRUCache<string, true>;

  constructor(clock: Clock, private readonly duration: number, maxKeys = 10_000) {
    this.marks = new LRUCache<string, true>({
      max: maxKeys,
      ttl: Math.max(1, duration),
      perf: { now: () => clock.now() },
      ttlResolution: 0,
      ttlAutopurge: false,
    });
  }

  mark(key: string): void {
    if (this.duration > 0) this.marks.set(key, true);
  }

  clear(key: string): void {
    this.marks.delete(key);
  }

  has(key: string): boolean {
    return this.duration > 0 && this.marks.get(key) === true;
  }
}
