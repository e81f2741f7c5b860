import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, FORMAT_VERSION, isValidStoredValue, ownBody } from '../../../src/cache/codec.js';
import { entrySize } from '../../../src/cache/entry.js';
import type { CacheEntry, StoredValue } from '../../../src/types.js';
import { HAS_ZSTD } from '../../../src/cache/compress.js';
import { EntryCipher } from '../../../src/cache/crypto.js';
import { ALL_BYTES, entryArb, indexArb, sampleEntry, sampleIndex } from './entries.js';

/**
 * A frame around JSON metadata: an index as larder writes it, or an entry as formats 1 to 3
 * wrote it (format 4 and 5 entries carry binary metadata; see `at` for its offsets).
 */
function frame(kind: number, meta: unknown, body: Buffer = Buffer.alloc(0), version = FORMAT_VERSION): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.alloc(10);
  head.write('LRDR', 0, 'latin1');
  head[4] = version;
  head[5] = kind;
  head.writeUInt32BE(json.length, 6);
  return Buffer.concat([head, json, body]);
}

/** Offsets in a format-5 entry frame (10-byte header, then the fixed part of the metadata). */
const at = { flags: 10, lifetimeSource: 11, coding: 12, status: 13, bodyLength: 15, times: 19, counts: 83 } as const;

