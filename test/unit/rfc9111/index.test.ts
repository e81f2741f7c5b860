import { describe, expect, it } from 'vitest';
import * as rfc from '../../../src/rfc9111/index.js';

describe('rfc9111 index', () => {
  it('re-exports the public functions and constants', () => {
    for (const name of [
      'parseCacheControl',
      'deltaSeconds',
      'responseDirectives',
      'requestDirectives',
      'parseHttpDate',
      'formatHttpDate',
      'parseAge',
      'initialAge',
      'currentAge',
      'ageHeader',
      'freshnessLifetime',
      'hasExplicitFreshness',
      'checkStorable',
      'hasValidator',
      'parseVary',
      'varyValues',
      'variantId',
      'varyMatches',
      'clientNotModified',
      'revalidationHeaders',
      'notModifiedHeaders',
      'update304',
      'validatorMatches',
      'stripHopByHop',
      'invalidationTargets',
      'resolveReference',
      'decide',
      'usableOnError',
    ]) {
      expect(typeof (rfc as Record<string, unknown>)[name], name).toBe('function');
    }
    for (const name of ['HEURISTIC_STATUSES', 'DEFAULT_TTL_STATUSES', 'UNDERSTOOD_STATUSES', 'HOP_BY_HOP', 'INVALIDATING_METHODS']) {
      expect((rfc as Record<string, unknown>)[name], name).toBeInstanceOf(Set);
    }
  });
});

/** Nothing in the module may throw, whatever a client or an origin sends. */
describe('robustness', () => {
  const junk: unknown[] = [
    undefined,
    '',
    ',',
    '"',
    '\\',
    '=',
    '=,=',
    'max-age="',
    'W/',
    '*',
    '\u0000',
    '\uD800',
    'x'.repeat(10_000),
    ['', '"'],
    [],
    [undefined],
    42,
    { a: 1 },
  ];

  it('survives junk in every header', () => {
    for (const v of junk) {
      const h = Object.fromEntries(
        ['cache-control', 'expires', 'date', 'last-modified', 'age', 'vary', 'etag', 'content-location', 'location', 'connection', 'set-cookie', 'pragma', 'if-none-match', 'if-modified-since', 'authorization'].map((n) => [n, v]),
      ) as Record<string, string>;
      expect(() => {
        const cc = rfc.responseDirectives(h);
        const rq = rfc.requestDirectives(h);
        rfc.parseHttpDate(h['date']);
        rfc.parseAge(h['age']);
        rfc.initialAge(h, 0, 1);
        rfc.freshnessLifetime({ status: 200, headers: h, directives: cc, responseTime: 0, heuristicFraction: 0.1, heuristicMax: 1 });
        rfc.checkStorable({ method: 'GET', requestHeaders: h, status: 200, headers: h, directives: cc, unsafeShareSetCookie: false });
        const names = rfc.parseVary(h['vary']).names;
        rfc.variantId(rfc.varyValues(names, h));
        rfc.clientNotModified(h, 200, h, 0);
        rfc.revalidationHeaders(h);
        rfc.notModifiedHeaders(h);
        rfc.update304(h, h);
        rfc.validatorMatches(h, h);
        rfc.stripHopByHop(h);
        rfc.invalidationTargets({ host: 'a', target: '/' }, 200, h);
        if (typeof v === 'string') rfc.resolveReference({ host: 'a', target: '/b?c' }, v);
        rfc.decide(
          { initialAge: NaN, responseTime: NaN, lifetime: NaN, freshUntil: NaN, staleWhileRevalidateUntil: NaN, mustRevalidate: false, noCache: false },
          rq,
          0,
        );
        rfc.formatHttpDate(NaN);
      }, String(v)).not.toThrow();
    }
  });
});
