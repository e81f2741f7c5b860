/**
 * Shared vocabulary of larder. Every module may import this file; it imports nothing.
 *
 * The sets below are closed unions on purpose: they become header values
 * (X-Cache, Cache-Status) and metric labels, so they must stay bounded.
 */

/** What happened to a request, as written in `X-Cache`. */
export type CacheResult = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'BYPASS';

/** Which tier answered a hit. */
export type Tier = 'memory' | 'redis';

/**
 * Why a response was not stored, or why a request did not use the cache.
 * Written as `Cache-Status: larder; ...; detail=<reason>`.
 */
export type Reason =
  | 'method' // request method is never cached
  | 'route-off' // the matching route says `cache: false`
  | 'upgrade' // protocol upgrade (WebSocket) is always passed through
  | 'hit-for-pass' // this key answered uncacheable a moment ago
  | 'request-no-store' // the request carried Cache-Control: no-store
  | 'status' // the status code may not be stored
  | 'no-store' // the response carried no-store
  | 'private' // the response carried private
  | 'set-cookie' // the response carried Set-Cookie and the route does not opt in
  | 'authorization' // the request carried Authorization and the response did not allow sharing
  | 'cookie' // the request carried Cookie and only the route or heuristics gave freshness (cookies: keep)
  | 'vary-star' // the response carried Vary: *
  | 'vary-changed' // a 304 named other Vary fields than the response it was to freshen
  | 'no-freshness' // no explicit freshness, no heuristic allowed, no route ttl, no validator
  | 'too-large' // the body exceeds maxEntrySize
  | 'incomplete' // the body was truncated or its length did not match
  | 'partial' // 206 / Content-Range responses are passed on and never stored
  | 'must-understand' // must-understand with a status we do not understand
  | 'origin-error' // the origin failed
  | 'redis-down'; // the shared tier was skipped

/** An injectable source of time; milliseconds since the epoch. No module reads Date.now() directly. */
export interface Clock {
  now(): number;
}

/**
 * Response headers in the shape larder keeps them: lower-case names; a field sent on
 * several lines keeps each line as its own array element, in order.
 */
export type HeaderMap = Record<string, string | string[]>;

/** Request data the caching rules need. Header names are lower case (node:http gives them so). */
export interface RequestInfo {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A stored response. Times are in milliseconds since the epoch (`storedAt`, `responseTime`,
 * `requestTime`, the `...Until` fields) or milliseconds (`initialAge`).
 *
 * `rawHeaders` is the ready-to-write form: a flat [name, value, name, value, ...] array
 * without hop-by-hop fields, Age, X-Cache or Cache-Status, so that a memory hit writes
 * it without parsing anything.
 */
export interface CacheEntry {
  /** Format version of the entry; bumped when the layout changes. */
  v: 1;
  status: number;
  statusMessage: string;
  /** Stored response headers, lower-case names (the semantic form, used for revalidation and 304s). */
  headers: HeaderMap;
  /** The ready-to-write form of `headers` (see above). */
  rawHeaders: string[];
  body: Buffer;
  /** When the request that produced this response was sent. */
  requestTime: number;
  /** When the response was received. */
  responseTime: number;
  /** corrected_initial_age of RFC 9111 §4.2.3, in ms. */
  initialAge: number;
  /** Freshness lifetime (RFC 9111 §4.2.1), in ms. */
  lifetime: number;
  /** Where `lifetime` came from. */
  lifetimeSource: 's-maxage' | 'max-age' | 'expires' | 'heuristic' | 'route' | 'forced' | 'none';
  /** responseTime - initialAge + lifetime: the instant the entry turns stale. */
  freshUntil: number;
  /** End of the stale-while-revalidate window (== freshUntil when there is none). */
  staleWhileRevalidateUntil: number;
  /** End of the stale-if-error window (== freshUntil when there is none). */
  staleIfErrorUntil: number;
  /** The response may not be served stale (must-revalidate, proxy-revalidate, s-maxage). */
  mustRevalidate: boolean;
  /** Unqualified no-cache: every reuse needs a successful revalidation. */
  noCache: boolean;
  /** public, s-maxage or must-revalidate: may answer a request that carries Authorization (§3.5). */
  authShareable: boolean;
  etag?: string;
  lastModified?: string;
  /** Lower-case field names from Vary, sorted; empty when the response does not vary. */
  varyNames: string[];
  /** The request's values for `varyNames`, normalised; the secondary cache key. */
  varyValues: string[];
  /** Surrogate keys for tag purges. */
  tags: string[];
  /** Name of the route that stored it. */
  route: string;
  /** Body length plus header bytes plus fixed overhead: what the memory tier is charged. */
  size: number;
  /** How long the origin took to answer, in ms (used by early refresh). */
  fetchDuration: number;
  /** Requests this entry answered in this instance (X-Cache-Hits); never stored in the shared tier. */
  hits?: number;
  /** The responseHeaders list `rawHeaders` was prepared for (cache/entry.ts prepareFor); never stored. */
  preparedFor?: readonly string[];
  /**
   * What `rawHeaders` was prepared from, when known (cache/entry.ts Prepared): it holds only
   * while this entry's rawHeaders, headers, coding and body length are those it names. Set by
   * the entry's maker or the codec; travels in the shared tier as its `lists` text only.
   */
  prepared?: Prepared;
  /**
   * Set when larder compressed the origin's identity body itself: `body` is in this coding,
   * `headers` stay the origin's (for revalidation), and `rawHeaders` and `etag` describe the
   * encoded representation (Content-Encoding, Vary: Accept-Encoding, a weak ETag).
   */
  coding?: 'br' | 'zstd' | 'gzip';
}

/**
 * What an entry's `rawHeaders` list is: exactly
 * prepareRawHeaders(shownHeaders(headers, coding), length, consumed, hidden) (cache/entry.ts)
 * for the lists whose listsText is `lists`.
 */
export interface Prepared {
  raw: readonly string[];
  headers: HeaderMap;
  coding: CacheEntry['coding'];
  length: number;
  lists: string;
}

/**
 * The index record stored under a primary key when the response varies.
 * Variant entries live under (primary, variantId(varyValues)).
 */
export interface VaryIndex {
  v: 1;
  kind: 'vary';
  varyNames: string[];
  /** Variant ids currently stored, newest last (bounded by maxVariants). */
  variants: string[];
}

export type StoredValue = CacheEntry | VaryIndex;

export function isVaryIndex(value: StoredValue): value is VaryIndex {
  return (value as VaryIndex).kind === 'vary';
}
