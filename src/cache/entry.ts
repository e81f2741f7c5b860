import type { Route, CacheSettings } from '../config/types.js';
import type { CacheEntry, HeaderMap } from '../types.js';
import { hiddenBy } from '../config/response-fields.js';
import {
  VIA,
  appendVia,
  canRevalidate,
  codingOf,
  recodedHeaders,
  single,
  stripHopByHop,
  usableUntil,
  withVaryAcceptEncoding,
  type EntryTimes,
} from '../rfc9111/index.js';
import { SERVABLE } from './compress.js';

/**
 * Fixed bytes charged per entry on top of its body and header text: the entry object,
 * its header map and arrays, the Buffer wrapper and the LRU's bookkeeping. Measured with
 * bench/memory.mjs (about 1,130 bytes per entry beyond the body, for 100 B to 10 KB bodies,
 * of which about 130 are header text).
 */
export const ENTRY_OVERHEAD = 1000;

/** The Via member larder adds (RFC 9110 §7.6.3); defined in rfc9111/fields.ts. */
export { VIA };

/** Response fields larder computes itself or never replays from storage. */
const NOT_STORED = new Set(['age', 'x-cache', 'content-length', 'set-cookie']);

export interface EntryInput {
  route: Pick<Route, 'name' | 'tags'> & Partial<Pick<Route, 'responseHeaders'>>;
  settings: Pick<CacheSettings, 'targeted'>;
  status: number;
  statusMessage: string;
  /** Response headers as received (hop-by-hop fields are removed here). */
  headers: HeaderMap;
  body: Buffer;
  requestTime: number;
  responseTime: number;
  varyNames: string[];
  varyValues: string[];
  /** The times and flags the policy computed for this response (rfc9111/policy.ts entryTimes). */
  times: EntryTimes;
  /** Store Set-Cookie along with the entry (only when the route opts in). */
  keepSetCookie: boolean;
  /** larder compressed the origin's identity body into this coding (`body` is the compressed bytes). */
  coding?: CacheEntry['coding'];
}

/** Builds a stored entry from the policy's times, preparing the headers to write on a hit. */
export function createEntry(input: EntryInput): CacheEntry {
  const headers = storedHeaders(input.headers, input.responseTime, input.keepSetCookie);
  const t = input.times;
  const shown = shownHeaders(headers, input.coding);
  const etag = single(shown['etag']);
  const lastModified = single(headers['last-modified']);
  const hidden = input.route.responseHeaders ?? [];
  const rawHeaders = prepareRawHeaders(shown, input.body.length, input.settings.targeted, hidden);
  const entry: CacheEntry = {
    v: 1,
    status: input.status,
    statusMessage: input.statusMessage,
    headers,
    rawHeaders,
    body: input.body,
    requestTime: input.requestTime,
    responseTime: input.responseTime,
    initialAge: t.initialAge,
    lifetime: t.lifetime,
    lifetimeSource: t.lifetimeSource,
    freshUntil: t.freshUntil,
    staleWhileRevalidateUntil: t.staleWhileRevalidateUntil,
    staleIfErrorUntil: t.staleIfErrorUntil,
    mustRevalidate: t.mustRevalidate,
    noCache: t.noCache,
    authShareable: t.authShareable,
    ...(etag === undefined ? {} : { etag }),
    ...(lastModified === undefined ? {} : { lastModified }),
    varyNames: input.varyNames,
    varyValues: input.varyValues,
    tags: collectTags(headers, input.route.tags),
    route: input.route.name,
    size: 0,
    fetchDuration: input.responseTime - input.requestTime,
    ...(input.coding === undefined ? {} : { coding: input.coding }),
  };
  entry.size = entrySize(entry);
  entry.preparedFor = hidden;
  markPrepared(entry, listsText(hidden, input.settings.targeted));
  return entry;
}

