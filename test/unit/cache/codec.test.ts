import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, FORMAT_VERSION, isValidStoredValue, ownBody } from '../../../src/cache/codec.js';
import { entrySize } from '../../../src/cache/entry.js';
import type { CacheEntry, StoredValue } from '../../../src/types.js';
import { HAS_ZSTD } from '../../../src/cache/compress.js';
import { ALL_BYTES, entryArb, indexArb, sampleEntry, sampleIndex } from './entries.js';

/** Rebuilds a frame around arbitrary metadata, so validation (not framing) is what gets tested. */
function frame(kind: number, meta: unknown, body: Buffer = Buffer.alloc(0), version = FORMAT_VERSION): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.alloc(10);
  head.write('LRDR', 0, 'latin1');
  head[4] = version;
  head[5] = kind;
  head.writeUInt32BE(json.length, 6);
  return Buffer.concat([head, json, body]);
}

function entryMeta(e: CacheEntry): Record<string, unknown> {
  const { body, size: _size, ...meta } = e;
  return { ...meta, bodyLength: body.length };
}

function expectSameEntry(actual: StoredValue | undefined, expected: CacheEntry): void {
  expect(actual).toEqual(expected);
  expect(Buffer.isBuffer((actual as CacheEntry).body)).toBe(true);
  expect((actual as CacheEntry).body.equals(expected.body)).toBe(true);
}

describe('codec round trip', () => {
  it('keeps an entry with every byte value in its body and multi-line headers', () => {
    const e = sampleEntry();
    const buf = encode(e);
    expectSameEntry(decode(buf), e);
    // The body is raw bytes at the end, not base64 or JSON.
    expect(buf.subarray(buf.length - 256).equals(ALL_BYTES)).toBe(true);
  });

  it('keeps the coding of an entry larder compressed', () => {
    for (const coding of ['br', 'gzip', ...(HAS_ZSTD ? ['zstd' as const] : [])] as const) {
      const e = sampleEntry({ coding });
      expectSameEntry(decode(encode(e, 'k'), 'k'), e);
    }
  });

  it('keeps a vary index', () => {
    const idx = sampleIndex();
    expect(decode(encode(idx))).toEqual(idx);
  });

  it('keeps an empty body and absent validators absent', () => {
    const { etag: _e, ...rest } = sampleEntry({ body: Buffer.alloc(0) });
    const e = { ...rest, size: 0 } as CacheEntry;
    e.size = entrySize(e);
    const d = decode(encode(e)) as CacheEntry;
    expectSameEntry(d, e);
    expect('etag' in d).toBe(false);
    expect('lastModified' in d).toBe(false);
  });

  it('reads the body in place; ownBody gives a view its own exact-size allocation', () => {
    const buf = encode(sampleEntry());
    const d = decode(buf) as CacheEntry;
    expect(d.body.equals(sampleEntry().body)).toBe(true);
    // A view into the frame: nothing is copied for a response that is only written out.
    expect(d.body.buffer).toBe(buf.buffer);
    const own = ownBody(d.body);
    expect(own.equals(d.body)).toBe(true);
    expect(own.buffer).not.toBe(buf.buffer);
    expect(own.byteOffset).toBe(0);
    expect(own.buffer.byteLength).toBe(own.length);
    // A buffer that already is its own allocation is kept.
    expect(ownBody(own)).toBe(own);
    // Small Buffer.from results live in a shared pool slab: they are copied too.
    const pooled = Buffer.from('abc');
    expect(pooled.buffer.byteLength).toBeGreaterThan(3);
    expect(ownBody(pooled).buffer.byteLength).toBe(3);
  });

  it('recomputes size instead of trusting it', () => {
    const e = sampleEntry();
    const d = decode(encode({ ...e, size: 1 })) as CacheEntry;
    expect(d.size).toBe(entrySize(e));
  });

  it('property: any valid entry or index survives encode → decode unchanged', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        expectSameEntry(decode(encode(e)), e);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(indexArb, (idx) => {
        expect(decode(encode(idx))).toEqual(idx);
      }),
      { numRuns: 200 },
    );
  });
});

