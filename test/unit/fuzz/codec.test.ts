import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, isValidStoredValue } from '../../../src/cache/codec.js';
import type { CacheEntry } from '../../../src/types.js';
import { sampleEntry } from '../cache/entries.js';

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
        checkDecoded(magic ? Buffer.concat([Buffer.from('LRDR\x01\x01', 'latin1'), b]) : b);
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

  it('well-framed values whose metadata is any JSON: accepted only when every field checks out', () => {
    const entryMeta = (() => {
      const { body: _b, size: _s, ...meta } = sampleEntry();
      return meta as Record<string, unknown>;
    })();
    const fields = Object.keys(entryMeta);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          // The real metadata with one field replaced by anything.
          fc.tuple(fc.constantFrom(...fields, 'bodyLength', 'kind', 'v'), fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => ({ ...entryMeta, bodyLength: 3, [k]: v })),
        ),
        fc.constantFrom(1, 2, 3, 0, 255),
        fc.uint8Array({ maxLength: 8 }),
        (meta, kind, body) => {
          const json = Buffer.from(JSON.stringify(meta) ?? 'null', 'utf8');
          const head = Buffer.alloc(10);
          head.write('LRDR', 0, 'latin1');
          head[4] = 1;
          head[5] = kind;
          head.writeUInt32BE(json.length, 6);
          checkDecoded(Buffer.concat([head, json, Buffer.from(body)]));
        },
      ),
      RUNS,
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