/**
 * Makes `rawHeaders` follow a route's responseHeaders list (and the targeted fields) when it
 * was prepared for another list: an entry read from the shared tier (written by any
 * instance, under any config) or stored before a reload. Compiled lists are compared by
 * identity, so a memory hit pays one comparison. An entry whose `rawHeaders` is known to have
 * been prepared from its own fields for the same lists (see markPrepared: the writer's lists
 * travel with an entry in the shared tier) keeps it: an L2 hit then rebuilds nothing when the
 * writer's config and the reader's agree. `size` is left as charged.
 */
export function prepareFor(entry: CacheEntry, hidden: readonly string[], consumed: readonly string[]): void {
  if (entry.preparedFor === hidden) return;
  const lists = listsText(hidden, consumed);
  if (preparedLists(entry) !== lists) {
    entry.rawHeaders = prepareRawHeaders(shownHeaders(entry.headers, entry.coding), entry.body.length, consumed, hidden);
    markPrepared(entry, lists);
  }
  entry.preparedFor = hidden;
}

/**
 * Bump when what prepareRawHeaders (or shownHeaders, or the Via member) makes of the same
 * fields and lists changes: lists stamped by another version then differ from this one's, and
 * an L2 hit rebuilds its header list rather than trust the writer's.
 */
const PREPARED_BY = 1;

/** The last text listsText made per responseHeaders list (lists are compiled once per config). */
const LISTS_TEXT = new WeakMap<readonly string[], { consumed: readonly string[]; text: string }>();

/**
 * The responseHeaders and targeted lists a header list is prepared for, as one string (with
 * PREPARED_BY): stored with an entry in the shared tier, so that a reader can tell whether the
 * writer prepared its list for the same lists. Memoised per list, so a hit compares strings.
 */
export function listsText(hidden: readonly string[], consumed: readonly string[]): string {
  const memo = LISTS_TEXT.get(hidden);
  if (memo !== undefined && memo.consumed === consumed) return memo.text;
  const text = JSON.stringify([PREPARED_BY, hidden, consumed]);
  LISTS_TEXT.set(hidden, { consumed, text });
  return text;
}

/**
 * Records, on `entry`, that its `rawHeaders` is
 * prepareRawHeaders(shownHeaders(entry.headers, entry.coding), entry.body.length, …) for the
 * lists `lists` (listsText). A record, not a flag: a copy of the entry given other fields
 * (a recoded copy, a 304's view) carries it along, and it then no longer matches
 * (preparedLists). The codec calls it for a list it decoded along with the writer's lists:
 * that list passed decode's checks, and the writer built it so.
 */
export function markPrepared(entry: CacheEntry, lists: string): void {
  entry.prepared = { raw: entry.rawHeaders, headers: entry.headers, coding: entry.coding, length: entry.body.length, lists };
}

/**
 * listsText of the lists the entry's `rawHeaders` was prepared for from its own fields (as
 * they are now: same list, header map, coding and body length), or '' when that is not known.
 */
export function preparedLists(entry: CacheEntry): string {
  const p = entry.prepared;
  if (p === undefined || p.raw !== entry.rawHeaders || p.headers !== entry.headers || p.coding !== entry.coding || p.length !== entry.body.length) return '';
  return p.lists;
}

/**
 * The fields clients see for a stored body: for a body larder compressed, the encoded
 * representation's (rfc9111 recodedHeaders); for a body the origin sent in a coding larder
 * can undo, the origin's plus Vary: Accept-Encoding, since other clients get it decoded;
 * otherwise the origin's as they are.
 */
export function shownHeaders(headers: HeaderMap, coding: CacheEntry['coding']): HeaderMap {
  if (coding !== undefined) return recodedHeaders(headers, coding, false);
  const stored = codingOf(headers['content-encoding'], SERVABLE);
  return stored === undefined || stored === 'identity' ? headers : withVaryAcceptEncoding(headers);
}

