import type { CacheEntry } from '../types.js';
import { currentAge } from './age.js';
import type { RequestDirectives } from './cache-control.js';

export type Decision =
  | { kind: 'HIT' }
  | { kind: 'STALE'; why: 'revalidate' | 'max-stale' }
  | { kind: 'REVALIDATE' }
  | { kind: 'MISS' };

export type DecideEntry = Pick<
  CacheEntry,
  | 'initialAge'
  | 'responseTime'
  | 'lifetime'
  | 'freshUntil'
  | 'staleWhileRevalidateUntil'
  | 'mustRevalidate'
  | 'noCache'
  | 'etag'
  | 'lastModified'
>;

const HIT: Decision = { kind: 'HIT' };
const REVALIDATE: Decision = { kind: 'REVALIDATE' };
const MISS: Decision = { kind: 'MISS' };

/** RFC 9111 §4.3.1: only a stored response with a validator can be revalidated. */
function validateOrMiss(entry: DecideEntry): Decision {
  return entry.etag !== undefined || entry.lastModified !== undefined ? REVALIDATE : MISS;
}

/**
 * RFC 9111 §4: how a stored response may be used for a request. Only-if-cached is the
 * caller's business (it turns REVALIDATE/MISS into a 504).
 */
export function decide(entry: DecideEntry, req: RequestDirectives, now: number): Decision {
  // RFC 9111 §5.2.1.4 / §5.2.2.4: no-cache (request or response) forbids reuse without
  // successful validation.
  if (req.noCache || entry.noCache) return validateOrMiss(entry);

  const age = currentAge(entry, now);
  const lifetime = Number.isFinite(entry.lifetime) ? entry.lifetime : 0;

  // RFC 9111 §5.2.1.1: max-age asks for a response whose age is at most that many seconds.
  // max-age=0 always asks for validation: a stored response is never meaningfully 0 s old.
  const maxAgeOk = req.maxAge === undefined || (req.maxAge > 0 && age <= req.maxAge * 1000);
  // RFC 9111 §5.2.1.3: min-fresh asks for a response still fresh for that many more seconds,
  // i.e. freshness_lifetime >= current_age + min-fresh. A stale response never satisfies it.
  const minFreshOk = req.minFresh === undefined || lifetime >= age + req.minFresh * 1000;

  // RFC 9111 §4.2: a response is fresh while its age has not yet reached its lifetime.
  if (age < lifetime) return maxAgeOk && minFreshOk ? HIT : validateOrMiss(entry);

  // RFC 9111 §5.2.2.2 / §5.2.2.8: must-revalidate (and proxy-revalidate, s-maxage in a shared
  // cache) forbid any use of a stale response without validation.
  if (entry.mustRevalidate) return validateOrMiss(entry);

  // RFC 9111 §5.2.1.2: max-stale accepts a response stale by no more than that many seconds.
  const staleness = age - lifetime;
  if (req.maxStale !== undefined && staleness <= req.maxStale * 1000 && maxAgeOk && minFreshOk) {
    return { kind: 'STALE', why: 'max-stale' };
  }

  // RFC 5861 §3: within stale-while-revalidate, a stale response may be served while it is
  // revalidated in the background, unless the request's own limits forbid it.
  if (now < entry.staleWhileRevalidateUntil && maxAgeOk && minFreshOk) {
    return { kind: 'STALE', why: 'revalidate' };
  }
  return validateOrMiss(entry);
}

/**
 * RFC 5861 §4: within stale-if-error (from the response, or from the request for that request
 * alone), a stale response may be served when the origin fails. RFC 9111 §4.2.4 forbids it
 * under must-revalidate. `freshUntil` is needed only to honour the request form.
 */
export function usableOnError(
  entry: Pick<CacheEntry, 'staleIfErrorUntil' | 'mustRevalidate'> & Partial<Pick<CacheEntry, 'freshUntil'>>,
  req: RequestDirectives,
  now: number,
): boolean {
  if (entry.mustRevalidate) return false;
  if (now < entry.staleIfErrorUntil) return true;
  if (req.staleIfError !== undefined && entry.freshUntil !== undefined) {
    return now <= entry.freshUntil + req.staleIfError * 1000;
  }
  return false;
}