describe('codec rejects what is not a valid value', () => {
  const good = encode(sampleEntry());

  it('wrong magic, version or kind', () => {
    const badMagic = Buffer.from(good);
    badMagic[0] = 0x58;
    expect(decode(badMagic)).toBeUndefined();
    const badVersion = Buffer.from(good);
    badVersion[4] = FORMAT_VERSION + 1;
    expect(decode(badVersion)).toBeUndefined();
    const badKind = Buffer.from(good);
    badKind[5] = 9;
    expect(decode(badKind)).toBeUndefined();
  });

  it('truncated data, trailing garbage and plain strings', () => {
    for (let n = 0; n < good.length; n += 7) expect(decode(good.subarray(0, n))).toBeUndefined();
    expect(decode(good.subarray(0, good.length - 1))).toBeUndefined();
    expect(decode(Buffer.concat([good, Buffer.from([0])]))).toBeUndefined();
    expect(decode(Buffer.from('hello world'))).toBeUndefined();
    expect(decode(Buffer.alloc(0))).toBeUndefined();
    expect(decode(encode(sampleIndex()).subarray(0, 12))).toBeUndefined();
    expect(decode(Buffer.concat([encode(sampleIndex()), Buffer.from('x')]))).toBeUndefined();
  });

  it('an entry of a previous format version (1, and 2 from before entries carried a coding)', () => {
    for (const version of [1, 2]) {
      const old = Buffer.from(good);
      old[4] = version;
      expect(decode(old)).toBeUndefined();
    }
  });

  it('a coding that is not one larder compresses into, or that this Node cannot undo', () => {
    const meta = entryMeta(sampleEntry());
    for (const coding of ['deflate', 'compress', 'BR', '', 1, null, ...(HAS_ZSTD ? [] : ['zstd'])]) {
      expect(decode(frame(1, { ...meta, coding }, sampleEntry().body)), String(coding)).toBeUndefined();
    }
  });

  it('a value written for another key, or for no key, when a key is expected', () => {
    const k = 'shop.test/a';
    const bound = encode(sampleEntry(), k);
    expect(decode(bound, k)).toBeDefined();
    expect(decode(bound, 'shop.test/b')).toBeUndefined();
    expect(decode(bound, k + '\u0000variant')).toBeUndefined();
    expect(decode(encode(sampleEntry()), k)).toBeUndefined();
    const index = encode(sampleIndex(), k);
    expect(decode(index, k)).toEqual(sampleIndex());
    expect(decode(index, 'shop.test/b')).toBeUndefined();
  });

  it('framing that does not match the body, or any hop-by-hop field: never taken from storage', () => {
    const base = sampleEntry();
    const withRaw = (raw: string[]) => encode({ ...base, rawHeaders: raw });
    const lengthAt = base.rawHeaders.indexOf('content-length');
    const lying = base.rawHeaders.slice();
    lying[lengthAt + 1] = '3';
    expect(decode(withRaw(lying))).toBeUndefined();
    expect(decode(withRaw([...base.rawHeaders, 'Transfer-Encoding', 'chunked']))).toBeUndefined();
    expect(decode(withRaw(['Content-Length', '3', ...base.rawHeaders]))).toBeUndefined();
    expect(decode(withRaw([...base.rawHeaders, 'connection', 'close']))).toBeUndefined();
    expect(decode(encode({ ...base, headers: { ...base.headers, 'transfer-encoding': 'chunked' } }))).toBeUndefined();
    // Content-Length is rebuilt from the body: absent in storage, present on the way out.
    const without = base.rawHeaders.filter((_, i) => i !== lengthAt && i !== lengthAt + 1);
    const rebuilt = decode(withRaw(without)) as CacheEntry;
    expect(rebuilt.rawHeaders).toEqual(base.rawHeaders);
  });

  it('metadata length pointing past the end', () => {
    const b = Buffer.from(good);
    b.writeUInt32BE(0xffffffff, 6);
    expect(decode(b)).toBeUndefined();
  });

  it('bad JSON', () => {
    const json = Buffer.from('{"v":1,', 'utf8');
    const head = Buffer.from(good.subarray(0, 10));
    head.writeUInt32BE(json.length, 6);
    expect(decode(Buffer.concat([head, json]))).toBeUndefined();
    expect(decode(frame(1, null))).toBeUndefined();
    expect(decode(frame(1, [1, 2]))).toBeUndefined();
  });

  const e = sampleEntry();
  const cases: Array<[string, Record<string, unknown>]> = [
    ['status 99', { status: 99 }],
    ['status 600', { status: 600 }],
    ['fractional status', { status: 200.5 }],
    ['status as string', { status: '200' }],
    ['CR LF in a header value', { headers: { 'x-a': 'a\r\nb: c' } }],
    ['header name with a space', { headers: { 'x a': 'b' } }],
    ['numeric header value', { headers: { 'x-a': 1 } }],
    ['array of non-strings', { headers: { 'x-a': ['a', 2] } }],
    ['odd rawHeaders', { rawHeaders: ['a', 'b', 'c'] }],
    ['newline in rawHeaders value', { rawHeaders: ['a', 'b\n'] }],
    ['body length mismatch', { bodyLength: e.body.length + 1 }],
    ['missing bodyLength', { bodyLength: undefined }],
    ['negative initialAge', { initialAge: -1 }],
    ['negative lifetime', { lifetime: -5 }],
    ['null time', { freshUntil: null }],
    ['string time', { responseTime: '1' }],
    ['unknown lifetimeSource', { lifetimeSource: 'guess' }],
    ['non-boolean flag', { noCache: 0 }],
    ['vary names and values of different length', { varyValues: [] }],
    ['vary name that is not a token', { varyNames: ['a b'], varyValues: ['x'] }],
    ['non-string tag', { tags: [1] }],
    ['non-string route', { route: null }],
    ['etag with a newline', { etag: '"a"\n' }],
    ['wrong v', { v: 2 }],
    ['statusMessage with control characters', { statusMessage: 'O\u0000K' }],
  ];
  for (const [name, patch] of cases) {
    it(name, () => {
      const meta = { ...entryMeta(e), ...patch };
      expect(decode(frame(1, meta, e.body))).toBeUndefined();
    });
  }

  it('an index with bad fields', () => {
    expect(decode(frame(2, { v: 1, kind: 'vary', varyNames: ['a'], variants: [''] }))).toBeUndefined();
    expect(decode(frame(2, { v: 1, kind: 'vary', varyNames: [1], variants: [] }))).toBeUndefined();
    expect(decode(frame(2, { v: 1, kind: 'other', varyNames: [], variants: [] }))).toBeUndefined();
    expect(decode(frame(2, { v: 1, kind: 'vary', varyNames: [] }))).toBeUndefined();
  });

  it('property: arbitrary bytes never throw and never decode to an invalid value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const d = decode(Buffer.from(bytes));
        expect(d === undefined || isValidStoredValue(d)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: mutated valid encodings never throw and decode to undefined or a valid value', () => {
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(fc.oneof(entryArb, indexArb), fc.array(mutation, { minLength: 1, maxLength: 4 }), (value, mutations) => {
        let buf = encode(value);
        for (const m of mutations) {
          const at = buf.length === 0 ? 0 : m.at % buf.length;
          if (m.op === 'flip') {
            buf = Buffer.from(buf);
            if (buf.length > 0) buf[at] = buf[at]! ^ m.bits;
          } else if (m.op === 'cut') buf = buf.subarray(0, at);
          else buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.bytes), buf.subarray(at)]);
        }
        const d = decode(buf);
        expect(d === undefined || isValidStoredValue(d)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: arbitrary JSON metadata in a well-formed frame never throws', () => {
    const overEntry = fc.record({ key: fc.constantFrom(...Object.keys(entryMeta(e))), value: fc.jsonValue() });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), overEntry), fc.constantFrom(1, 2), (meta, kind) => {
        const m = typeof meta === 'object' && meta !== null && 'key' in meta && 'value' in meta
          ? { ...entryMeta(e), [meta.key as string]: meta.value }
          : meta;
        const d = decode(frame(kind, m, kind === 1 ? e.body : undefined));
        expect(d === undefined || isValidStoredValue(d)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
