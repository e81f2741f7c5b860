import { describe, expect, it } from 'vitest';
import { responseDirectives } from '../../../src/rfc9111/cache-control.js';
import { UNDERSTOOD_STATUSES, checkStorable, hasValidator, type StorableInput } from '../../../src/rfc9111/policy.js';
import type { HeaderMap, RequestInfo } from '../../../src/types.js';

function check(
  headers: HeaderMap,
  opts: Partial<Omit<StorableInput, 'headers' | 'directives'>> & { requestHeaders?: RequestInfo['headers'] } = {},
) {
  return checkStorable({
    method: opts.method ?? 'GET',
    requestHeaders: opts.requestHeaders ?? {},
    status: opts.status ?? 200,
    headers,
    directives: responseDirectives(headers),
    unsafeShareSetCookie: opts.unsafeShareSetCookie ?? false,
    routeTtl: opts.routeTtl,
    forcedTtl: opts.forcedTtl,
    cookieLimited: opts.cookieLimited,
  });
}

const fail = (reason: string) => ({ ok: false, reason });
const OK = { ok: true };

describe('UNDERSTOOD_STATUSES', () => {
  it('holds the RFC 9110 final statuses and nothing undefined', () => {
    for (const s of [200, 206, 301, 304, 308, 404, 410, 414, 421, 422, 426, 500, 501, 505]) {
      expect(UNDERSTOOD_STATUSES.has(s), String(s)).toBe(true);
    }
    for (const s of [100, 199, 207, 226, 306, 418, 425, 429, 451, 506, 599]) {
      expect(UNDERSTOOD_STATUSES.has(s), String(s)).toBe(false);
    }
    // 7 successful + 8 redirection + 21 client error + 6 server error
    expect(UNDERSTOOD_STATUSES.size).toBe(42);
  });
});

