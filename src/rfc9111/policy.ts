/**
 * The caching policy of a shared cache, in one place: whether a response is stored
 * (`storable`, `storableAfter304`), the times a stored response carries (`entryTimes`,
 * `usableUntil`), and what a stored response is good for when a request arrives (`evaluate`,
 * `usableOnError`). Pure: time is an argument, and nothing here does I/O. Each rule carries
 * the sentence of the RFC it implements.
 */
import type { CacheEntry, HeaderMap, Reason, RequestInfo } from '../types.js';
import { currentAge, initialAge } from './age.js';
import { parseCacheControl, type RequestDirectives, type ResponseDirectives } from './cache-control.js';
import { DEFAULT_TTL_STATUSES, HEURISTIC_STATUSES, freshnessLifetime } from './freshness.js';
import { connectionOptions } from './hop-by-hop.js';
import { parseVary, varyMatches } from './vary.js';

type RequestHeaders = RequestInfo['headers'];

/** What the policy reads of a response from the origin. */
export interface PolicyResponse {
  status: number;
  headers: HeaderMap;
  directives: ResponseDirectives;
  /** When the request was sent and the response received (ms since the epoch). */
  requestTime: number;
  responseTime: number;
}

/** What the policy reads of a route (a config Route fits). Times in ms. */
export interface RouteRules {
  ttl?: number | undefined;
  /** Overrides the origin's freshness and no-cache/no-store (config Route.forceTtl). */
  forceTtl?: number | undefined;
  /** Lifetimes of error statuses sent without freshness (config Route.ttlByStatus). */
  ttlByStatus?: ReadonlyMap<number, number> | undefined;
  /** 'ignore': the request's Cache-Control and Pragma take no part (config Route.clientDirectives). */
  clientDirectives?: 'honor' | 'ignore' | undefined;
  staleWhileRevalidate?: number | undefined;
  staleIfError?: number | undefined;
  unsafeShareSetCookie: boolean;
}

/** What the policy reads of the cache settings (config CacheSettings fits). */
export interface HeuristicRules {
  /** RFC 9111 §4.2.2 heuristic: this fraction of (Date - Last-Modified). */
  heuristicFraction: number;
  /** Upper bound of a heuristic lifetime (ms). */
  heuristicMax: number;
}

/** The request a response to be stored answers. */
export interface StoreRequest {
  headers: RequestHeaders;
  /** The response is meant to replace a stored one (a revalidation or a refresh). */
  replacing: boolean;
  /** The status of the stored response it replaces, when known. */
  replacingStatus?: number | undefined;
  /** The request fields the entry will be keyed on (route key headers and Vary), sorted. */
  varyNames?: readonly string[] | undefined;
}

/** The request a stored response may answer: its fields and its parsed Cache-Control. */
export interface PolicyRequest {
  headers: RequestHeaders;
  cc: RequestDirectives;
}

/** The times and flags of a stored response, computed once when it is stored. */
export type EntryTimes = Pick<
  CacheEntry,
  | 'initialAge'
  | 'lifetime'
  | 'lifetimeSource'
  | 'freshUntil'
  | 'staleWhileRevalidateUntil'
  | 'staleIfErrorUntil'
  | 'mustRevalidate'
  | 'noCache'
  | 'authShareable'
>;

export type StorableResult = { ok: true } | { ok: false; reason: Reason };
export type Verdict = { ok: true; times: EntryTimes } | { ok: false; reason: Reason };

const no = (reason: Reason): { ok: false; reason: Reason } => ({ ok: false, reason });

// ---------------------------------------------------------------------------------------------
// Authorization (RFC 9111 §3.5), the one rule applied both when storing and when reusing.
// ---------------------------------------------------------------------------------------------

/**
 * RFC 9111 §3.5: "A shared cache MUST NOT use a cached response to a request with an
 * Authorization header field ... unless the response contains a Cache-Control field with a
 * response directive that allows it to be stored by a shared cache ...: must-revalidate,
 * public, and s-maxage."
 */
export function sharedDespiteAuthorization(cc: ResponseDirectives): boolean {
  return cc.public || cc.sMaxage !== undefined || cc.mustRevalidate;
}

/**
 * The §3.5 refusal: the request carries Authorization and the response did not allow sharing.
 * larder applies it when storing and again when reusing, so an entry stored for anonymous
 * requests does not answer an authenticated one either unless the origin allowed it.
 */
export function authorizationRefuses(request: RequestHeaders, shareable: boolean): boolean {
  return request['authorization'] !== undefined && !shareable;
}

