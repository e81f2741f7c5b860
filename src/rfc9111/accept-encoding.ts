/**
 * Content codings (RFC 9110 §8.4, §12.5.3): what a client's Accept-Encoding accepts, the one
 * coding larder serves it, and the fields of a representation larder encodes or decodes
 * itself (RFC 9110 §8.8.3: a changed representation cannot keep a strong validator). Pure.
 */
import type { HeaderMap } from '../types.js';
import { lines, single } from './fields.js';
import { parseVary } from './vary.js';

/** The content codings larder can produce and undo; `identity` is "no coding". */
export type Coding = 'br' | 'zstd' | 'gzip' | 'identity';

/** Compressed codings, in the order larder prefers among equal weights. */
export const CODINGS: readonly Exclude<Coding, 'identity'>[] = ['br', 'zstd', 'gzip'];

/** One member of Accept-Encoding: a coding (lower case, `*` for any) and its weight. */
export interface Preference {
  coding: string;
  q: number;
}

/** RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * RFC 9110 §12.5.3: Accept-Encoding = #( codings [ weight ] ). A member whose weight is not a
 * valid qvalue is dropped (as if not sent). `x-gzip` is gzip (RFC 9110 §8.4.1.3).
 */
export function parseAcceptEncoding(value: unknown): Preference[] {
  const out: Preference[] = [];
  for (const member of lines(value).join(',').split(',')) {
    const parts = member.split(';');
    let coding = parts[0]!.trim().toLowerCase();
    if (coding === '') continue;
    if (coding === 'x-gzip') coding = 'gzip';
    let q = 1;
    let valid = true;
    for (const param of parts.slice(1)) {
      const eq = param.indexOf('=');
      if (eq === -1) continue;
      if (param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      const raw = param.slice(eq + 1).trim();
      if (!QVALUE.test(raw)) valid = false;
      else q = Number(raw);
    }
    if (valid) out.push({ coding, q });
  }
  return out;
}

/**
 * The weight a parsed Accept-Encoding gives `coding`. RFC 9110 §12.5.3: a coding listed
 * explicitly has its own weight; `*` matches any coding not listed; identity is acceptable
 * unless listed with q=0 or excluded by `*;q=0`. An absent field (`undefined`) is taken as
 * identity only: a client that says nothing gets the bytes every client can read.
 */
export function weightOf(prefs: readonly Preference[] | undefined, coding: Coding): number {
  if (prefs === undefined) return coding === 'identity' ? 1 : 0;
  let star: number | undefined;
  for (const p of prefs) {
    if (p.coding === coding) return p.q;
    if (p.coding === '*') star = p.q;
  }
  if (star !== undefined) return star;
  return coding === 'identity' ? 1 : 0;
}

/** Whether a client's Accept-Encoding (raw field) accepts `coding`. */
export function accepts(acceptEncoding: unknown, coding: Coding): boolean {
  const prefs = acceptEncoding === undefined ? undefined : parseAcceptEncoding(acceptEncoding);
  return weightOf(prefs, coding) > 0;
}

/**
 * The one coding larder serves a client, among `available` (in preference order) and
 * identity: the highest weight wins (identity ranks as identityRank says), a compressed coding
 * wins a tie with identity, and the
 * earlier of `available` wins a tie between codings. A client that accepts nothing larder
 * can produce (`identity;q=0` alone) is answered in identity, as RFC 9110 §12.5.3 allows.
 */
export function preferredCoding(acceptEncoding: unknown, available: readonly Coding[]): Coding {
  if (acceptEncoding === undefined) return 'identity';
  const prefs = parseAcceptEncoding(acceptEncoding);
  let best: Coding = 'identity';
  let bestQ = identityRank(prefs);
  for (const c of available) {
    if (c === 'identity') continue;
    const q = weightOf(prefs, c);
    if (q > 0 && (q > bestQ || (q === bestQ && best === 'identity'))) {
      best = c;
      bestQ = q;
    }
  }
  return best;
}

/**
 * Where identity ranks among a client's preferences: its own weight when listed (or given by
 * `*`), else just above 0. Identity is acceptable by default (RFC 9110 §12.5.3) but carries no
 * weight of its own, so any coding the client names with q > 0 is preferred to it.
 */
export function identityRank(prefs: readonly Preference[] | undefined): number {
  if (prefs === undefined) return 1;
  if (prefs.some((p) => p.coding === 'identity' || p.coding === '*')) return weightOf(prefs, 'identity');
  return 0.0001;
}

/**
 * The coding of a stored body from its Content-Encoding (RFC 9110 §8.4): identity when there
 * is none, one of the codings larder knows, or undefined for anything else (an unknown or
 * stacked coding such as `gzip, br`), which larder relays as it is and never transforms.
 */
export function codingOf(contentEncoding: unknown, known: readonly Coding[]): Coding | undefined {
  const members = lines(contentEncoding)
    .join(',')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && s !== 'identity');
  if (members.length === 0) return 'identity';
  if (members.length > 1) return undefined;
  const c = members[0] === 'x-gzip' ? 'gzip' : members[0]!;
  return (known as readonly string[]).includes(c) ? (c as Coding) : undefined;
}

/** RFC 9110 §7.7: a proxy must not transform the content of a response that says no-transform. */
export function forbidsTransform(headers: HeaderMap): boolean {
  return /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(lines(headers['cache-control']).join(','));
}

/** Fields that describe the exact bytes of the content, and cannot follow it through a new coding. */
const BYTE_FIELDS = ['content-md5', 'content-digest', 'repr-digest', 'digest'];

/**
 * The fields of a representation in `coding` derived from `headers` (those of the stored one).
 * Content-Encoding names the new coding; Vary gains Accept-Encoding (RFC 9110 §12.5.5: the
 * choice depends on it); digests of the old bytes go. RFC 9110 §8.8.3: a strong ETag names
 * one sequence of bytes, so unless the result is byte for byte what the origin sent (`exact`),
 * a strong ETag is made weak: the representations are equivalent, not identical.
 */
export function recodedHeaders(headers: HeaderMap, coding: Coding, exact: boolean): HeaderMap {
  const out: HeaderMap = {};
  for (const name of Object.keys(headers)) {
    if (name === 'content-encoding' || BYTE_FIELDS.includes(name)) continue;
    out[name] = headers[name]!;
  }
  if (coding !== 'identity') out['content-encoding'] = coding;
  if (exact) {
    for (const name of BYTE_FIELDS) if (headers[name] !== undefined) out[name] = headers[name]!;
  } else {
    const etag = single(headers['etag']);
    if (etag !== undefined) out['etag'] = weakened(etag);
  }
  return withVaryAcceptEncoding(out);
}

/** `headers` with Accept-Encoding among its Vary names (a copy; unchanged when already there or Vary is `*`). */
export function withVaryAcceptEncoding(headers: HeaderMap): HeaderMap {
  const vary = parseVary(headers['vary']);
  if (vary.star || vary.names.includes('accept-encoding')) return headers;
  const current = lines(headers['vary']).join(', ').trim();
  return { ...headers, vary: current === '' ? 'Accept-Encoding' : `${current}, Accept-Encoding` };
}

/** RFC 9110 §8.8.3: entity-tag = [ weakness ] opaque-tag; a strong tag gains the W/ prefix. */
export function weakened(etag: string): string {
  const t = etag.trim();
  return t.startsWith('W/') || !t.startsWith('"') ? t : `W/${t}`;
}
