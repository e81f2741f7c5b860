import fc from 'fast-check';
import { entrySize } from '../../../src/cache/entry.js';
import { HOP_BY_HOP } from '../../../src/rfc9111/hop-by-hop.js';
import type { CacheEntry, HeaderMap, VaryIndex } from '../../../src/types.js';

/** Every byte value, so a codec that treats the body as text shows up at once. */
export const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** A realistic entry with a binary body and a multi-line header. */
export function sampleEntry(overrides: Partial<CacheEntry> = {}): CacheEntry {
  const t = Date.UTC(2026, 0, 1);
  const entry: CacheEntry = {
    v: 1,
    status: 200,
    statusMessage: 'OK',
    headers: {
      'content-type': 'application/octet-stream',
      'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
      etag: '"abc"',
      date: new Date(t).toUTCString(),
    },
    rawHeaders: [
      'content-type',
      'application/octet-stream',
      'set-cookie',
      'a=1; Path=/',
      'set-cookie',
      'b=2; Path=/',
      'etag',
      '"abc"',
      'content-length',
      '256',
      'via',
      '1.1 larder',
    ],
    body: Buffer.from(ALL_BYTES),
    requestTime: t - 20,
    responseTime: t,
    initialAge: 20,
    lifetime: 60_000,
    lifetimeSource: 'max-age',
    freshUntil: t + 59_980,
    staleWhileRevalidateUntil: t + 69_980,
    staleIfErrorUntil: t + 59_980,
    mustRevalidate: false,
    noCache: false,
    authShareable: true,
    etag: '"abc"',
    varyNames: ['accept-encoding'],
    varyValues: ['gzip'],
    tags: ['product', 'ünïcödé'],
    route: 'static',
    size: 0,
    fetchDuration: 20,
    ...overrides,
  };
  // As createEntry writes it: Content-Length is the body's (the codec rebuilds it on read).
  if (overrides.rawHeaders === undefined) entry.rawHeaders[entry.rawHeaders.indexOf('content-length') + 1] = String(entry.body.length);
  entry.size = entrySize(entry);
  return entry;
}

/** Fields an entry never carries as stored: the codec drops them and rebuilds Content-Length. */
export const FRAMING = new Set(['content-length', ...HOP_BY_HOP]);

export function sampleIndex(variants: string[] = ['AAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBB']): VaryIndex {
  return { v: 1, kind: 'vary', varyNames: ['accept-encoding', 'accept-language'], variants };
}

const token = fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,16}$/);
const fieldValue = fc.stringMatching(/^[\t\x20-\x7e\x80-\xff]{0,24}$/);
/** A finite number as JSON keeps it (JSON has no -0). */
const time = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }).map((x) => (x === 0 ? 0 : x));
const nonNegative = fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 1e12 }).map((x) => (x === 0 ? 0 : x));

const headerMap: fc.Arbitrary<HeaderMap> = fc
  .dictionary(token, fc.oneof(fieldValue, fc.array(fieldValue, { maxLength: 3 })), { maxKeys: 6 })
  .map((h) => Object.fromEntries(Object.entries(h).filter(([k]) => !FRAMING.has(k))));

export const entryArb: fc.Arbitrary<CacheEntry> = fc
  .record({
    status: fc.integer({ min: 100, max: 599 }),
    statusMessage: fieldValue,
    headers: headerMap,
    raw: fc.array(fc.tuple(token, fieldValue), { maxLength: 6 }),
    body: fc.uint8Array({ maxLength: 600 }),
    requestTime: time,
    responseTime: time,
    initialAge: nonNegative,
    lifetime: nonNegative,
    lifetimeSource: fc.constantFrom('s-maxage', 'max-age', 'expires', 'heuristic', 'route', 'none' as const),
    freshUntil: time,
    staleWhileRevalidateUntil: time,
    staleIfErrorUntil: time,
    mustRevalidate: fc.boolean(),
    noCache: fc.boolean(),
    authShareable: fc.boolean(),
    etag: fc.option(fieldValue, { nil: undefined }),
    lastModified: fc.option(fieldValue, { nil: undefined }),
    vary: fc.array(fc.tuple(token, fc.string({ unit: 'binary' })), { maxLength: 4 }),
    tags: fc.array(fc.string({ unit: 'binary' }), { maxLength: 4 }),
    route: fc.string({ unit: 'binary' }),
    fetchDuration: time,
  })
  .map((r) => {
    const { raw, vary, body, etag, lastModified, ...rest } = r;
    const entry: CacheEntry = {
      v: 1,
      ...rest,
      rawHeaders: [...raw.filter(([k]) => !FRAMING.has(k)).flat(), 'content-length', String(body.length)],
      body: Buffer.from(body),
      ...(etag === undefined ? {} : { etag }),
      ...(lastModified === undefined ? {} : { lastModified }),
      varyNames: vary.map((p) => p[0]),
      varyValues: vary.map((p) => p[1]),
      size: 0,
    };
    entry.size = entrySize(entry);
    return entry;
  });

export const indexArb: fc.Arbitrary<VaryIndex> = fc.record({
  v: fc.constant(1 as const),
  kind: fc.constant('vary' as const),
  varyNames: fc.array(token, { maxLength: 4 }),
  variants: fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{1,22}$/), { maxLength: 5 }),
});
