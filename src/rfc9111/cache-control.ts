import { parseDictionary } from './structured-field.js';
import type { HeaderMap, RequestInfo } from '../types.js';
import { TOKEN, lines } from './fields.js';

/** Directive name (lower case) → its argument, or `true` when it has none. */
export type Directives = Map<string, string | true>;

/** RFC 9111 §1.2.2: the value caches must use when a delta-seconds does not fit. */
export const DELTA_SECONDS_MAX = 2147483648;

/** Splits at commas that are not inside a well-formed quoted-string. */
function splitList(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const end = closingQuote(text, i);
      // An unterminated quote is taken literally so that it cannot swallow later
      // directives (a stray `"` must not hide a following no-store).
      i = end === -1 ? i + 1 : end + 1;
      continue;
    }
    if (c === ',') {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  parts.push(text.slice(start));
  return parts;
}

/** Index of the quote closing the quoted-string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/** The argument of a directive, unquoted; undefined when it is a malformed quoted-string. */
function argument(raw: string): string | undefined {
  if (!raw.startsWith('"')) return raw;
  const end = closingQuote(raw, 0);
  if (end !== raw.length - 1) return undefined;
  // RFC 9110 §5.6.4: a backslash quotes the octet that follows it.
  return raw.slice(1, -1).replace(/\\(.)/gs, '$1');
}

/**
 * RFC 9111 §5.2: Cache-Control is a list of `token [ "=" ( token / quoted-string ) ]`
 * directives whose names are case-insensitive.
 */
export function parseCacheControl(value: string | string[] | undefined): Directives {
  const out: Directives = new Map();
  // RFC 9110 §5.3: several field lines mean the same as one line joined with commas.
  for (const part of splitList(lines(value).join(','))) {
    const eq = part.indexOf('=');
    // Whitespace around `=` is outside the grammar; it is tolerated because the
    // intent of `max-age = 60` is unambiguous.
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!TOKEN.test(name)) continue;
    let arg: string | true = true;
    if (eq !== -1) {
      const parsed = argument(part.slice(eq + 1).trim());
      if (parsed === undefined) continue;
      arg = parsed;
    }
    // RFC 9111 §4.2.1: with several values for one directive, the first occurrence may be used.
    if (!out.has(name)) out.set(name, arg);
  }
  return out;
}

/**
 * RFC 9111 §1.2.2: delta-seconds is a non-negative integer of digits, and a value too large
 * to represent is taken as 2147483648.
 *
 * A quoted number (`max-age="3600"`) arrives here already unquoted by parseCacheControl and is
 * accepted: RFC 9111 §5.2 asks recipients to accept the quoted form of a token argument, and
 * the cache-tests suite, undici and http-cache-semantics all honour it. A value that still
 * carries double quotes (passed in raw) is unquoted once here too.
 */
export function deltaSeconds(v: string | true | undefined): number | undefined {
  if (typeof v !== 'string') return undefined;
  let s = v;
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : n;
}

export interface ResponseDirectives {
  noStore: boolean;
  /** Unqualified or qualified: both are treated as needing revalidation. */
  noCache: boolean;
  private: boolean;
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  mustUnderstand: boolean;
  immutable: boolean;
  noTransform: boolean;
  /** Seconds. */
  maxAge?: number;
  /** Seconds. */
  sMaxage?: number;
  /** Seconds (RFC 5861 §3). */
  staleWhileRevalidate?: number;
  /** Seconds (RFC 5861 §4). */
  staleIfError?: number;
}

/**
 * A lifetime directive that is present but malformed (`max-age=abc`, `max-age=1.5`) still
 * states an explicit expiration, so heuristics must not replace it (RFC 9111 §4.2.2); the
 * most restrictive reading, "already stale", is used (RFC 9111 §4.2.1 prefers staleness
 * when freshness information is ambiguous).
 */
function lifetimeDirective(d: Directives, name: string): number | undefined {
  if (!d.has(name)) return undefined;
  return deltaSeconds(d.get(name)) ?? 0;
}

/**
 * The targeted fields (RFC 9213) larder honours by default, highest precedence first:
 * its own, then the one aimed at every CDN.
 */
export const DEFAULT_TARGETED_FIELDS: readonly string[] = ['larder-cache-control', 'cdn-cache-control'];

/**
 * RFC 9213 §2.2: a cache uses the first targeted field in its precedence list that is
 * present and a valid Structured Field Dictionary, and then ignores Cache-Control (and
 * lower targeted fields). An invalid targeted field is ignored as a whole.
 */
export function targetedDirectives(headers: HeaderMap, fields: readonly string[]): Directives | undefined {
  for (const name of fields) {
    const dict = parseDictionary(headers[name]);
    if (dict === undefined) continue;
    const d: Directives = new Map();
    for (const [key, value] of dict) {
      if (value === true) d.set(key, true);
      // RFC 9213 §2.1: directive values have the types Cache-Control gives them; a value of
      // another type (max-age="60") makes that directive absent, not the field.
      else if (typeof value === 'number' && Number.isInteger(value) && value >= 0) d.set(key, String(value));
    }
    return d;
  }
  return undefined;
}

