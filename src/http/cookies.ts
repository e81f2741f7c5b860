/**
 * A route's `cookies` policy applied to the request before it is routed further, keyed or
 * forwarded: so the cache key, the Vary values and what the origin receives always agree.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Route } from '../config/types.js';

/**
 * `strip` removes Cookie; a list of names keeps only those cookies, in name order (stable for
 * repeated names), so that two requests with the same named cookies carry the same field
 * whatever order the client wrote them in, and the key (which then includes Cookie) matches
 * what is forwarded. `keep` leaves the request as it is.
 */
export function applyCookiePolicy(headers: IncomingHttpHeaders, policy: Route['cookies']): void {
  const value = headers.cookie;
  if (policy === 'keep' || value === undefined) return;
  if (policy === 'strip') {
    delete headers.cookie;
    return;
  }
  const kept = keepCookies(value, policy);
  if (kept === '') delete headers.cookie;
  else headers.cookie = kept;
}

/** The pairs of a Cookie field (RFC 6265 §5.4: "name=value; name=value") whose name is listed, sorted by name. */
export function keepCookies(value: string, names: readonly string[]): string {
  const pairs: Array<[string, string]> = [];
  for (const part of value.split(';')) {
    const pair = part.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    // A pair without "=" has no name (RFC 6265 §5.2 reads it as a value alone): never kept.
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    if (names.includes(name)) pairs.push([name, pair]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.map((p) => p[1]).join('; ');
}