describe('checkStorable', () => {
  it('stores a plain 200 with max-age', () => {
    expect(check({ 'cache-control': 'max-age=60' })).toEqual(OK);
  });

  it('stores only GET', () => {
    expect(check({ 'cache-control': 'max-age=60' }, { method: 'HEAD' })).toEqual(fail('method'));
    expect(check({ 'cache-control': 'max-age=60' }, { method: 'POST' })).toEqual(fail('method'));
    expect(check({ 'cache-control': 'max-age=60' }, { method: 'get' })).toEqual(fail('method'));
  });

  it('refuses non-final and 304 statuses', () => {
    for (const status of [100, 101, 199, 304, 600, 0, NaN]) {
      expect(check({ 'cache-control': 'max-age=60' }, { status }), String(status)).toEqual(fail('status'));
    }
  });

  it('stores an unknown final status with explicit freshness (cache-tests status-299-fresh)', () => {
    for (const status of [299, 418, 499, 599]) {
      expect(check({ 'cache-control': 'max-age=60' }, { status }), String(status)).toEqual(OK);
      expect(check({}, { status }), String(status)).toEqual(fail('no-freshness'));
    }
  });

  it('refuses must-understand with a status it does not understand', () => {
    expect(check({ 'cache-control': 'must-understand, no-store, max-age=60' }, { status: 299 })).toEqual(
      fail('must-understand'),
    );
  });

  it('lets must-understand override no-store for an understood status', () => {
    expect(check({ 'cache-control': 'must-understand, no-store, max-age=60' })).toEqual(OK);
  });

  it('refuses partial content', () => {
    expect(check({ 'cache-control': 'max-age=60' }, { status: 206 })).toEqual(fail('partial'));
    expect(check({ 'cache-control': 'max-age=60', 'content-range': 'bytes 0-9/100' })).toEqual(fail('partial'));
  });

  it('refuses when the request says no-store', () => {
    expect(
      check({ 'cache-control': 'max-age=60' }, { requestHeaders: { 'cache-control': 'max-age=0, No-Store' } }),
    ).toEqual(fail('request-no-store'));
  });

  it('refuses no-store and private, qualified or not', () => {
    expect(check({ 'cache-control': 'max-age=60, no-store' })).toEqual(fail('no-store'));
    expect(check({ 'cache-control': 'private, max-age=60' })).toEqual(fail('private'));
    expect(check({ 'cache-control': 'private="set-cookie", max-age=60' })).toEqual(fail('private'));
  });

  it('refuses responses to Authorization requests unless shared caching is explicit', () => {
    const auth = { requestHeaders: { authorization: 'Bearer x' } };
    expect(check({ 'cache-control': 'max-age=60' }, auth)).toEqual(fail('authorization'));
    expect(check({ 'cache-control': 'max-age=60, proxy-revalidate' }, auth)).toEqual(fail('authorization'));
    expect(check({ 'cache-control': 'max-age=60, public' }, auth)).toEqual(OK);
    expect(check({ 'cache-control': 's-maxage=60' }, auth)).toEqual(OK);
    expect(check({ 'cache-control': 'max-age=60, must-revalidate' }, auth)).toEqual(OK);
  });

  it('refuses Vary: * in any spelling or line', () => {
    expect(check({ 'cache-control': 'max-age=60', vary: '*' })).toEqual(fail('vary-star'));
    expect(check({ 'cache-control': 'max-age=60', vary: 'Accept,  * ' })).toEqual(fail('vary-star'));
    expect(check({ 'cache-control': 'max-age=60', vary: ['accept', '*'] })).toEqual(fail('vary-star'));
    expect(check({ 'cache-control': 'max-age=60', vary: 'accept-encoding' })).toEqual(OK);
  });

  it('refuses Set-Cookie unless the route opts in', () => {
    const h = { 'cache-control': 'max-age=60', 'set-cookie': ['a=b'] };
    expect(check(h)).toEqual(fail('set-cookie'));
    expect(check(h, { unsafeShareSetCookie: true })).toEqual(OK);
    expect(check({ 'cache-control': 'max-age=60', 'set-cookie': [] })).toEqual(OK);
  });

  it('needs some freshness permission', () => {
    expect(check({}, { status: 302 })).toEqual(fail('no-freshness'));
    expect(check({ 'cache-control': 'no-cache' }, { status: 500 })).toEqual(fail('no-freshness'));
    expect(check({ 'cache-control': 'public' }, { status: 302 })).toEqual(OK);
    expect(check({ 'cache-control': 'max-age=0' }, { status: 302 })).toEqual(OK);
    expect(check({ 'cache-control': 's-maxage=5' }, { status: 307 })).toEqual(OK);
    expect(check({ expires: '0' }, { status: 302 })).toEqual(OK);
    expect(check({}, { status: 200 })).toEqual(OK);
    expect(check({}, { status: 404 })).toEqual(OK);
    expect(check({}, { status: 500 })).toEqual(fail('no-freshness'));
    // The policy gives a route lifetime to an error status only from ttlByStatus (policy.ts routeTtl).
    expect(check({}, { status: 500, routeTtl: 60_000 })).toEqual(OK);
    expect(check({ 'cache-control': 'no-store' }, { status: 200, forcedTtl: 60_000 })).toEqual(OK);
    expect(check({ 'cache-control': 'private' }, { status: 200, forcedTtl: 60_000 })).toEqual(fail('private'));
    expect(check({}, { status: 200, cookieLimited: true })).toEqual(fail('cookie'));
    expect(check({ 'cache-control': 'max-age=5' }, { status: 200, cookieLimited: true })).toEqual(OK);
  });
});

describe('hasValidator', () => {
  it('is true with ETag or Last-Modified', () => {
    expect(hasValidator({ etag: '"a"' })).toBe(true);
    expect(hasValidator({ 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT' })).toBe(true);
    expect(hasValidator({ 'cache-control': 'max-age=1' })).toBe(false);
  });
});
