import { describe, expect, it } from 'vitest';
import {
  deltaSeconds,
  parseCacheControl,
  requestDirectives,
  responseDirectives,
} from '../../../src/rfc9111/cache-control.js';

describe('parseCacheControl', () => {
  it('lower-cases names and keeps bare directives as true', () => {
    const d = parseCacheControl('No-Store, MAX-AGE=60');
    expect(d.get('no-store')).toBe(true);
    expect(d.get('max-age')).toBe('60');
    expect(d.has('No-Store')).toBe(false);
  });

  it('unquotes quoted-string values, handling escapes and commas inside quotes', () => {
    const d = parseCacheControl('private="set-cookie, x-a", ext="a\\"b\\\\c", max-age=5');
    expect(d.get('private')).toBe('set-cookie, x-a');
    expect(d.get('ext')).toBe('a"b\\c');
    expect(d.get('max-age')).toBe('5');
    expect(d.size).toBe(3);
  });

  it('does not see a directive inside a quoted string (cache-tests freshness-max-age-ignore-quoted)', () => {
    expect(parseCacheControl('extension="max-age=3600", max-age=1').get('max-age')).toBe('1');
    expect(parseCacheControl('max-age=1, extension="max-age=3600"').get('max-age')).toBe('1');
  });

  it('keeps the first occurrence of a repeated directive, on one line or several', () => {
    expect(parseCacheControl('max-age=1800, max-age=1').get('max-age')).toBe('1800');
    expect(parseCacheControl(['max-age=1', 'max-age=1800']).get('max-age')).toBe('1');
  });

  it('concatenates several field lines', () => {
    const d = parseCacheControl(['public', 's-maxage=10, must-revalidate']);
    expect([...d.keys()]).toEqual(['public', 's-maxage', 'must-revalidate']);
  });

  it('tolerates whitespace and skips empty or garbage entries', () => {
    const d = parseCacheControl('  ,, max-age = 30 ,\t no-cache\t, =x, "quoted", a b, ');
    expect(d.get('max-age')).toBe('30');
    expect(d.get('no-cache')).toBe(true);
    expect(d.size).toBe(2);
  });

  it('does not let an unterminated quote swallow later directives', () => {
    const d = parseCacheControl('foo="bar, no-store');
    expect(d.has('no-store')).toBe(true);
    expect(d.has('foo')).toBe(false);
  });

  it('returns an empty map for absent or odd input', () => {
    expect(parseCacheControl(undefined).size).toBe(0);
    expect(parseCacheControl('').size).toBe(0);
    expect(parseCacheControl([]).size).toBe(0);
    expect(parseCacheControl(42 as unknown as string).size).toBe(0);
  });
});

describe('deltaSeconds', () => {
  it('accepts digits, including leading zeros', () => {
    expect(deltaSeconds('0')).toBe(0);
    expect(deltaSeconds('3600')).toBe(3600);
    expect(deltaSeconds('003600')).toBe(3600);
  });

  it('caps values too large at 2^31', () => {
    expect(deltaSeconds('2147483647')).toBe(2147483647);
    expect(deltaSeconds('2147483648')).toBe(2147483648);
    expect(deltaSeconds('2147483649')).toBe(2147483648);
    expect(deltaSeconds('99999999999999999999999999')).toBe(2147483648);
  });

  it('accepts a double-quoted number', () => {
    expect(deltaSeconds('"3600"')).toBe(3600);
  });

  it('rejects everything else', () => {
    for (const v of ['-1', '3600.0', '3600.5', '', ' 1', 'a3600', '3600a', "'3600'", '1e3', '0x10', '"', '""']) {
      expect(deltaSeconds(v), v).toBeUndefined();
    }
    expect(deltaSeconds(true)).toBeUndefined();
    expect(deltaSeconds(undefined)).toBeUndefined();
  });
});