function patched(buf: Buffer, edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(buf);
  edit(b);
  return b;
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

  it('keeps every field: flags, every lifetime source, times to the bit, validators, Unicode text', () => {
    const sources = ['s-maxage', 'max-age', 'expires', 'heuristic', 'route', 'forced', 'none'] as const;
    for (const [i, lifetimeSource] of sources.entries()) {
      const e = sampleEntry({
        lifetimeSource,
        mustRevalidate: i % 2 === 0,
        noCache: i % 3 === 0,
        authShareable: i % 2 === 1,
        lastModified: 'Thu, 01 Jan 2026 00:00:00 GMT',
        requestTime: -0,
        responseTime: 1_767_225_600_000.25,
        initialAge: Number.MIN_VALUE,
        lifetime: 0,
        freshUntil: -1e15,
        staleWhileRevalidateUntil: Number.MAX_VALUE,
        staleIfErrorUntil: 0.1 + 0.2,
        fetchDuration: 12.345678901234567,
        status: 100 + i * 83,
        statusMessage: 'Caf\u00e9 \u00ff',
        headers: { 'x-latin1': 'caf\u00e9', 'x-empty': '', 'x-list': [], 'x-one': ['a'], date: 'x' },
        varyNames: ['accept-language', 'x-\u0061'],
        varyValues: ['\u{1f600} \u65e5\u672c', ''],
        tags: ['\u00fcn\u00efc\u00f6d\u00e9', '\u{10ffff}', ''],
        route: 'r\u00f6ute \u{1f680}',
      });
      const key = 'h\u00f6st.test/\u{1f600}?q=\u65e5';
      const d = decode(encode(e, key), key) as CacheEntry;
      expectSameEntry(d, e);
      expect(Object.is(d.requestTime, -0)).toBe(true);
    }
  });

  it('keeps a header named __proto__ as an own field, never as the prototype', () => {
    const e = sampleEntry({ headers: JSON.parse('{"__proto__":["a","b"],"x-a":"1"}') as CacheEntry['headers'] });
    const d = decode(encode(e)) as CacheEntry;
    expect(Object.getPrototypeOf(d.headers)).toBe(Object.prototype);
    expect(Object.hasOwn(d.headers, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(d.headers, '__proto__')?.value).toEqual(['a', 'b']);
    expect(d.headers['x-a']).toBe('1');
  });

  it('refuses to encode what is not an entry (the write is dropped, never stored altered)', () => {
    const e = sampleEntry();
    const bad: Array<Partial<Record<keyof CacheEntry, unknown>>> = [
      { v: 2 },
      { status: 200.5 },
      { status: 70_000 },
      { lifetimeSource: 'guess' },
      { coding: 'deflate' },
      { noCache: 0 },
      { freshUntil: '1' },
      { rawHeaders: ['a', 'b', 'c'] },
      { varyValues: [] },
      { headers: { 'x-a': 1 } },
      { tags: ['\ud800'] },
      { route: 'a\udc00b' },
    ];
    for (const patch of bad) expect(() => encode({ ...e, ...patch } as CacheEntry), JSON.stringify(patch)).toThrow(TypeError);
    expect(() => encode(e, 'key\ud800')).toThrow(TypeError);
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

  it('truncated data at every length, trailing garbage and plain strings', () => {
    const keyed = encode(sampleEntry({ lastModified: 'x', coding: 'gzip' }), 'k');
    for (const value of [good, keyed, encode(sampleIndex(), 'k')]) {
      for (let n = 0; n < value.length; n++) expect(decode(value.subarray(0, n)), `cut at ${n}`).toBeUndefined();
      expect(decode(Buffer.concat([value, Buffer.from([0])]))).toBeUndefined();
    }
    // Trailing bytes inside the metadata (its length grown by one, the body one byte shorter).
    expect(decode(patched(good, (b) => b.writeUInt32BE(b.readUInt32BE(6) + 1, 6)))).toBeUndefined();
    expect(decode(Buffer.from('hello world'))).toBeUndefined();
    expect(decode(Buffer.alloc(0))).toBeUndefined();
    expect(decode(encode(sampleIndex()).subarray(0, 12))).toBeUndefined();
    expect(decode(Buffer.concat([encode(sampleIndex()), Buffer.from('x')]))).toBeUndefined();
  });

  it('a value of a previous format (1 and 2; 3, whose entries carried JSON metadata; 4, without prepared-for lists) is a miss', () => {
    const e = sampleEntry();
    for (const version of [1, 2, 3, 4]) {
      expect(decode(patched(good, (b) => (b[4] = version)))).toBeUndefined();
      // As that larder wrote it: JSON metadata with the key, the body after it.
      const old = frame(1, { ...entryMeta(e), k: 'shop.test/a' }, e.body, version);
      expect(decode(old, 'shop.test/a')).toBeUndefined();
      expect(decode(old)).toBeUndefined();
      expect(decode(patched(encode(sampleIndex(), 'k'), (b) => (b[4] = version)), 'k')).toBeUndefined();
    }
    // ... and so is current framing around format-3 (JSON) entry metadata.
    expect(decode(frame(1, { ...entryMeta(e), k: 'k' }, e.body), 'k')).toBeUndefined();
  });

  it('a coding that is not one larder compresses into, or that this Node cannot undo', () => {
    const gz = encode(sampleEntry({ coding: 'gzip' }));
    expect(decode(gz)).toBeDefined();
    for (const byte of [4, 5, 0x80, 0xff, ...(HAS_ZSTD ? [] : [3])]) {
      expect(decode(patched(gz, (b) => (b[at.coding] = byte))), String(byte)).toBeUndefined();
    }
  });

  it('a value written for another key, or for no key, when a key is expected', () => {
    const k = 'shop.test/a';
    const bound = encode(sampleEntry(), k);
    expect(decode(bound, k)).toBeDefined();
    // A value read without a key to check (a peer's message names its key apart) is not refused.
    expect(decode(bound)).toBeDefined();
    expect(decode(bound, 'shop.test/b')).toBeUndefined();
    expect(decode(bound, 'shop.test/')).toBeUndefined();
    expect(decode(bound, k + '\u0000variant')).toBeUndefined();
    expect(decode(encode(sampleEntry()), k)).toBeUndefined();
    // The key bit cleared: what follows is read as other fields and does not check out.
    expect(decode(patched(bound, (b) => (b[at.flags] = b[at.flags]! & ~32)), k)).toBeUndefined();
    expect(decode(patched(bound, (b) => (b[at.flags] = b[at.flags]! & ~32)))).toBeUndefined();
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
    expect(decode(withRaw(['CONTENT-LENGTH', String(base.body.length), ...base.rawHeaders]))).toBeUndefined();
    expect(decode(withRaw([...base.rawHeaders, 'connection', 'close']))).toBeUndefined();
    expect(decode(withRaw([...base.rawHeaders, 'Keep-Alive', 'timeout=5']))).toBeUndefined();
    expect(decode(encode({ ...base, headers: { ...base.headers, 'transfer-encoding': 'chunked' } }))).toBeUndefined();
    expect(decode(encode({ ...base, headers: { ...base.headers, 'Content-Length': '3' } }))).toBeUndefined();
    expect(decode(encode({ ...base, headers: { ...base.headers, upgrade: ['h2c'] } }))).toBeUndefined();
    // Content-Length is rebuilt from the body: absent in storage, present on the way out.
    const without = base.rawHeaders.filter((_, i) => i !== lengthAt && i !== lengthAt + 1);
    const rebuilt = decode(withRaw(without)) as CacheEntry;
    expect(rebuilt.rawHeaders).toEqual(base.rawHeaders);
    // The body length field must be the body's.
    expect(decode(patched(good, (b) => b.writeUInt32BE(b.readUInt32BE(at.bodyLength) + 1, at.bodyLength)))).toBeUndefined();
    expect(decode(patched(good, (b) => b.writeUInt32BE(b.readUInt32BE(at.bodyLength) - 1, at.bodyLength)))).toBeUndefined();
  });

  it('metadata length pointing past the end', () => {
    const b = Buffer.from(good);
    b.writeUInt32BE(0xffffffff, 6);
    expect(decode(b)).toBeUndefined();
  });

  it('list counts and section lengths that do not add up', () => {
    for (let i = 0; i < 7; i++) {
      for (const delta of [1, -1, 0x7fffffff]) {
        const off = at.counts + 4 * i;
        expect(decode(patched(good, (b) => b.writeUInt32BE((b.readUInt32BE(off) + delta) >>> 0, off))), `${i} ${delta}`).toBeUndefined();
      }
    }
  });

  it('bad index JSON', () => {
    const json = Buffer.from('{"v":1,', 'utf8');
    const head = Buffer.from(encode(sampleIndex()).subarray(0, 10));
    head.writeUInt32BE(json.length, 6);
    expect(decode(Buffer.concat([head, json]))).toBeUndefined();
    expect(decode(frame(2, null))).toBeUndefined();
    expect(decode(frame(2, [1, 2]))).toBeUndefined();
  });

  const e = sampleEntry();
  // Fields encode writes as it is given them (another writer could), that decode must refuse.
  const cases: Array<[string, Partial<CacheEntry>]> = [
    ['status 99', { status: 99 }],
    ['status 600', { status: 600 }],
    ['status 0', { status: 0 }],
    ['CR LF in a header value', { headers: { 'x-a': 'a\r\nb: c' } }],
    ['NUL in a listed header value', { headers: { 'x-a': ['ok', 'a\u0000'] } }],
    ['a header value above U+00FF', { headers: { 'x-a': 'caf\u0100' } }],
    ['header name with a space', { headers: { 'x a': 'b' } }],
    ['empty header name', { headers: { '': 'b' } }],
    ['header name that is not ASCII', { headers: { 'x-\u00e9': 'b' } }],
    ['newline in a rawHeaders value', { rawHeaders: ['a', 'b\n'] }],
    ['rawHeaders name with a colon', { rawHeaders: ['a:', 'b'] }],
    ['negative initialAge', { initialAge: -1 }],
    ['negative lifetime', { lifetime: -5 }],
    ['infinite lifetime', { lifetime: Infinity }],
    ['NaN time', { freshUntil: NaN }],
    ['infinite time', { responseTime: -Infinity }],
    ['NaN fetch time', { fetchDuration: NaN }],
    ['vary name that is not a token', { varyNames: ['a b'], varyValues: ['x'] }],
    ['empty vary name', { varyNames: [''], varyValues: ['x'] }],
    ['etag with a newline', { etag: '"a"\n' }],
    ['Last-Modified with a DEL', { lastModified: 'x\u007f' }],
    ['statusMessage with control characters', { statusMessage: 'O\u0000K' }],
  ];
  for (const [name, patch] of cases) {
    it(name, () => {
      expect(decode(encode({ ...e, ...patch }))).toBeUndefined();
    });
  }

  it('flag bits and lifetime sources it does not know', () => {
    for (const bit of [64, 128]) expect(decode(patched(good, (b) => (b[at.flags] = b[at.flags]! | bit)))).toBeUndefined();
    for (const n of [7, 8, 255]) expect(decode(patched(good, (b) => (b[at.lifetimeSource] = n)))).toBeUndefined();
  });

  it('a header named twice', () => {
    const two = encode({ ...e, headers: { 'x-a': '1', 'x-b': '2' } });
    expect(decode(two)).toBeDefined();
    // Same length, so everything else still adds up: only the repeated name is wrong.
    const i = two.indexOf('x-ax-b');
    expect(i).toBeGreaterThan(0);
    expect(decode(patched(two, (b) => b.write('x-ax-a', i, 'latin1')))).toBeUndefined();
  });

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

describe('sealed entries (cache.redis.encryption)', () => {
  const keyA = { id: 'a', key: Buffer.alloc(32, 1) };
  const keyB = { id: 'b', key: Buffer.alloc(32, 2) };
  let failures = 0;
  const cipher = new EntryCipher([keyA, keyB], () => failures++);
  const k = 'shop.test/sealed';

  it('keep every field, and hide the body and the fields', () => {
    const e = sampleEntry({ coding: 'br', lastModified: 'Thu, 01 Jan 2026 00:00:00 GMT' });
    const sealed = encode(e, k, cipher);
    expect(sealed[5]).toBe(3);
    expect(sealed.subarray(0, 5).toString('latin1')).toBe(`LRDR${String.fromCharCode(FORMAT_VERSION)}`);
    expectSameEntry(decode(sealed, k, cipher), e);
    expect(sealed.includes(Buffer.from('application/octet-stream'))).toBe(false);
    expect(sealed.includes(ALL_BYTES.subarray(40, 80))).toBe(false);
    // Rotated: read with the key list in another order, the entry still opens.
    expectSameEntry(decode(sealed, k, new EntryCipher([keyB, keyA])), e);
  });

  it('are a miss without the cipher, under another key, cut short or altered; an entry in the clear is a miss with it', () => {
    const sealed = encode(sampleEntry(), k, cipher);
    failures = 0;
    expect(decode(sealed, k)).toBeUndefined();
    expect(decode(encode(sampleEntry(), k), k, cipher)).toBeUndefined();
    expect(failures).toBe(0);
    expect(decode(sealed, 'shop.test/other', cipher)).toBeUndefined();
    expect(decode(sealed, undefined, cipher)).toBeUndefined();
    expect(decode(sealed, k, new EntryCipher([keyB]))).toBeUndefined();
    for (let n = 6; n < sealed.length; n++) expect(decode(sealed.subarray(0, n), k, cipher), `cut at ${n}`).toBeUndefined();
    for (let i = 6; i < sealed.length; i += 11) expect(decode(patched(sealed, (b) => (b[i] = b[i]! ^ 1)), k, cipher), `flip at ${i}`).toBeUndefined();
    expect(failures).toBeGreaterThan(sealed.length - 6);
  });

  it('of format 3 are a miss, and are not counted as failing authentication', () => {
    const sealed = encode(sampleEntry(), k, cipher);
    failures = 0;
    expect(decode(patched(sealed, (b) => (b[4] = 3)), k, cipher)).toBeUndefined();
    expect(failures).toBe(0);
    // Authentic, but holding a format-3 (JSON) entry frame: a miss.
    const e = sampleEntry();
    const outer = Buffer.from(sealed.subarray(0, 6));
    const inner = frame(1, { ...entryMeta(e), k }, e.body, 3);
    const old = Buffer.concat([outer, cipher.seal([inner], (id) => Buffer.concat([outer, id, Buffer.from(k)]))]);
    expect(decode(old, k, cipher)).toBeUndefined();
    expect(failures).toBe(0);
  });

  it('property: any valid entry survives sealing; mutated sealed values never throw', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (e, where, bits) => {
        const sealed = encode(e, k, cipher);
        expectSameEntry(decode(sealed, k, cipher), e);
        const i = 6 + (where % (sealed.length - 6));
        expect(decode(patched(sealed, (b) => (b[i] = b[i]! ^ bits)), k, cipher)).toBeUndefined();
        expect(decode(sealed.subarray(0, i), k, cipher)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});
