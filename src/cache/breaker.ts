import type { Clock } from '../types.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  clock: Clock;
  /** Consecutive failures that open the breaker. Default 5. */
  threshold?: number;
  /** How long the breaker stays open before it lets one probe through (ms). Default 5000. */
  coolDown?: number;
}

export type BreakerListener = (state: BreakerState, previous: BreakerState) => void;

/**
 * A circuit breaker for the shared tier. While Redis is failing, every request would
 * otherwise pay the command timeout; once open, callers skip Redis at no cost until the
 * cool-down has passed, then a single probe decides whether to close again.
 */
export class Breaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  /** When the half-open probe was let through; undefined when none is outstanding. */
  private probeAt: number | undefined;
  private readonly listeners = new Set<BreakerListener>();
  private readonly clock: Clock;
  private readonly threshold: number;
  private readonly coolDown: number;

  constructor(opts: BreakerOptions) {
    this.clock = opts.clock;
    this.threshold = Math.max(1, Math.floor(opts.threshold ?? 5));
    this.coolDown = Math.max(0, opts.coolDown ?? 5000);
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go ahead now. In half-open, true only for the one probe. */
  allow(): boolean {
    const now = this.clock.now();
    switch (this.current) {
      case 'closed':
        return true;
      case 'open':
        if (now - this.openedAt < this.coolDown) return false;
        this.probeAt = now;
        this.transition('half-open');
        return true;
      case 'half-open':
        // A probe whose outcome never got reported must not keep the breaker shut forever.
        if (this.probeAt !== undefined && now - this.probeAt < this.coolDown) return false;
        this.probeAt = now;
        return true;
    }
  }

  success(): void {
    this.failures = 0;
    if (this.current === 'half-open') {
      this.probeAt = undefined;
      this.transition('closed');
    }
    // A success while open is a call that started before the breaker opened; the
    // cool-down still applies, so one lucky reply cannot close it.
  }

  failure(): void {
    switch (this.current) {
      case 'closed':
        this.failures++;
        if (this.failures >= this.threshold) this.open();
        return;
      case 'half-open':
        this.open();
        return;
      case 'open':
        // Late failures of calls sent before the breaker opened do not extend the cool-down.
        return;
    }
  }

  /** Calls `cb` on every state change; returns a function that removes it. */
  onChange(cb: BreakerListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private open(): void {
    this.openedAt = this.clock.now();
    this.failures = 0;
    this.probeAt = undefined;
    this.transition('open');
  }

  private transition(next: BreakerState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    for (const cb of this.listeners) {
      try {
        cb(next, previous);
      } catch {
        // A listener (a log line, a metric) must not break the caller's cache operation.
      }
    }
  }
}
