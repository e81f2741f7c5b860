import { describe, expect, it } from 'vitest';
import {
  accepts,
  codingOf,
  forbidsTransform,
  identityRank,
  parseAcceptEncoding,
  preferredCoding,
  recodedHeaders,
  weakened,
  weightOf,
  withVaryAcceptEncoding,
  type Coding,
} from '../../../src/rfc9111/accept-encoding.js';

const ALL: Coding[] = ['br', 'zstd', 'gzip'];
const NO_ZSTD: Coding[] = ['br', 'gzip'];

describe('parseAcceptEncoding (RFC 9110 §12.5.3)', () => {
  it('reads codings and weights, lower-cases, and reads x-gzip as gzip', () => {
    expect(parseAcceptEncoding('gzip, deflate, BR;q=0.5 , *;q=0.1')).toEqual([
      { coding: 'gzip', q: 1 },
      { coding: 'deflate', q: 1 },
      { coding: 'br', q: 0.5 },
      { coding: '*', q: 0.1 },
    ]);
    expect(parseAcceptEncoding(['x-gzip', 'identity;q=0'])).toEqual([
      { coding: 'gzip', q: 1 },
      { coding: 'identity', q: 0 },
    ]);
  });

  it('drops members whose weight is not a qvalue, and empty members', () => {
    expect(parseAcceptEncoding('gzip;q=2, br;q=abc, zstd;q=0.1234, , deflate;q=1.000')).toEqual([{ coding: 'deflate', q: 1 }]);
  });

  it('takes anything without crashing', () => {
    for (const v of [undefined, null, 42, {}, [], ';;;', '\u0000', 'q=1', ';q=0']) expect(() => parseAcceptEncoding(v)).not.toThrow();
  });
});

describe('weightOf and accepts', () => {
  it('an absent field is identity only; an empty one too', () => {
    expect(weightOf(undefined, 'identity')).toBe(1);
    expect(weightOf(undefined, 'gzip')).toBe(0);
    expect(accepts('', 'gzip')).toBe(false);
    expect(accepts('', 'identity')).toBe(true);
  });

  it('identity is acceptable unless excluded by identity;q=0 or *;q=0', () => {
    expect(accepts('gzip', 'identity')).toBe(true);
    expect(accepts('gzip, identity;q=0', 'identity')).toBe(false);
    expect(accepts('*;q=0, gzip', 'identity')).toBe(false);
    expect(accepts('*;q=0, identity', 'identity')).toBe(true);
  });

  it('* covers the codings not listed', () => {
    expect(accepts('*', 'br')).toBe(true);
    expect(accepts('br;q=0, *', 'br')).toBe(false);
    expect(accepts('br;q=0, *', 'gzip')).toBe(true);
  });
});

describe('preferredCoding: the one coding larder serves', () => {
  it.each([
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip, deflate, br', 'br'],
    ['br, gzip, deflate', 'br'],
    ['deflate, gzip, br, zstd', 'br'],
    ['gzip', 'gzip'],
    ['gzip, deflate', 'gzip'],
    ['deflate', 'identity'],
    ['identity', 'identity'],
    ['', 'identity'],
    ['*', 'br'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['gzip;q=0.5', 'gzip'],
    ['gzip;q=0.5, identity', 'identity'],
    ['gzip;q=0.5, *;q=0.6', 'br'],
    ['identity;q=0', 'identity'],
    ['gzip, identity;q=0', 'gzip'],
    ['br;q=0, gzip;q=0, *', 'zstd'],
    ['zstd', 'zstd'],
    ['x-gzip', 'gzip'],
  ])('%j → %s', (ae, expected) => {
    expect(preferredCoding(ae, ALL)).toBe(expected);
  });

  it('an absent field is identity', () => {
    expect(preferredCoding(undefined, ALL)).toBe('identity');
  });

  it('never picks a coding the runtime lacks', () => {
    expect(preferredCoding('zstd', NO_ZSTD)).toBe('identity');
    expect(preferredCoding('zstd, gzip;q=0.5', NO_ZSTD)).toBe('gzip');
    expect(preferredCoding('br;q=0, gzip;q=0, *', NO_ZSTD)).toBe('identity');
  });

  it('ranks an unnamed identity below every named coding', () => {
    expect(identityRank(parseAcceptEncoding('gzip;q=0.01'))).toBeLessThan(0.01);
    expect(identityRank(parseAcceptEncoding('identity;q=0.5'))).toBe(0.5);
  });
});

describe('codingOf: the coding of a stored body', () => {
  it('identity, a known coding, or undefined for anything larder cannot undo', () => {
    expect(codingOf(undefined, ALL)).toBe('identity');
    expect(codingOf('identity', ALL)).toBe('identity');
    expect(codingOf('GZIP', ALL)).toBe('gzip');
    expect(codingOf('x-gzip', ALL)).toBe('gzip');
    expect(codingOf('br', ALL)).toBe('br');
    expect(codingOf('zstd', NO_ZSTD)).toBeUndefined();
    expect(codingOf('gzip, br', ALL)).toBeUndefined();
    expect(codingOf(['gzip', 'gzip'], ALL)).toBeUndefined();
    expect(codingOf('compress', ALL)).toBeUndefined();
    expect(codingOf('deflate', ALL)).toBeUndefined();
  });
});

describe('recodedHeaders (RFC 9110 §8.8.3, §12.5.5)', () => {
  const origin = { 'content-type': 'application/json', etag: '"v1"', vary: 'Origin', 'content-digest': 'sha-256=:x:', 'cache-control': 'max-age=60' };

  it('a new coding: Content-Encoding set, Vary gains Accept-Encoding, ETag weak, digests dropped', () => {
    expect(recodedHeaders(origin, 'br', false)).toEqual({
      'content-type': 'application/json',
      etag: 'W/"v1"',
      vary: 'Origin, Accept-Encoding',
      'cache-control': 'max-age=60',
      'content-encoding': 'br',
    });
  });

  it('the exact origin bytes keep their strong ETag and digests', () => {
    const out = recodedHeaders({ ...origin, 'content-encoding': 'gzip' }, 'identity', true);
    expect(out['etag']).toBe('"v1"');
    expect(out['content-digest']).toBe('sha-256=:x:');
    expect(out['content-encoding']).toBeUndefined();
  });

  it('does not repeat Accept-Encoding in Vary, and leaves Vary: * alone', () => {
    expect(withVaryAcceptEncoding({ vary: 'accept-encoding' })['vary']).toBe('accept-encoding');
    expect(withVaryAcceptEncoding({ vary: '*' })['vary']).toBe('*');
    expect(withVaryAcceptEncoding({})['vary']).toBe('Accept-Encoding');
  });

  it('weakened', () => {
    expect(weakened('"a"')).toBe('W/"a"');
    expect(weakened('W/"a"')).toBe('W/"a"');
    expect(weakened('garbage')).toBe('garbage');
  });
});

describe('forbidsTransform (RFC 9110 §7.7)', () => {
  it('finds no-transform among the directives', () => {
    expect(forbidsTransform({ 'cache-control': 'max-age=60, No-Transform' })).toBe(true);
    expect(forbidsTransform({ 'cache-control': ['public', 'no-transform'] })).toBe(true);
    expect(forbidsTransform({ 'cache-control': 'max-age=60, no-transformer' })).toBe(false);
    expect(forbidsTransform({})).toBe(false);
  });
});