// ---------------------------------------------------------------------------------------------
// Storing (RFC 9111 §3)
// ---------------------------------------------------------------------------------------------

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
  requestHeaders: RequestHeaders;
  status: number;
  headers: HeaderMap;
  directives: ResponseDirectives;
  unsafeShareSetCookie: boolean;
  /** The route's default lifetime for this status (ms), if it has one for this request. */
  routeTtl?: number;
  /** A lifetime the route forces on this response, whatever it says (config forceTtl). */
  forcedTtl?: number;
  /** The request's no-store is ignored (config clientDirectives: ignore). */
  ignoreRequestDirectives?: boolean;
  /** The request carries Cookie and the entry would not be keyed on it (see cookieLimited). */
  cookieLimited?: boolean;
  /**
   * The route would force a lifetime, but this request's Authorization or Cookie withholds it:
   * a refusal is then the request's doing, not the response's (it does not mark the URL
   * uncacheable for everyone).
   */
  forceWithheld?: 'authorization' | 'cookie';
}

/** RFC 9110 §8.8: a response with an ETag or Last-Modified can be revalidated. */
export function hasValidator(headers: HeaderMap): boolean {
  return headers['etag'] !== undefined || headers['last-modified'] !== undefined;
}

/** RFC 9111 §3: the conditions under which a shared cache may store a response at all. */
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

  // RFC 9111 §5.2.1.5: no-store in the request forbids storing any part of it or its response
  // (unless the route ignores request directives, as Varnish and Fastly do).
  if (!input.ignoreRequestDirectives && parseCacheControl(input.requestHeaders['cache-control']).has('no-store')) {
    return no('request-no-store');
  }

  // RFC 9111 §5.2.2.5: no-store forbids storage; §5.2.2.3: must-understand lets a cache that
  // understands the (here: understood) status ignore the no-store that accompanies it. A
  // route's forceTtl overrules it (the operator's word over an origin not written for caches).
  const forced = input.forcedTtl !== undefined;
  if (cc.noStore && !cc.mustUnderstand && !forced) return no(input.forceWithheld ?? 'no-store');

  // RFC 9111 §5.2.2.7: a shared cache must not store a private response; a qualified
  // private is treated as unqualified because larder cannot drop single fields safely.
  if (cc.private) return no('private');

  // RFC 9111 §3.5 (above).
  if (authorizationRefuses(input.requestHeaders, sharedDespiteAuthorization(cc))) return no('authorization');

  // RFC 9111 §4.1: Vary: * always fails to match, so storing it is pointless.
  if (parseVary(headers['vary']).star) return no('vary-star');

  // Not an RFC rule: Set-Cookie is per client, and sharing it leaks sessions (route opt-in only).
  if (!input.unsafeShareSetCookie && hasSetCookie(headers['set-cookie'])) return no('set-cookie');

  // RFC 9111 §3: the response must carry public, Expires, max-age, s-maxage, or have a
  // heuristically cacheable status. An invalid Expires still counts: it means "stale".
  if (cc.maxAge !== undefined || cc.sMaxage !== undefined || headers['expires'] !== undefined) return { ok: true };
  // Freshness the origin did not declare (heuristics, a route's lifetimes) never answers a
  // request carrying Cookie the entry is not keyed on: that answer may be this user's alone.
  if (input.cookieLimited) return no('cookie');
  if (forced || input.routeTtl !== undefined || cc.public || HEURISTIC_STATUSES.has(status)) return { ok: true };
  return no(input.forceWithheld ?? 'no-freshness');
}

function hasSetCookie(value: string | string[] | undefined): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined;
}

/**
 * Whether a response from the origin (a miss, a refresh, a revalidation answered in full) is
 * stored, and with which times: RFC 9111 §3, then larder's own limits on what is worth keeping.
 */
export function storable(response: PolicyResponse, request: StoreRequest, route: RouteRules, settings: HeuristicRules): Verdict {
  const names = request.varyNames ?? [];
  const verdict = checkStorable(storableInput(response, request.headers, names, route));
  if (!verdict.ok) return verdict;
  // A good entry is never replaced by an error: the caller may still serve it stale (RFC 5861 §4).
  if (request.replacing && response.status >= 500) return no('origin-error');
  const times = entryTimes(response, request.headers, route, settings, names);
  // Nor by an error the route alone made cacheable (ttlByStatus): only the origin's own
  // freshness may make an error displace a stored good response.
  if (request.replacingStatus !== undefined && request.replacingStatus < 400 && response.status >= 400 && !declared(times.lifetimeSource)) {
    return no('origin-error');
  }
  // An error status that is already stale is never kept for a route's stale windows: only
  // the origin's own freshness may make an error reusable.
  if (response.status >= 400 && times.freshUntil <= response.responseTime) return no('no-freshness');
  // Stale on arrival, no stale window to serve it in (RFC 5861), and nothing to revalidate
  // it with (RFC 9111 §4.3.1): storing it could never help.
  if (usableUntil(times) <= response.responseTime && !storesValidator(response.headers)) return no('no-freshness');
  return { ok: true, times };
}

