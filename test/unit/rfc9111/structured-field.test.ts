import { describe, expect, it } from 'vitest';
import { parseDictionary } from '../../../src/rfc9111/structured-field.js';
import { responseDirectives } from '../../../src/rfc9111/cache-control.js';

describe('parseDictionary (RFC 8941 §4.2.2)', () => {
  it('parses booleans, integers, strings, tokens, inner lists and parameters', () => {
    const d = parseDictionary('max-age=60, private, a="x\\"y", b=tok, c=(1 2);p=1, d=?0, e=:aGk=:, f=1.5');
    expect(d).toEqual(
      new Map<string, unknown>([
        ['max-age', 60],
        ['private', true],
        ['a', 'x"y'],
        ['b', { token: 'tok' }],
        ['c', [1, 2]],
        ['d', false],
        ['e', { bytes: 'aGk=' }],
        ['f', 1.5],
      ]),
    );
  });

  it('joins several lines and lets a repeated key overwrite', () => {
    expect(parseDictionary(['max-age=1', 'max-age=2'])?.get('max-age')).toBe(2);
  });

  it('rejects what is not a dictionary', () => {
    for (const bad of ['max-age=10000, &&&&&', 'MaX-aGe=3600', 'max-age =100', 'max-age= 100', 'a,', 'a="open', 'a=1234567890123456', 'a=1.2345']) {
      expect(parseDictionary(bad), bad).toBeUndefined();
    }
  });
});

describe('targeted cache-control (RFC 9213)', () => {
  it('uses CDN-Cache-Control instead of Cache-Control when it is valid', () => {
    const d = responseDirectives({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' });
    expect([d.noStore, d.maxAge]).toEqual([false, 600]);
  });

  it('prefers Larder-Cache-Control over CDN-Cache-Control', () => {
    const d = responseDirectives({ 'larder-cache-control': 'max-age=5', 'cdn-cache-control': 'max-age=600' });
    expect(d.maxAge).toBe(5);
  });

  it('falls back to Cache-Control when the targeted field is invalid', () => {
    const d = responseDirectives({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=1, &&&' });
    expect(d.noStore).toBe(true);
  });

  it('drops a directive of the wrong type but keeps the field', () => {
    const d = responseDirectives({ 'cache-control': 'max-age=60', 'cdn-cache-control': 'max-age="10000"' });
    expect(d.maxAge).toBeUndefined();
  });

  it('ignores targeted fields when the list is empty', () => {
    expect(responseDirectives({ 'cache-control': 'max-age=7', 'cdn-cache-control': 'max-age=600' }, []).maxAge).toBe(7);
  });

  it('caps an oversized targeted max-age like delta-seconds', () => {
    expect(responseDirectives({ 'cdn-cache-control': 'max-age=99999999999' }).maxAge).toBe(2147483648);
  });
});
