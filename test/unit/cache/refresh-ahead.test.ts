import { describe, expect, it } from 'vitest';
import { jitterOffset, jitterUnit, shouldRefreshEarly } from '../../../src/cache/refresh-ahead.js';
import { MemoryStore } from '../../../src/cache/memory-store.js';
import { TieredStore } from '../../../src/cache/tiered-store.js';
import { ManualClock } from '../../../src/clock.js';
import { sampleEntry } from './entries.js';

describe('XFetch', () => {
  const entry = { freshUntil: 10_000, fetchDuration: 500 };

  it('never refreshes early with beta 0 before the refresh point', () => {
    for (let now = 0; now < 10_000; now += 100) expect(shouldRefreshEarly(now, entry, 10_000, 0, () => 0.999999)).toBe(false);
  });

  it('refreshes when now - delta*beta*ln(rand) reaches expiry', () => {
    // ln(1 - 0.5) = -0.693: with delta 500 and beta 1 the horizon is 347 ms ahead.
    expect(shouldRefreshEarly(9_700, entry, 10_000, 1, () => 0.5)).toBe(true);
    expect(shouldRefreshEarly(9_600, entry, 10_000, 1, () => 0.5)).toBe(false);
    // beta 2 doubles the horizon.
    expect(shouldRefreshEarly(9_400, entry, 10_000, 2, () => 0.5)).toBe(true);
  });

  it('refreshes at the jittered refresh point whatever the dice say, and never once stale', () => {
    expect(shouldRefreshEarly(9_000, entry, 9_000, 0, () => 0)).toBe(true);
    expect(shouldRefreshEarly(10_000, entry, 9_000, 5, () => 0.999)).toBe(false);
  });
});

describe('TTL jitter', () => {
  it('spreads the storage expiry of 1,000 keys stored in the same second over the window, never later', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const memory = new MemoryStore({ maxSize: 1 << 30, clock });
    const store = new TieredStore(memory, { clock, maxVariants: 4, keepForRevalidation: 0, maxTtl: 7 * 86_400_000, urlRuleTtl: 60_000 });
    const now = clock.now();
    const ttls: number[] = [];
    for (let i = 0; i < 1_000; i++) {
      const entry = { ...sampleEntry(), requestTime: now, responseTime: now + (i % 1000), initialAge: 0, lifetime: 100_000, freshUntil: now + 100_000, staleWhileRevalidateUntil: now + 100_000, staleIfErrorUntil: now + 100_000 };
      delete (entry as { etag?: string }).etag;
      delete (entry as { lastModified?: string }).lastModified;
      await store.store(`jitter.test/k${i}`, entry, 0.1);
      ttls.push(memory.remainingTtl(`jitter.test/k${i}`));
    }
    const min = Math.min(...ttls);
    const max = Math.max(...ttls);
    expect(max).toBeLessThanOrEqual(100_000);
    expect(min).toBeGreaterThanOrEqual(90_000 - 1_000);
    // Spread over the window: every tenth of it holds some expiries.
    const buckets = new Array(10).fill(0);
    for (const t of ttls) buckets[Math.min(9, Math.floor((100_000 - t) / 1_000))]++;
    expect(buckets.every((b) => b > 50)).toBe(true);
  });

  it('derives the same offset for the same entry in every instance, and none without jitter', () => {
    const e = { lifetime: 60_000, responseTime: 123 };
    expect(jitterOffset(e, 'a/b', 0.1)).toBe(jitterOffset(e, 'a/b', 0.1));
    expect(jitterOffset(e, 'a/b', 0)).toBe(0);
    expect(jitterUnit('a/b', 1)).not.toBe(jitterUnit('a/c', 1));
    for (let i = 0; i < 100; i++) {
      const u = jitterUnit(`k${i}`, i);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });
});
