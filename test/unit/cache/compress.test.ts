import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressBody, compressionFor, decodeBody, HAS_ZSTD, RUNTIME_CODINGS, typeMatcher, usableCodings } from '../../../src/cache/compress.js';
import type { CompressionSettings } from '../../../src/config/types.js';

const settings: CompressionSettings = {
  codings: ['br', 'gzip'],
  level: { br: 5, gzip: 6, zstd: 3 },
  minSize: 1024,
  types: ['text/*', 'application/json', 'application/*+json', 'image/svg+xml'],
};
const text = Buffer.from('hello compressible world '.repeat(200));

describe('runtime codings', () => {
  it('zstd only where node:zlib has it', () => {
    expect(HAS_ZSTD).toBe(typeof (zlib as unknown as Record<string, unknown>)['createZstdCompress'] === 'function');
    expect(RUNTIME_CODINGS.includes('zstd')).toBe(HAS_ZSTD);
    expect(usableCodings({ ...settings, codings: ['zstd', 'gzip'] })).toEqual(HAS_ZSTD ? ['zstd', 'gzip'] : ['gzip']);
  });
});

describe('typeMatcher', () => {
  const m = typeMatcher(['text/*', 'application/json', 'application/*+json']);
  it.each([
    ['text/html; charset=utf-8', true],
    ['TEXT/CSS', true],
    ['application/json', true],
    ['application/problem+json', true],
    ['application/+json', false],
    ['application/jsonx', false],
    ['image/png', false],
    [undefined, false],
    ['', false],
  ])('%j → %s', (ct, expected) => {
    expect(m(ct)).toBe(expected);
  });
});

describe('compressionFor', () => {
  const h = { 'content-type': 'application/json' };
  it('compresses a 200 identity body of a listed type, at least minSize', () => {
    expect(compressionFor(200, h, 2048, settings)).toBe('br');
    expect(compressionFor(200, { ...h, 'content-encoding': 'identity' }, 2048, settings)).toBe('br');
  });
  it('leaves everything else as it came', () => {
    expect(compressionFor(404, h, 2048, settings)).toBeUndefined();
    expect(compressionFor(200, h, 1023, settings)).toBeUndefined();
    expect(compressionFor(200, { 'content-type': 'image/png' }, 2048, settings)).toBeUndefined();
    expect(compressionFor(200, { ...h, 'content-encoding': 'gzip' }, 2048, settings)).toBeUndefined();
    expect(compressionFor(200, { ...h, 'cache-control': 'no-transform' }, 2048, settings)).toBeUndefined();
    expect(compressionFor(200, { ...h, 'content-range': 'bytes 0-1/2' }, 2048, settings)).toBeUndefined();
    expect(compressionFor(200, h, 2048, { ...settings, codings: [] })).toBeUndefined();
  });
});

describe('compressBody and decodeBody', () => {
  it('round-trips every runtime coding', async () => {
    for (const c of RUNTIME_CODINGS) {
      const out = await compressBody(text, c, settings);
      expect(out, c).toBeDefined();
      expect(out!.length).toBeLessThan(text.length);
      expect((await decodeBody(out!, c, 1 << 20))!.equals(text)).toBe(true);
    }
  });

  it('returns nothing for an incompressible body', async () => {
    const noise = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24));
    expect(await compressBody(zlib.gzipSync(noise), 'gzip', settings)).toBeUndefined();
  });

  it('decodeBody refuses corrupt input and anything that inflates beyond the cap', async () => {
    expect(await decodeBody(Buffer.from('not gzip'), 'gzip', 1 << 20)).toBeUndefined();
    expect(await decodeBody(zlib.gzipSync(Buffer.alloc(1 << 20)), 'gzip', 1000)).toBeUndefined();
    expect(await decodeBody(zlib.brotliCompressSync(Buffer.alloc(1 << 20)), 'br', 1000)).toBeUndefined();
  });

  it('many at once: all finish, none runs on the event loop', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, () => compressBody(text, 'gzip', settings)));
    expect(results.every((r) => r !== undefined && zlib.gunzipSync(r).equals(text))).toBe(true);
  });
});
