import type { CacheEntry, HeaderMap } from '../types.js';
import type { ResponseDirectives } from './cache-control.js';
import { parseHttpDate } from './dates.js';
import { nonNegative } from './fields.js';

/** RFC 9110 §15.1: the status codes defined as heuristically cacheable. */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([
  200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
]);

/**
 * Statuses a route's configured `ttl` may apply to. Error statuses are left out on purpose:
 * a route default must never pin an origin's failure in the cache.
 */
export const DEFAULT_TTL_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308]);

export interface FreshnessInput {
  status: number;
  headers: HeaderMap;
  directives: ResponseDirectives;
  /** When the response was received (ms since the epoch). */
  responseTime: number;
  /** A lifetime the route forces (ms): it replaces explicit freshness. */
  forcedTtl?: number;
  /** The route's default lifetime for this status (ms), used only without explicit freshness. */
  routeTtl?: number;
  /** false: no heuristic lifetime (a request whose answer may be one user's alone). Default true. */
  heuristics?: boolean;
  /** RFC 9111 §4.2.2 heuristic: this fraction of (Date - Last-Modified). */
  heuristicFraction: number;
  /** Upper bound of a heuristic lifetime (ms). */
  heuristicMax: number;
}

export interface Freshness {
  /** ms */
  lifetime: number;
  source: CacheEntry['lifetimeSource'];
}

/** RFC 9111 §4.2.1: explicit freshness is s-maxage (shared caches), max-age or Expires. */
export function hasExplicitFreshness(directives: ResponseDirectives, headers: HeaderMap): boolean {
  return directives.sMaxage !== undefined || directives.maxAge !== undefined || headers['expires'] !== undefined;
}

export function freshnessLifetime(input: FreshnessInput): Freshness {
  const { directives: cc, headers } = input;
  // Not RFC 9111: a route's forceTtl (or ttlByStatus under it) overrules the origin.
  const forced = input.forcedTtl;
  if (forced !== undefined && Number.isFinite(forced)) return { lifetime: nonNegative(forced), source: 'forced' };
  // RFC 9111 §4.2.1: a shared cache uses s-maxage first, then max-age, then Expires - Date.
  if (cc.sMaxage !== undefined) return { lifetime: cc.sMaxage * 1000, source: 's-maxage' };
  if (cc.maxAge !== undefined) return { lifetime: cc.maxAge * 1000, source: 'max-age' };
  if (headers['expires'] !== undefined) return { lifetime: expiresLifetime(input), source: 'expires' };

  // Architecture rule: a route's ttl applies only when the origin gave no explicit freshness;
  // the policy (policy.ts routeTtl) decides which statuses and requests it applies to.
  const ttl = input.routeTtl;
  if (ttl !== undefined && Number.isFinite(ttl)) return { lifetime: nonNegative(ttl), source: 'route' };
  if (input.heuristics === false) return { lifetime: 0, source: 'none' };

  // RFC 9111 §4.2.2: without explicit expiration, a cache may assign a heuristic lifetime to
  // a response it may store without one (§3): a heuristically cacheable status (RFC 9110
  // §15.1), or any status marked public.
  if (HEURISTIC_STATUSES.has(input.status) || input.directives.public) {
    const heuristic = heuristicLifetime(input);
    if (heuristic !== undefined) return { lifetime: heuristic, source: 'heuristic' };
  }
  return { lifetime: 0, source: 'none' };
}

/**
 * RFC 9111 §5.3: an Expires value that is not a valid date (such as "0") means "already expired".
 * RFC 9111 §4.2.1: with several Expires values, use the first or treat the response as stale;
 * larder uses the first, like node:http which keeps only the first Expires line.
 * RFC 9111 §4.2.1: without a valid Date, the time the response was received stands in for it.
 */
function expiresLifetime(input: FreshnessInput): number {
  const expires = parseHttpDate(input.headers['expires']);
  if (expires === undefined) return 0;
  const date = parseHttpDate(input.headers['date']) ?? input.responseTime;
  return nonNegative(expires - date);
}

/**
 * RFC 9111 §4.2.2: with a Last-Modified time, a typical heuristic is a fraction (10% is
 * suggested) of the time since that modification. A Last-Modified later than the Date is
 * nonsense (RFC 9110 §8.8.2.1), so no heuristic is derived from it.
 */
function heuristicLifetime(input: FreshnessInput): number | undefined {
  const lastModified = parseHttpDate(input.headers['last-modified']);
  if (lastModified === undefined) return undefined;
  const base = parseHttpDate(input.headers['date']) ?? input.responseTime;
  if (lastModified > base) return undefined;
  const fraction = nonNegative(input.heuristicFraction);
  return Math.min(Math.floor(fraction * (base - lastModified)), nonNegative(input.heuristicMax));
}