/**
 * RFC 9111 §4.3.4: whether a stored response updated with a 304's fields may stay stored, and
 * its new times. A 304 cannot widen sharing: when the updated response could no longer be
 * stored (the 304 says private or no-store, or Vary: *), or the 304 names other Vary fields
 * than the stored response (RFC 9111 §4.1 keys on them), the caller removes the entry.
 */
export function storableAfter304(
  updated: PolicyResponse,
  notModified: HeaderMap,
  stored: HeaderMap,
  request: RequestHeaders,
  route: RouteRules,
  settings: HeuristicRules,
  varyNames: readonly string[] = [],
): Verdict {
  const verdict = checkStorable(storableInput(updated, request, varyNames, route));
  if (!verdict.ok) return verdict;
  if (varyChanged(stored, notModified)) return no('vary-changed');
  return { ok: true, times: entryTimes(updated, request, route, settings, varyNames) };
}

function storableInput(response: PolicyResponse, request: RequestHeaders, varyNames: readonly string[], route: RouteRules): StorableInput {
  const ttl = routeTtl(route, request, response.status, varyNames);
  const forced = forcedTtl(route, request, response.status, varyNames);
  return {
    method: 'GET',
    requestHeaders: request,
    status: response.status,
    headers: response.headers,
    directives: response.directives,
    unsafeShareSetCookie: route.unsafeShareSetCookie,
    ...(ttl === undefined ? {} : { routeTtl: ttl }),
    ...(forced === undefined ? {} : { forcedTtl: forced }),
    ignoreRequestDirectives: route.clientDirectives === 'ignore',
    cookieLimited: cookieLimited(request, varyNames),
    ...(forced === undefined ? withheldFrom(route, request, response.status) : {}),
  };
}

/** Whether only the request's Authorization or Cookie keeps the route's forced lifetime from applying. */
function withheldFrom(route: RouteRules, request: RequestHeaders, status: number): Pick<StorableInput, 'forceWithheld'> {
  if (forcedTtl(route, {}, status) === undefined) return {};
  return { forceWithheld: request['authorization'] !== undefined ? 'authorization' : 'cookie' };
}

/**
 * RFC 9110 §8.8: a validator as it will be stored. RFC 9111 §3.1: a field named in
 * Connection is not stored, so it cannot serve for revalidation either.
 */
function storesValidator(headers: HeaderMap): boolean {
  if (!hasValidator(headers)) return false;
  if (headers['connection'] === undefined) return true;
  const listed = connectionOptions(headers['connection']);
  return (headers['etag'] !== undefined && !listed.has('etag')) || (headers['last-modified'] !== undefined && !listed.has('last-modified'));
}

/** A 304 that names Vary fields other than the stored response's (RFC 9111 §4.1 keys on them). */
function varyChanged(stored: HeaderMap, notModified: HeaderMap): boolean {
  if (notModified['vary'] === undefined) return false;
  const before = parseVary(stored['vary']);
  const after = parseVary(notModified['vary']);
  if (before.star !== after.star || before.names.length !== after.names.length) return true;
  return before.names.some((n, i) => n !== after.names[i]);
}

// ---------------------------------------------------------------------------------------------
// Times (RFC 9111 §4.2, RFC 5861)
// ---------------------------------------------------------------------------------------------

/** Freshness the origin declared (RFC 9111 §4.2.1), as opposed to heuristics or a route's lifetimes. */
export function declared(source: CacheEntry['lifetimeSource']): boolean {
  return source === 's-maxage' || source === 'max-age' || source === 'expires';
}

/**
 * A request carrying Cookie may get an answer made for that user alone. Unless the entry is
 * keyed on Cookie (the response's Vary, or a route's `cookies` list), only freshness the
 * origin declared may answer it: never a heuristic, a route's `ttl`, `ttlByStatus` or
 * `forceTtl` (Varnish's built-in rule, made precise).
 */
