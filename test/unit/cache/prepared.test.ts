import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/cache/codec.js';
import { createEntry, listsText, preparedLists, prepareFor, prepareRawHeaders, shownHeaders, type EntryInput } from '../../../src/cache/entry.js';
import type { CacheEntry, HeaderMap } from '../../../src/types.js';

const KEY = 'shop.test/p';
const T = Date.UTC(2026, 0, 1);

/** An entry as a fill makes it, prepared for `hidden` (responseHeaders) and `consumed` (targeted). */
function made(hidden: readonly string[], consumed: readonly string[], headers: HeaderMap = origin()): CacheEntry {
  const input: EntryInput = {
    route: { name: 'r', tags: [], responseHeaders: hidden },
    settings: { targeted: consumed },
    status: 200,
    statusMessage: 'OK',
    headers,
    body: Buffer.from('hello'),
    requestTime: T - 5,
    responseTime: T,
    varyNames: [],
    varyValues: [],
    times: {
      initialAge: 0,
      lifetime: 60_000,
      lifetimeSource: 'max-age',
      freshUntil: T + 60_000,
      staleWhileRevalidateUntil: T + 60_000,
      staleIfErrorUntil: T + 60_000,
      mustRevalidate: false,
      noCache: false,
      authShareable: false,
    },
    keepSetCookie: false,
  };
  return createEntry(input);
}

function origin(): HeaderMap {
  return {
    'content-type': 'text/plain',
    'cache-control': 'max-age=60',
    'cdn-cache-control': 'max-age=600',
    'x-powered-by': 'php',
    'x-debug-id': '7',
    'surrogate-key': 'a b',
    date: new Date(T).toUTCString(),
  };
}

/** What a reader with these lists must write: the list rebuilt from the entry's own fields. */
function rebuilt(e: CacheEntry, hidden: readonly string[], consumed: readonly string[]): string[] {
  return prepareRawHeaders(shownHeaders(e.headers, e.coding), e.body.length, consumed, hidden);
}

function roundTrip(e: CacheEntry): CacheEntry {
  const d = decode(encode(e, KEY), KEY);
  if (d === undefined || 'kind' in d) throw new Error('no entry');
  return d;
}

describe('header lists prepared by the writer (shared tier)', () => {
  const HIDDEN = ['x-debug-*', 'x-powered-by'];
  const TARGETED = ['cdn-cache-control'];

  it('a reader whose lists read the same writes the stored list as it is, and it is the list a rebuild would make', () => {
    const d = roundTrip(made(HIDDEN, TARGETED));
    // Lists of the same text compiled by another config (other arrays) still match.
    const hidden = [...HIDDEN];
    const consumed = [...TARGETED];
    expect(preparedLists(d)).toBe(listsText(hidden, consumed));
    const stored = d.rawHeaders;
    prepareFor(d, hidden, consumed);
    expect(d.rawHeaders).toBe(stored);
    expect(d.rawHeaders).toEqual(rebuilt(d, hidden, consumed));
    expect(d.preparedFor).toBe(hidden);
    expect(d.rawHeaders).not.toContain('x-powered-by');
    expect(d.rawHeaders).not.toContain('cdn-cache-control');
  });

  it("a reader with another responseHeaders list gets its own fields, not the writer's", () => {
    const d = roundTrip(made(HIDDEN, TARGETED));
    const hidden = ['surrogate-key'];
    prepareFor(d, hidden, TARGETED);
    expect(d.rawHeaders).toEqual(rebuilt(d, hidden, TARGETED));
    expect(d.rawHeaders).toContain('x-powered-by');
    expect(d.rawHeaders).toContain('x-debug-id');
    expect(d.rawHeaders).not.toContain('surrogate-key');
    // ... and the next read under the first lists rebuilds again.
    const again = roundTrip(made(HIDDEN, TARGETED));
    prepareFor(again, [], TARGETED);
    expect(again.rawHeaders).toContain('surrogate-key');
  });

  it("a reader with another targeted list gets its own fields, not the writer's", () => {
    const d = roundTrip(made(HIDDEN, TARGETED));
    prepareFor(d, HIDDEN, []);
    expect(d.rawHeaders).toEqual(rebuilt(d, HIDDEN, []));
    expect(d.rawHeaders).toContain('cdn-cache-control');
  });

  it('an entry whose list was not prepared from its fields by a known writer is rebuilt', () => {
    // A list set by hand: nothing says what it was prepared for.
    const e = made(HIDDEN, TARGETED);
    e.rawHeaders = [...e.rawHeaders.slice(0, -4), 'x-powered-by', 'php', ...e.rawHeaders.slice(-4)];
    const d = roundTrip(e);
    expect(preparedLists(d)).toBe('');
    prepareFor(d, HIDDEN, TARGETED);
    expect(d.rawHeaders).toEqual(rebuilt(d, HIDDEN, TARGETED));
    expect(d.rawHeaders).not.toContain('x-powered-by');
  });

  it('a list no longer matches its record once the entry was given other fields, coding or body', () => {
    const d = roundTrip(made(HIDDEN, TARGETED));
    expect(preparedLists({ ...d, headers: { ...d.headers } })).toBe('');
    expect(preparedLists({ ...d, body: Buffer.from('longer body') })).toBe('');
    expect(preparedLists({ ...d, coding: 'gzip' })).toBe('');
    // A copy with the same fields (a memory backfill, a soft-purged view) keeps it.
    expect(preparedLists({ ...d, body: Buffer.from(d.body) })).toBe(listsText(HIDDEN, TARGETED));
  });

  it('the lists travel with the entry and differ with either list or the preparing version', () => {
    expect(listsText(['a'], ['b'])).not.toBe(listsText(['a', 'b'], []));
    expect(listsText([], ['a'])).not.toBe(listsText(['a'], []));
    expect(listsText(['a'], ['b'])).toBe(listsText(['a'], ['b']));
  });
});
