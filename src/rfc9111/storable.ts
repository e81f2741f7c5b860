import type { HeaderMap, Reason, RequestInfo } from '../types.js';
import { parseCacheControl, type ResponseDirectives } from './cache-control.js';
import { DEFAULT_TTL_STATUSES, HEURISTIC_STATUSES } from './freshness.js';
import { parseVary } from './vary.js';

/** The final status codes defined in RFC 9110 §15, which larder therefore understands. */
export const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  // §15.3 Successful
  200, 201, 202, 203, 204, 205, 206,
  // §15.4 Redirection (306 is reserved and unused, so it is not understood)
  300, 301, 302, 303, 304, 305, 307, 308,
  // §15.5 Client Error (418 is reserved and unused)
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422,
  426,
  // §15.6 Server Error
  500, 501, 502, 503, 504, 505,
]);

export interface StorableInput {
  method: string;
  requestHeaders: RequestInfo['headers'];
  status: number;
  headers: HeaderMap;
  directives: ResponseDirectives;
  unsafeShareSetCookie: boolean;
  /** The route's default lifetime (ms), if it has one. */
  routeTtl?: number;
}

export type StorableResult = { ok: true } | { ok: false; reason: Reason };

const no = (reason: Reason): StorableResult => ({ ok: false, reason });

/** RFC 9110 §8.8: a response with an ETag or Last-Modified can be revalidated. */
export function hasValidator(headers: HeaderMap): boolean {
  return headers['etag'] !== undefined || headers['last-modified'] !== undefined;
}

/** RFC 9111 §3: may a shared cache store this response? */
export function checkStorable(input: StorableInput): StorableResult {
  const { status, headers, directives: cc } = input;

  // RFC 9111 §3: the request method must be understood and cacheable. Only GET is stored;
  // a stored GET response also answers HEAD (RFC 9110 §9.3.2).
  if (input.method !== 'GET') return no('method');

  // RFC 9111 §3: the status must be final, and it must be understood only when it is 206 or
  // 304 or the response says must-understand (§5.2.2.3); any other final status, even one
  // larder has never heard of, may be stored when the response gives it explicit freshness.
  if (!Number.isInteger(status) || status < 200 || status > 599) return no('status');
  if (!UNDERSTOOD_STATUSES.has(status) && cc.mustUnderstand) return no('must-understand');
  // A 304 answers a conditional request; it is not a representation that can be replayed.
  if (status === 304) return no('status');

  // RFC 9111 §3.3: a cache that does not support ranges must not store a partial response.
  if (status === 206 || headers['content-range'] !== undefined) return no('partial');

  // RFC 9111 §5.2.1.5: no-store in the request forbids storing any part of it or its response.
  if (parseCacheControl(input.requestHeaders['cache-control']).has('no-store')) return no('request-no-store');

  // RFC 9111 §5.2.2.5: no-store forbids storage; §5.2.2.3: must-understand lets a cache that
  // understands the (here: understood) status ignore the no-store that accompanies it.
  if (cc.noStore && !cc.mustUnderstand) return no('no-store');

  // RFC 9111 §5.2.2.7: a shared cache must not store a private response; a qualified
  // private is treated as unqualified because larder cannot drop single fields safely.
  if (cc.private) return no('private');

  // RFC 9111 §3.5: a shared cache must not reuse a response to a request with Authorization
  // unless public, s-maxage or must-revalidate explicitly allows it.
  if (input.requestHeaders['authorization'] !== undefined && !(cc.public || cc.sMaxage !== undefined || cc.mustRevalidate)) {
    return no('authorization');
  }

  // RFC 9111 §4.1: Vary: * always fails to match, so storing it is pointless.
  if (parseVary(headers['vary']).star) return no('vary-star');

  // Not an RFC rule: Set-Cookie is per client, and sharing it leaks sessions (route opt-in only).
  if (!input.unsafeShareSetCookie && hasSetCookie(headers['set-cookie'])) return no('set-cookie');

  // RFC 9111 §3: the response must carry public, Expires, max-age, s-maxage, or have a
  // heuristically cacheable status. An invalid Expires still counts: it means "stale".
  if (
    cc.public ||
    cc.maxAge !== undefined ||
    cc.sMaxage !== undefined ||
    headers['expires'] !== undefined ||
    HEURISTIC_STATUSES.has(status) ||
    (input.routeTtl !== undefined && DEFAULT_TTL_STATUSES.has(status))
  ) {
    return { ok: true };
  }
  return no('no-freshness');
}

function hasSetCookie(value: string | string[] | undefined): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined;
}