export function cookieLimited(request: RequestHeaders, varyNames: readonly string[]): boolean {
  return request['cookie'] !== undefined && !varyNames.includes('cookie');
}

/**
 * A route's default lifetime for this status: `ttlByStatus` for the error statuses it names,
 * `ttl` for the statuses a default may apply to. Either stands in for freshness the origin
 * did not give. A request carrying Authorization, or Cookie the entry is not keyed on, may
 * get an answer made for that user alone, and an origin that did not mark it cacheable has not said it may be shared: no
 * default applies to it. Freshness the origin declares (s-maxage, max-age, Expires) still does.
 */
export function routeTtl(route: RouteRules, request: RequestHeaders, status = 200, varyNames: readonly string[] = []): number | undefined {
  if (cookieLimited(request, varyNames) || request['authorization'] !== undefined) return undefined;
  const byStatus = route.ttlByStatus?.get(status);
  if (byStatus !== undefined) return byStatus;
  return DEFAULT_TTL_STATUSES.has(status) ? route.ttl : undefined;
}

/**
 * Not RFC 9111: a route's `forceTtl` replaces whatever the origin said about freshness
 * (max-age, s-maxage, Expires, no-cache, no-store, must-revalidate, proxy-revalidate) for the
 * statuses a `ttl` applies to, and `ttlByStatus` does for the error statuses it names. It
 * never applies to a request carrying Authorization or Cookie (see routeTtl); private,
 * Set-Cookie and Vary: * are refused before it is consulted (checkStorable).
 */
export function forcedTtl(route: RouteRules, request: RequestHeaders, status: number, varyNames: readonly string[] = []): number | undefined {
  if (route.forceTtl === undefined) return undefined;
  if (cookieLimited(request, varyNames) || request['authorization'] !== undefined) return undefined;
  const byStatus = route.ttlByStatus?.get(status);
  if (byStatus !== undefined) return byStatus;
  return DEFAULT_TTL_STATUSES.has(status) ? route.forceTtl : undefined;
}

/** The times and flags a stored response carries, computed once when it is stored. */
export function entryTimes(
  response: PolicyResponse,
  request: RequestHeaders,
  route: RouteRules,
  settings: HeuristicRules,
  varyNames: readonly string[] = [],
): EntryTimes {
  const d = response.directives;
  const age = initialAge(response.headers, response.requestTime, response.responseTime);
  const forced = forcedTtl(route, request, response.status, varyNames);
  const ttl = routeTtl(route, request, response.status, varyNames);
  const { lifetime, source } = freshnessLifetime({
    status: response.status,
    headers: response.headers,
    directives: d,
    responseTime: response.responseTime,
    ...(forced === undefined ? {} : { forcedTtl: forced }),
    ...(ttl === undefined ? {} : { routeTtl: ttl }),
    heuristicFraction: settings.heuristicFraction,
    heuristicMax: settings.heuristicMax,
    heuristics: !cookieLimited(request, varyNames),
  });
  // RFC 9111 §4.2: the response is fresh until its age reaches its lifetime. A forced lifetime
  // counts from when larder received the response, whatever Age the origin sent.
  const freshUntil = forced !== undefined ? response.responseTime + lifetime : response.responseTime - age + lifetime;
  // RFC 9111 §5.2.2.10: s-maxage implies proxy-revalidate for a shared cache; RFC 5861 §4:
  // must-revalidate and proxy-revalidate forbid serving stale, which rules out both windows.
  // A forced lifetime overrules all three, so the route's stale windows apply on top of it.
  const mustRevalidate = forced === undefined && (d.mustRevalidate || d.proxyRevalidate || d.sMaxage !== undefined);
  // RFC 5861 §3, §4: the response's stale windows, or the route's when it gives none.
  const swr = mustRevalidate ? 0 : secondsOr(d.staleWhileRevalidate, route.staleWhileRevalidate);
  const sie = mustRevalidate ? 0 : secondsOr(d.staleIfError, route.staleIfError);
  return {
    initialAge: age,
    lifetime,
    lifetimeSource: source,
    freshUntil,
    staleWhileRevalidateUntil: freshUntil + swr,
    staleIfErrorUntil: freshUntil + sie,
    mustRevalidate,
    noCache: forced === undefined && d.noCache,
    // A forced lifetime never answers a request with Authorization, whatever §3.5 allowed.
    authShareable: forced === undefined && sharedDespiteAuthorization(d),
  };
}

