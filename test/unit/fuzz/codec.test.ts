import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, FORMAT_VERSION, isValidStoredValue } from '../../../src/cache/codec.js';
import type { CacheEntry } from '../../../src/types.js';
import { entryArb, sampleEntry } from '../cache/entries.js';

/**
 * Fuzzing the shared-tier decoder: bytes in Redis may come from anywhere (another program,
 * another version, a hand-typed SET, a truncated write). decode must never throw, and what
 * it accepts must be a value a response writer can use.
 */

const valid = encode(sampleEntry());
const RUNS = { numRuns: 3_000 };

function checkDecoded(buf: Buffer): void {
  const v = decode(buf);
  if (v === undefined) return;
  expect(isValidStoredValue(v)).toBe(true);
  if (!('kind' in v)) {
    const e = v as CacheEntry;
    expect(e.status).toBeGreaterThanOrEqual(100);
    expect(e.status).toBeLessThanOrEqual(599);
    expect(e.rawHeaders.length % 2).toBe(0);
    expect(e.body.length).toBeLessThanOrEqual(buf.length);
  }
}

describe('fuzz: codec.decode', () => {
  it('arbitrary bytes, with or without the magic: never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, magic) => {
        const b = Buffer.from(bytes);
        checkDecoded(magic ? Buffer.concat([Buffer.from([0x4c, 0x52, 0x44, 0x52, FORMAT_VERSION, 1]), b]) : b);
      }),
      RUNS,
    );
  });

  it('a valid encoding with bytes flipped, cut short or extended: never throws', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat({ max: valid.length }),
        fc.uint8Array({ maxLength: 16 }),
        (flips, cut, extra) => {
          const b = Buffer.from(valid);
          for (const [at, byte] of flips) b[at] = byte;
          checkDecoded(Buffer.concat([b.subarray(0, cut), Buffer.from(extra)]));
        },
      ),
      RUNS,
    );
  });

  it('any entry with a stretch of its metadata overwritten: accepted only when every field checks out', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 12 }), (entry, where, bytes) => {
        const b = encode(entry, 'k');
        const metaEnd = 10 + b.readUInt32BE(6);
        const at = 10 + (where % (metaEnd - 10));
        Buffer.from(bytes).copy(b, at, 0, Math.min(bytes.length, metaEnd - at));
        checkDecoded(b);
        const d = decode(b, 'k');
        expect(d === undefined || isValidStoredValue(d)).toBe(true);
      }),
      RUNS,
    );
  });

  it('any entry with a count, a length or a number replaced: accepted only when every field checks out', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.oneof(fc.constantFrom(0, 1, 0xffffffff, 0x80000000, 0x7fffffff), fc.nat()), (entry, which, value) => {
        const b = encode(entry);
        // Every aligned u32 from the body length on: the counts, section lengths, shapes and string lengths.
        const words = Math.floor((10 + b.readUInt32BE(6) - 15) / 4);
        b.writeUInt32BE(value >>> 0, 15 + 4 * (which % words));
        checkDecoded(b);
      }),
      RUNS,
    );
  });

  it('any entry cut short anywhere: a miss', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), (entry, where) => {
        const b = encode(entry, 'k');
        expect(decode(b.subarray(0, where % b.length), 'k')).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
  });

  it('a metadata length pointing past the end, or at 4 GB: a miss, no allocation', () => {
    for (const len of [valid.length, 2 ** 32 - 1, 2 ** 31]) {
      const b = Buffer.from(valid);
      b.writeUInt32BE(len >>> 0, 6);
      expect(decode(b)).toBeUndefined();
    }
  });
});
