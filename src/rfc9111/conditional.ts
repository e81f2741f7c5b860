import type { HeaderMap, RequestInfo } from '../types.js';
import { parseHttpDate } from './dates.js';
import { lines, single } from './fields.js';
import { HOP_BY_HOP, connectionOptions } from './hop-by-hop.js';

/** An entity-tag split into its weakness flag and opaque-tag (quotes included). */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

/** The field's lines joined as one list (RFC 9110 §5.3), or undefined when it has none. */
function joined(value: unknown): string | undefined {
  const parts = lines(value);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/**
 * RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE. Unquoted tags from careless
 * origins are kept as they are, so that they still compare equal to themselves.
 */
export function parseETag(value: string): EntityTag | undefined {
  let s = value.trim();
  let weak = false;
  if (s.startsWith('W/')) {
    weak = true;
    s = s.slice(2);
  }
  return s === '' ? undefined : { weak, opaque: s };
}

/** A comma-separated list of entity-tags; commas inside a quoted opaque-tag do not split it. */
export function parseETagList(value: string): EntityTag[] {
  const out: EntityTag[] = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length && (value[i] === ' ' || value[i] === '\t' || value[i] === ',')) i++;
    if (i >= value.length) break;
    const start = i;
    if (value.startsWith('W/', i)) i += 2;
    if (value[i] === '"') {
      const close = value.indexOf('"', i + 1);
      i = close === -1 ? value.length : close + 1;
    } else {
      while (i < value.length && value[i] !== ',') i++;
    }
    const tag = parseETag(value.slice(start, i));
    if (tag) out.push(tag);
    // Skip anything trailing the tag up to the next comma.
    while (i < value.length && value[i] !== ',') i++;
  }
  return out;
}

/** RFC 9110 §8.8.3.2: weak comparison — the opaque-tags match, whatever their weakness. */
const weakMatch = (a: EntityTag, b: EntityTag): boolean => a.opaque === b.opaque;

/** RFC 9110 §8.8.3.2: strong comparison — both strong and the opaque-tags match. */
const strongMatch = (a: EntityTag, b: EntityTag): boolean => !a.weak && !b.weak && a.opaque === b.opaque;

/**
 * RFC 9111 §4.3.2: a cache answers a conditional GET/HEAD from the stored response, 304 when
 * the stored response (`status`, `entryHeaders`) passes the condition. The caller handles only GET/HEAD requests here.
 * If-Match / If-Unmodified-Since are left to the origin (RFC 9111 §4.3.2: such preconditions
 * are likely intended for an inbound server).
 */
export function clientNotModified(reqHeaders: RequestInfo['headers'], status: number, entryHeaders: HeaderMap, storedAt: number): boolean {
  // RFC 9110 §13.2.1: preconditions are evaluated only when the response would otherwise be
  // 2xx; a stored 404 or 301 is served as it is, never turned into a 304.
  if (status < 200 || status > 299) return false;
  const inm = joined(reqHeaders['if-none-match']);
  // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
  if (inm !== undefined) {
    // RFC 9110 §13.1.2: "*" is false only when there is no current representation; we have one.
    if (inm.trim() === '*') return true;
    const stored = single(entryHeaders['etag']);
    const tag = stored === undefined ? undefined : parseETag(stored);
    if (tag === undefined) return false;
    // RFC 9110 §13.1.2: If-None-Match uses the weak comparison function.
    return parseETagList(inm).some((t) => weakMatch(t, tag));
  }

  const imsRaw = joined(reqHeaders['if-modified-since']);
  if (imsRaw === undefined) return false;
  // RFC 9110 §13.1.3: an invalid If-Modified-Since date is ignored.
  const ims = parseHttpDate(imsRaw);
  if (ims === undefined) return false;
  // RFC 9111 §4.3.2: compare with Last-Modified, else Date, else the time the response was stored.
  const modified =
    parseHttpDate(entryHeaders['last-modified']) ?? parseHttpDate(entryHeaders['date']) ?? storedAt;
  // RFC 9110 §13.1.3: false (send 200) when modified after the given date.
  return modified <= ims;
}

