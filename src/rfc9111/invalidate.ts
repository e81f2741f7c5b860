import type { HeaderMap } from '../types.js';
import { single } from './fields.js';

/** A request target as the cache keys it: lower-case authority and origin-form target. */
export interface TargetRef {
  /** host[:port], lower case, as the request's Host (or absolute-form authority) gave it. */
  host: string;
  /** Origin-form: "/path?query". */
  target: string;
}

/** The unsafe methods RFC 9110 (§9.3, and RFC 5789 for PATCH) defines. */
export const INVALIDATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/** RFC 9110 §9.2.1: the methods defined as safe (and PRI, which is never a real request). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'REPORT', 'PRI']);

/**
 * RFC 9111 §4.4: "A cache MUST invalidate the target URI when it receives a non-error status
 * code in response to an unsafe request method (including methods whose safety is unknown)."
 * With `unknown` false, only the defined unsafe methods invalidate: an operator's choice that
 * keeps a client from evicting entries with PURGE or a made-up method.
 */
export function invalidates(method: string, unknown: boolean): boolean {
  if (INVALIDATING_METHODS.has(method)) return true;
  return unknown && !SAFE_METHODS.has(method);
}

/** Characters a request-target cannot carry as they are (RFC 3986 §2): escaped as UTF-8. */
const UNSAFE = /[^\x21-\x7e]|["<>\\^`{|}]/gu;

function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE, (c) => {
    let out = '';
    // A lone surrogate becomes U+FFFD, as any UTF-8 encoder writes it.
    for (const byte of Buffer.from(c, 'utf8')) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

/** Default ports do not make another origin: "example.com:80" is "example.com" for http. */
function authorityOf(scheme: string, authority: string): string {
  const a = authority.toLowerCase();
  const port = scheme === 'https' ? ':443' : ':80';
  return a.endsWith(port) ? a.slice(0, -port.length) : a;
}

/**
 * RFC 3986 §5.2 reference resolution against the request, for the forms a Location or
 * Content-Location can take. Only references to the request's own origin are returned
 * (RFC 9111 §4.4: the same origin, so that one site cannot evict another's entries); their
 * path is left for the request-target resolver to normalise, exactly as a GET's would be.
 */
export function resolveReference(base: TargetRef, value: string): TargetRef | undefined {
  let ref = value.trim();
  const hash = ref.indexOf('#');
  if (hash !== -1) ref = ref.slice(0, hash);
  if (ref === '') return undefined;
  ref = escapeUnsafe(ref);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(ref);
  let rest: string;
  if (scheme !== null || ref.startsWith('//')) {
    // larder's clients speak plain http: an https URI names another origin (RFC 9110 §4.3.1).
    const s = scheme === null ? 'http' : scheme[1]!.toLowerCase();
    if (s !== 'http') return undefined;
    const after = scheme === null ? ref : ref.slice(scheme[0].length);
    if (!after.startsWith('//')) return undefined;
    let end = 2;
    while (end < after.length && after[end] !== '/' && after[end] !== '?') end++;
    const authority = after.slice(2, end);
    if (authority === '' || authority.includes('@')) return undefined;
    if (authorityOf(s, authority) !== authorityOf(s, base.host)) return undefined;
    rest = after.slice(end);
    return { host: base.host, target: rest === '' ? '/' : rest.startsWith('?') ? '/' + rest : rest };
  }
  if (ref.startsWith('/')) return { host: base.host, target: ref };
  const q = base.target.indexOf('?');
  const basePath = q === -1 ? base.target : base.target.slice(0, q);
  if (ref.startsWith('?')) return { host: base.host, target: basePath + ref };
  // RFC 3986 §5.2.3: merge with the base path up to its last "/".
  return { host: base.host, target: basePath.slice(0, basePath.lastIndexOf('/') + 1) + ref };
}

/**
 * RFC 9111 §4.4: after a non-error (2xx or 3xx) response to an unsafe method, a cache must
 * invalidate the target URI, and may invalidate the URIs in Location and Content-Location,
 * but only when they share the target's origin (to stop denial-of-service on other sites).
 * The caller checks the method (INVALIDATING_METHODS). Fragments are dropped: keys have none.
 */
export function invalidationTargets(request: TargetRef, status: number, responseHeaders: HeaderMap): TargetRef[] {
  if (!(status >= 200 && status < 400)) return [];
  const out: TargetRef[] = [request];
  for (const name of ['location', 'content-location']) {
    const value = single(responseHeaders[name]);
    if (value === undefined) continue;
    const ref = resolveReference(request, value);
    if (ref !== undefined && !out.some((t) => t.target === ref.target)) out.push(ref);
  }
  return out;
}
