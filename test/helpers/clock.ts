import type { Clock } from '../../src/types.js';

/**
 * The wall clock plus an offset that only grows: time passes as usual (Redis, sockets and
 * timers keep working), and `advance` skips ahead without waiting, e.g. past a breaker's
 * cool-down.
 */
export class SkippingClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}