/**
 * RFC 9111 §4.3.1: when revalidating, a cache sends the stored ETag in If-None-Match and the
 * stored Last-Modified in If-Modified-Since.
 */
export function revalidationHeaders(entryHeaders: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  const etag = single(entryHeaders['etag'])?.trim();
  if (etag) out['if-none-match'] = etag;
  const lm = single(entryHeaders['last-modified'])?.trim();
  if (lm && parseHttpDate(lm) !== undefined) out['if-modified-since'] = lm;
  return out;
}

/**
 * RFC 9110 §15.4.5: a 304 carries the fields a 200 would have sent among Content-Location,
 * Date, ETag, Vary, Cache-Control and Expires, and no other representation metadata except
 * fields that guide cache updates (Last-Modified). No Content-Length or body fields.
 */
const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'last-modified', 'vary'];

export function notModifiedHeaders(entryHeaders: HeaderMap): HeaderMap {
  const out: HeaderMap = {};
  for (const name of NOT_MODIFIED_FIELDS) {
    const v = entryHeaders[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/**
 * Fields of a 304 that never replace stored ones.
 * RFC 9111 §3.2: Content-Length is never updated, nor fields the stored response depends on:
 * Content-Encoding and Content-Range describe the stored body bytes, which a 304 cannot change.
 */
const NOT_UPDATED = new Set(['content-length', 'content-encoding', 'content-range']);

export interface Update304Options {
  /** Also store the 304's Set-Cookie (the route opted in to sharing cookies). Default false. */
  shareSetCookie?: boolean;
}

/**
 * RFC 9111 §3.2: a cache adds each header field of the 304 to the stored response, replacing
 * all stored lines of that field, except the fields listed above and those excluded from
 * storage by §3.1 (hop-by-hop and Connection-listed fields).
 * Age always comes from the 304 or is dropped: the stored Age described an older message.
 * Set-Cookie from a 304 is not stored unless opted in, for the same reason as on a miss.
 */
export function update304(stored: HeaderMap, fresh: HeaderMap, options: Update304Options = {}): HeaderMap {
  const out: HeaderMap = {};
  const listed = connectionOptions(fresh['connection']);
  const skip = (name: string): boolean =>
    NOT_UPDATED.has(name) ||
    HOP_BY_HOP.has(name) ||
    listed.has(name) ||
    (name === 'set-cookie' && options.shareSetCookie !== true);
  for (const [name, value] of Object.entries(stored)) {
    if (name === 'age') continue;
    out[name] = Array.isArray(value) ? [...value] : value;
  }
  for (const [raw, value] of Object.entries(fresh)) {
    const name = raw.toLowerCase();
    if (skip(name) || value === undefined) continue;
    out[name] = Array.isArray(value) ? [...value] : value;
  }
  return out;
}

/**
 * RFC 9111 §4.3.4: which stored response a 304 freshens.
 * - A strong ETag in the 304 selects the stored response with that same strong ETag.
 * - A weak ETag selects a stored response whose ETag matches weakly.
 * - Without an ETag, a Last-Modified in the 304 must equal the stored one.
 * - A 304 with no validator at all freshens the entry: larder keeps one response per
 *   variant and sent the conditional request from it, so the selection is unambiguous
 *   (a wider reading of the rule's "only one stored response" case).
 */
export function validatorMatches(entryHeaders: HeaderMap, notModified: HeaderMap): boolean {
  const newRaw = single(notModified['etag']);
  if (newRaw !== undefined) {
    const fresh = parseETag(newRaw);
    const storedRaw = single(entryHeaders['etag']);
    const stored = storedRaw === undefined ? undefined : parseETag(storedRaw);
    if (fresh === undefined || stored === undefined) return false;
    return fresh.weak ? weakMatch(fresh, stored) : strongMatch(fresh, stored);
  }
  const newLmRaw = single(notModified['last-modified']);
  if (newLmRaw !== undefined) {
    const newLm = parseHttpDate(newLmRaw);
    const storedLm = parseHttpDate(entryHeaders['last-modified']);
    return newLm !== undefined && newLm === storedLm;
  }
  return true;
}