function secondsOr(directive: number | undefined, routeDefaultMs: number | undefined): number {
  if (directive !== undefined) return directive * 1000;
  return routeDefaultMs ?? 0;
}

/** Last instant a stored response may answer without the origin: the end of its latest window. */
export function usableUntil(times: Pick<CacheEntry, 'freshUntil' | 'staleWhileRevalidateUntil' | 'staleIfErrorUntil'>): number {
  return Math.max(times.freshUntil, times.staleWhileRevalidateUntil, times.staleIfErrorUntil);
}

/** RFC 9111 §4.3.1: only a stored response with a validator can be revalidated. */
export function canRevalidate(entry: Pick<CacheEntry, 'etag' | 'lastModified'>): boolean {
  return entry.etag !== undefined || entry.lastModified !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Reusing (RFC 9111 §4)
// ---------------------------------------------------------------------------------------------

export type Decision =
  | { kind: 'HIT' }
  | { kind: 'STALE'; why: 'revalidate' | 'max-stale' }
  | { kind: 'REVALIDATE' }
  /** `why` when the entry was refused for this request (Vary, Authorization) rather than for its age. */
  | { kind: 'MISS'; why?: 'vary' | 'authorization' | 'cookie' };

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

export type EvaluateEntry = DecideEntry & Pick<CacheEntry, 'authShareable' | 'varyNames' | 'varyValues' | 'lifetimeSource'>;

// Shared answers: evaluating a hit allocates nothing.
const HIT: Decision = { kind: 'HIT' };
const REVALIDATE: Decision = { kind: 'REVALIDATE' };
const MISS: Decision = { kind: 'MISS' };
const MISS_VARY: Decision = { kind: 'MISS', why: 'vary' };
const MISS_AUTHORIZATION: Decision = { kind: 'MISS', why: 'authorization' };
const MISS_COOKIE: Decision = { kind: 'MISS', why: 'cookie' };
const STALE_REVALIDATE: Decision = { kind: 'STALE', why: 'revalidate' };
const STALE_MAX_STALE: Decision = { kind: 'STALE', why: 'max-stale' };

/**
 * RFC 9111 §4: what a stored response is good for when this request arrives. Only-if-cached
 * is the caller's business (it turns REVALIDATE/MISS into a 504).
 */
export function evaluate(entry: EvaluateEntry, request: PolicyRequest, now: number): Decision {
  // The reuse checks of reuseRefused below, written out: this runs on every hit.
  if (authorizationRefuses(request.headers, entry.authShareable)) return MISS_AUTHORIZATION;
  if (!varyMatches(entry, request.headers)) return MISS_VARY;
  if (request.headers['cookie'] !== undefined && cookieRefuses(entry)) return MISS_COOKIE;
  return decide(entry, request.cc, now);
}

/**
 * Whether a stored response may answer this request at all, whatever its age: RFC 9111 §3.5
 * (above) and RFC 9111 §4.1, "the selecting header fields nominated by the stored response
 * (if any) match those presented by the new request". A request that waited for another's
 * fill reuses its result only if this holds. On an entry that varies on nothing and a request
 * without Authorization it allocates nothing.
 */
export function reuseRefused(
  entry: Pick<CacheEntry, 'authShareable' | 'varyNames' | 'varyValues' | 'lifetimeSource'>,
  request: RequestHeaders,
): 'vary' | 'authorization' | 'cookie' | undefined {
  if (authorizationRefuses(request, entry.authShareable)) return 'authorization';
  if (!varyMatches(entry, request)) return 'vary';
  if (request['cookie'] !== undefined && cookieRefuses(entry)) return 'cookie';
  return undefined;
}

/**
 * The reuse side of cookieLimited: a stored response whose freshness the origin did not
 * declare, and that is not keyed on Cookie, does not answer a request carrying Cookie.
 */
function cookieRefuses(entry: Pick<CacheEntry, 'varyNames' | 'lifetimeSource'>): boolean {
  return !declared(entry.lifetimeSource) && !entry.varyNames.includes('cookie');
}

function validateOrMiss(entry: DecideEntry): Decision {
  return canRevalidate(entry) ? REVALIDATE : MISS;
}

/** RFC 9111 §4.2 and §5.2: how the age of a stored response and the request's directives decide its use. */
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
    return STALE_MAX_STALE;
  }

  // RFC 5861 §3: within stale-while-revalidate, a stale response may be served while it is
  // revalidated in the background, unless the request's own limits forbid it.
  if (now < entry.staleWhileRevalidateUntil && maxAgeOk && minFreshOk) return STALE_REVALIDATE;
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