export function responseDirectives(headers: HeaderMap, targeted: readonly string[] = DEFAULT_TARGETED_FIELDS): Readonly<ResponseDirectives> {
  const targetedField = targeted.some((name) => headers[name] !== undefined);
  const cc = headers['cache-control'];
  // The common case, an origin answering the same Cache-Control line again and again, is
  // parsed once: the result depends on that line alone. Results are frozen: they are shared.
  if (targetedField || (cc !== undefined && typeof cc !== 'string') || (cc !== undefined && cc.length > PARSED_LONGEST)) {
    return directivesOf(targetedDirectives(headers, targeted) ?? parseCacheControl(cc));
  }
  const line = cc ?? '';
  let out = PARSED.get(line);
  if (out === undefined) {
    out = Object.freeze(directivesOf(parseCacheControl(cc)));
    if (PARSED.size >= PARSED_MAX) PARSED.clear();
    PARSED.set(line, out);
  }
  return out;
}

/** Response directives by Cache-Control line, for responses without a targeted field (bounded). */
const PARSED = new Map<string, Readonly<ResponseDirectives>>();
const PARSED_MAX = 512;
const PARSED_LONGEST = 512;

function directivesOf(d: Directives): ResponseDirectives {
  const out: ResponseDirectives = {
    noStore: d.has('no-store'),
    noCache: d.has('no-cache'),
    private: d.has('private'),
    public: d.has('public'),
    mustRevalidate: d.has('must-revalidate'),
    proxyRevalidate: d.has('proxy-revalidate'),
    mustUnderstand: d.has('must-understand'),
    immutable: d.has('immutable'),
    noTransform: d.has('no-transform'),
  };
  const maxAge = lifetimeDirective(d, 'max-age');
  if (maxAge !== undefined) out.maxAge = maxAge;
  const sMaxage = lifetimeDirective(d, 's-maxage');
  if (sMaxage !== undefined) out.sMaxage = sMaxage;
  // RFC 5861: a malformed stale window grants nothing, which is the restrictive reading.
  const swr = deltaSeconds(d.get('stale-while-revalidate'));
  if (swr !== undefined) out.staleWhileRevalidate = swr;
  const sie = deltaSeconds(d.get('stale-if-error'));
  if (sie !== undefined) out.staleIfError = sie;
  return out;
}

export interface RequestDirectives {
  noCache: boolean;
  noStore: boolean;
  onlyIfCached: boolean;
  /** Seconds. */
  maxAge?: number;
  /** Seconds. */
  minFresh?: number;
  /** Seconds; Infinity when max-stale has no value. */
  maxStale?: number;
  /** Seconds (RFC 5861 §4, request form). */
  staleIfError?: number;
}

/** What a request without Cache-Control or Pragma asks for: nothing. Shared, never mutated. */
export const NO_REQUEST_DIRECTIVES: RequestDirectives = Object.freeze({ noCache: false, noStore: false, onlyIfCached: false });

export function requestDirectives(headers: RequestInfo['headers']): RequestDirectives {
  const cc = headers['cache-control'];
  // Most requests carry neither field; they should cost nothing to read.
  if (cc === undefined && headers['pragma'] === undefined) return NO_REQUEST_DIRECTIVES;
  const d = parseCacheControl(cc);
  const out: RequestDirectives = {
    noCache: d.has('no-cache'),
    noStore: d.has('no-store'),
    onlyIfCached: d.has('only-if-cached'),
  };
  // RFC 9111 §5.4: Pragma: no-cache means Cache-Control: no-cache only when the request
  // has no Cache-Control field (compatibility with HTTP/1.0 clients).
  if (cc === undefined && pragmaNoCache(headers['pragma'])) out.noCache = true;
  // Malformed request arguments are ignored: the client then simply gets default behaviour.
  const maxAge = deltaSeconds(d.get('max-age'));
  if (maxAge !== undefined) out.maxAge = maxAge;
  const minFresh = deltaSeconds(d.get('min-fresh'));
  if (minFresh !== undefined) out.minFresh = minFresh;
  // RFC 9111 §5.2.1.2: max-stale without a value accepts a stale response of any age.
  const maxStale = d.get('max-stale');
  if (maxStale === true) out.maxStale = Infinity;
  else {
    const n = deltaSeconds(maxStale);
    if (n !== undefined) out.maxStale = n;
  }
  const sie = deltaSeconds(d.get('stale-if-error'));
  if (sie !== undefined) out.staleIfError = sie;
  return out;
}

function pragmaNoCache(value: string | string[] | undefined): boolean {
  return lines(value)
    .join(',')
    .split(',')
    .some((p) => p.trim().toLowerCase() === 'no-cache');
}