/**
 * The entry with its body replaced by the same content in `coding` (compressed by larder):
 * the fields clients see become the encoded representation's (see shownHeaders).
 */
export function withCoding(entry: CacheEntry, coding: NonNullable<CacheEntry['coding']>, body: Buffer, consumed: readonly string[]): CacheEntry {
  const shown = shownHeaders(entry.headers, coding);
  const etag = single(shown['etag']);
  const hidden = entry.preparedFor ?? [];
  const out: CacheEntry = { ...entry, body, coding, rawHeaders: prepareRawHeaders(shown, body.length, consumed, hidden) };
  markPrepared(out, listsText(hidden, consumed));
  if (etag === undefined) delete out.etag;
  else out.etag = etag;
  out.size = entrySize(out);
  return out;
}

/** What the memory tier is charged for an entry: body, header bytes and a fixed overhead. */
export function entrySize(entry: CacheEntry): number {
  let n = entry.body.length + ENTRY_OVERHEAD;
  for (const h of entry.rawHeaders) n += h.length;
  for (const v of entry.varyValues) n += v.length;
  for (const t of entry.tags) n += t.length;
  // The semantic header map holds the same strings as rawHeaders; V8 shares them, so
  // only its property slots are charged (part of the fixed overhead).
  return n;
}

/** Last instant the entry can still be of use to the cache: when it stops being usable (rfc9111/policy.ts). */
export function usefulUntil(entry: CacheEntry, keepForRevalidation: number): number {
  const end = usableUntil(entry);
  // An entry with a validator is worth keeping after it turns stale: a conditional
  // request can make it fresh again for the price of a 304.
  return canRevalidate(entry) ? end + keepForRevalidation : end;
}

function storedHeaders(src: HeaderMap, responseTime: number, keepSetCookie: boolean): HeaderMap {
  const out: HeaderMap = {};
  const clean = stripHopByHop(src);
  for (const name of Object.keys(clean)) {
    if (NOT_STORED.has(name) && !(keepSetCookie && name === 'set-cookie')) continue;
    const value = clean[name];
    if (value !== undefined) out[name] = value;
  }
  // RFC 9110 §6.6.1: a recipient that caches a response without Date records the time it
  // was received and adds a Date field for it.
  if (out['date'] === undefined) out['date'] = new Date(responseTime).toUTCString();
  return out;
}

/**
 * The flat [name, value, ...] list written on every hit: stored fields (less the targeted
 * cache-control fields larder consumed and the route's responseHeaders list), Content-Length
 * for the stored body and Via. Cache-Status is left out because a hit appends its own
 * member to whatever the origin sent, and X-Cache-Hits because it is larder's own.
 */
export function prepareRawHeaders(headers: HeaderMap, bodyLength: number, consumed: readonly string[] = [], hidden: readonly string[] = []): string[] {
  const raw: string[] = [];
  const hide = hiddenBy(hidden);
  let via: string | string[] | undefined;
  for (const name of Object.keys(headers)) {
    // Targeted cache-control fields (RFC 9213) are kept in `headers` for revalidation but
    // are addressed to larder, not to clients.
    if (name === 'cache-status' || name === 'x-cache-hits' || consumed.includes(name) || hide(name)) continue;
    const value = headers[name]!;
    if (name === 'via') {
      via = value;
      continue;
    }
    if (Array.isArray(value)) for (const v of value) raw.push(name, v);
    else raw.push(name, value);
  }
  raw.push('content-length', String(bodyLength), 'via', appendVia(via));
  return raw;
}

function collectTags(headers: HeaderMap, routeTags: readonly string[]): string[] {
  const tags = new Set(routeTags);
  for (const field of ['surrogate-key', 'cache-tag']) {
    const v = headers[field];
    if (v === undefined) continue;
    for (const line of Array.isArray(v) ? v : [v]) {
      for (const t of line.split(/[\s,]+/)) if (t !== '') tags.add(t);
    }
  }
  return [...tags];
}