describe('responseDirectives', () => {
  it('reads every flag', () => {
    const r = responseDirectives({
      'cache-control':
        'no-store, no-cache, private, public, must-revalidate, proxy-revalidate, must-understand, immutable, no-transform',
    });
    expect(r).toEqual({
      noStore: true,
      noCache: true,
      private: true,
      public: true,
      mustRevalidate: true,
      proxyRevalidate: true,
      mustUnderstand: true,
      immutable: true,
      noTransform: true,
    });
  });

  it('reads the numeric directives in seconds', () => {
    const r = responseDirectives({
      'cache-control': 'max-age=60, s-maxage="120", stale-while-revalidate=30, stale-if-error=600',
    });
    expect(r.maxAge).toBe(60);
    expect(r.sMaxage).toBe(120);
    expect(r.staleWhileRevalidate).toBe(30);
    expect(r.staleIfError).toBe(600);
    expect(r.noStore).toBe(false);
  });

  it('treats qualified no-cache and private as present', () => {
    const r = responseDirectives({ 'cache-control': 'no-cache="set-cookie", private="x-user"' });
    expect(r.noCache).toBe(true);
    expect(r.private).toBe(true);
  });

  it('reads a malformed max-age / s-maxage as already stale, not as absent', () => {
    expect(responseDirectives({ 'cache-control': 'max-age=3600.5' }).maxAge).toBe(0);
    expect(responseDirectives({ 'cache-control': "max-age='3600'" }).maxAge).toBe(0);
    expect(responseDirectives({ 'cache-control': 'max-age' }).maxAge).toBe(0);
    expect(responseDirectives({ 'cache-control': 's-maxage=-1' }).sMaxage).toBe(0);
  });

  it('ignores malformed stale windows', () => {
    const r = responseDirectives({ 'cache-control': 'stale-while-revalidate=x, stale-if-error' });
    expect(r.staleWhileRevalidate).toBeUndefined();
    expect(r.staleIfError).toBeUndefined();
  });

  it('leaves absent numbers undefined', () => {
    const r = responseDirectives({});
    expect(r.maxAge).toBeUndefined();
    expect(r.sMaxage).toBeUndefined();
    expect(r.noStore).toBe(false);
  });
});

describe('requestDirectives', () => {
  it('reads the request directives', () => {
    const r = requestDirectives({ 'cache-control': 'no-cache, no-store, only-if-cached, max-age=5, min-fresh=10' });
    expect(r).toMatchObject({ noCache: true, noStore: true, onlyIfCached: true, maxAge: 5, minFresh: 10 });
    expect(r.maxStale).toBeUndefined();
  });

  it('reads max-stale without a value as Infinity, with a value as seconds', () => {
    expect(requestDirectives({ 'cache-control': 'max-stale' }).maxStale).toBe(Infinity);
    expect(requestDirectives({ 'cache-control': 'max-stale=30' }).maxStale).toBe(30);
    expect(requestDirectives({ 'cache-control': 'max-stale=abc' }).maxStale).toBeUndefined();
  });

  it('reads stale-if-error', () => {
    expect(requestDirectives({ 'cache-control': 'stale-if-error=60' }).staleIfError).toBe(60);
  });

  it('ignores malformed request numbers', () => {
    const r = requestDirectives({ 'cache-control': 'max-age=-1, min-fresh=1.5' });
    expect(r.maxAge).toBeUndefined();
    expect(r.minFresh).toBeUndefined();
  });

  it('honours Pragma: no-cache only without Cache-Control', () => {
    expect(requestDirectives({ pragma: 'no-cache' }).noCache).toBe(true);
    expect(requestDirectives({ pragma: 'x, No-Cache' }).noCache).toBe(true);
    expect(requestDirectives({ pragma: 'no-cache', 'cache-control': 'max-age=10' }).noCache).toBe(false);
    expect(requestDirectives({ pragma: 'nocache' }).noCache).toBe(false);
  });

  it('returns all-false for no headers', () => {
    expect(requestDirectives({})).toEqual({ noCache: false, noStore: false, onlyIfCached: false });
  });
});

describe('responseDirectives, parsed once per Cache-Control line', () => {
  it('gives the same answer for a line seen before, and a frozen one', () => {
    const a = responseDirectives({ 'cache-control': 'max-age=60, stale-while-revalidate=30' });
    const b = responseDirectives({ 'cache-control': 'max-age=60, stale-while-revalidate=30' });
    expect(b).toEqual(a);
    expect(Object.isFrozen(b)).toBe(true);
    expect(b).toMatchObject({ maxAge: 60, staleWhileRevalidate: 30, noStore: false });
  });

  it('reads a targeted field whatever Cache-Control line was seen before', () => {
    responseDirectives({ 'cache-control': 'max-age=60' });
    expect(responseDirectives({ 'cache-control': 'max-age=60', 'cdn-cache-control': 'no-store' }, ['cdn-cache-control'])).toMatchObject({ noStore: true });
    expect(responseDirectives({ 'cache-control': 'max-age=60' }, ['cdn-cache-control'])).toMatchObject({ noStore: false, maxAge: 60 });
  });

  it('joins several Cache-Control lines as before', () => {
    expect(responseDirectives({ 'cache-control': ['max-age=5', 'no-store'] })).toMatchObject({ maxAge: 5, noStore: true });
  });
});
