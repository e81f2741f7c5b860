import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DELTA_SECONDS_MAX,
  parseAge,
  parseCacheControl,
  parseHttpDate,
  formatHttpDate,
  parseVary,
  requestDirectives,
  responseDirectives,
  varyValues,
  variantId,
} from '../../../src/rfc9111/index.js';
import { parseDictionary } from '../../../src/rfc9111/structured-field.js';

/**
 * Fuzzing the parsers that read what origins and clients send: no input throws, and every
 * output stays within its documented bounds.
 */

const RUNS = { numRuns: 2_000 };

/** Field values built from the pieces these grammars are made of, plus arbitrary noise. */
const piece = fc.oneof(
  fc.constantFrom(
    'max-age', 's-maxage', 'no-cache', 'no-store', 'private', 'public', 'must-revalidate', 'stale-while-revalidate',
    'stale-if-error', 'max-stale', 'min-fresh', 'only-if-cached', 'immutable', 'must-understand', '=', ',', ';', '"', '\\',
    ' ', '\t', '(', ')', '?1', '?0', ':', '*', '-', '.', '0', '1', '9', '2147483648', '99999999999999999999', '-1', '1e3',
    '0x10', 'Infinity', 'NaN', '__proto__', 'constructor', 'GMT', 'Thu, 01 Jan 1970 00:00:00 GMT', '\u0000', '\u00ff', '\u2028',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const fieldValue = fc.array(piece, { maxLength: 24 }).map((ps) => ps.join(''));
/** One field line or several (repeated fields arrive as a list). */
const field = fc.oneof(fieldValue, fc.array(fieldValue, { maxLength: 4 }));

const inDelta = (n: number | undefined): boolean => n === undefined || (Number.isInteger(n) && n >= 0 && n <= DELTA_SECONDS_MAX);

describe('fuzz: Cache-Control', () => {
  it('parseCacheControl never throws; names are lower-case, values strings or true', () => {
    fc.assert(
      fc.property(field, (v) => {
        const d = parseCacheControl(v);
        for (const [name, value] of d) {
          expect(name).toBe(name.toLowerCase());
          expect(name.length).toBeGreaterThan(0);
          expect(value === true || typeof value === 'string').toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('responseDirectives (with targeted fields) never throws; every delta is an integer in [0, 2^31]', () => {
    fc.assert(
      fc.property(field, field, field, (cc, cdn, larder) => {
        const d = responseDirectives({ 'cache-control': cc, 'cdn-cache-control': cdn, 'larder-cache-control': larder });
        for (const k of ['maxAge', 'sMaxage', 'staleWhileRevalidate', 'staleIfError'] as const) expect(inDelta(d[k]), k).toBe(true);
        for (const k of ['noStore', 'noCache', 'private', 'public', 'mustRevalidate'] as const) expect(typeof d[k]).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('requestDirectives never throws; deltas bounded, max-stale may be Infinity', () => {
    fc.assert(
      fc.property(field, field, (cc, pragma) => {
        const d = requestDirectives({ 'cache-control': cc, pragma });
        for (const k of ['maxAge', 'minFresh', 'staleIfError'] as const) expect(inDelta(d[k]), k).toBe(true);
        expect(d.maxStale === undefined || d.maxStale === Infinity || inDelta(d.maxStale)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('fuzz: Vary', () => {
  it('parseVary never throws; names are lower-case tokens, sorted and unique', () => {
    fc.assert(
      fc.property(field, (v) => {
        const { star, names } = parseVary(v);
        expect(typeof star).toBe('boolean');
        for (const n of names) expect(n).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
        expect(new Set(names).size).toBe(names.length);
      }),
      RUNS,
    );
  });

  it('varyValues and variantId never throw and give one value per name', () => {
    fc.assert(
      fc.property(field, fc.dictionary(fc.string({ maxLength: 12 }).map((s) => s.toLowerCase()), field), (vary, headers) => {
        const { names } = parseVary(vary);
        const values = varyValues(names, headers);
        expect(values).toHaveLength(names.length);
        expect(typeof variantId(values)).toBe('string');
      }),
      RUNS,
    );
  });
});

describe('fuzz: Age', () => {
  it('parseAge never throws; undefined or an integer in [0, 2^31]', () => {
    fc.assert(
      fc.property(fc.oneof(field, fc.nat().map(String), fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String)), (v) => {
        expect(inDelta(parseAge(v))).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('fuzz: HTTP dates', () => {
  const dateish = fc.oneof(
    field,
    fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
    fc
      .tuple(fc.constantFrom('Sun', 'Mon', 'Thu', 'Sunday', 'Thursday'), fc.integer({ min: -5, max: 40 }), fc.constantFrom('Jan', 'Feb', 'Xyz'), fc.integer({ min: -1, max: 100_000 }), fc.integer({ min: 0, max: 99 }))
      .map(([d, day, m, y, h]) => `${d}, ${day} ${m} ${y} ${h}:00:00 GMT`),
  );

  it('parseHttpDate never throws; undefined or a finite number of ms', () => {
    fc.assert(
      fc.property(dateish, fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: undefined }), (v, now) => {
        const t = parseHttpDate(v, now);
        expect(t === undefined || Number.isFinite(t)).toBe(true);
      }),
      RUNS,
    );
  });

  it('an IMF-fixdate larder writes reads back to the same second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (ms) => {
        expect(parseHttpDate(formatHttpDate(ms))).toBe(Math.floor(ms / 1000) * 1000);
      }),
      RUNS,
    );
  });
});

describe('fuzz: structured-field dictionaries (RFC 8941)', () => {
  const sfPiece = fc.oneof(
    piece,
    fc.constantFrom('a=1', 'b=?0', 'c="x"', 'd=:aGk=:', 'e=(1 2 "x")', 'f=tok', 'g=1.5', 'h=-0.25', ';p=1', '((', '))', ':::', '"\\"', '1234567890123456', '0.1234'),
  );
  const sf = fc.oneof(field, fc.array(sfPiece, { maxLength: 30 }).map((ps) => ps.join('')));

  it('parseDictionary never throws; undefined or a Map of valid keys to bare items or inner lists', () => {
    fc.assert(
      fc.property(sf, (v) => {
        const d = parseDictionary(v);
        if (d === undefined) return;
        expect(d).toBeInstanceOf(Map);
        for (const [k, m] of d) {
          expect(k).toMatch(/^[a-z*][a-z0-9_\-.*]*$/);
          const items = Array.isArray(m) ? m : [m];
          for (const it of items) {
            const ok =
              typeof it === 'boolean' ||
              typeof it === 'string' ||
              (typeof it === 'number' && Number.isFinite(it) && Math.abs(it) < 1e15) ||
              (typeof it === 'object' && it !== null && ('token' in it || 'bytes' in it));
            expect(ok).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('parses hostile long inputs in linear time', () => {
    for (const s of ['a=(' + '1 '.repeat(50_000), '"'.repeat(100_000), 'a=' + '\\'.repeat(100_000), 'a, '.repeat(50_000), 'a;b'.repeat(50_000)]) {
      const t = performance.now();
      parseDictionary(s);
      parseCacheControl(s);
      parseVary(s);
      expect(performance.now() - t).toBeLessThan(500);
    }
  });
});
