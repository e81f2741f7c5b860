import type { CacheEntry } from '../types.js';

/**
 * Refresh-ahead: start a background refresh of a hot entry before it expires, so that
 * clients never see it stale, and spread the expiry of entries stored together.
 */

/**
 * A stable number in [0, 1) for an entry under a key, the same in every instance (it is
 * derived, not stored): where in its jitter window this entry's refresh and eviction fall.
 * FNV-1a over the key and the response time.
 */
export function jitterUnit(primary: string, responseTime: number): number {
  let h = 0x811c9dc5;
  const s = primary + '\u0000' + responseTime;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 0x1_0000_0000;
}

/**
 * TTL jitter: how much earlier than its freshness end this entry is refreshed, and evicted.
 * At most `jitter` (a fraction) of its lifetime; never later than the origin allowed.
 */
export function jitterOffset(entry: Pick<CacheEntry, 'lifetime' | 'responseTime'>, primary: string, jitter: number): number {
  if (jitter <= 0 || entry.lifetime <= 0) return 0;
  return jitterUnit(primary, entry.responseTime) * jitter * entry.lifetime;
}

/**
 * XFetch (Vattani, Chierichetti, Lowenstein: "Optimal Probabilistic Cache Stampede
 * Prevention", VLDB 2015): recompute early when `now − δ·β·ln(rand()) ≥ expiry`, where δ is
 * how long the last fetch took. ln(rand()) is negative, so the left side runs ahead of now by
 * a random amount that grows with δ and β: slow-to-fetch entries are refreshed earlier, and
 * among many requests for a hot key one is very likely to refresh it shortly before expiry.
 *
 * `expiry` is the jittered refresh point. A fresh entry past that point is refreshed by the
 * next hit whatever the dice say; a stale one is not this function's business.
 */
export function shouldRefreshEarly(now: number, entry: Pick<CacheEntry, 'freshUntil' | 'fetchDuration'>, expiry: number, beta: number, random: () => number): boolean {
  if (now >= entry.freshUntil) return false;
  if (now >= expiry) return true;
  if (beta <= 0) return false;
  const delta = Math.max(entry.fetchDuration, 1);
  // 1 - random() lies in (0, 1], so the logarithm is finite.
  return now - delta * beta * Math.log(1 - random()) >= expiry;
}
