import { describe, expect, it } from 'vitest';
import { responseDirectives } from '../../../src/rfc9111/cache-control.js';
import { formatHttpDate } from '../../../src/rfc9111/dates.js';
import {
  DEFAULT_TTL_STATUSES,
  HEURISTIC_STATUSES,
  freshnessLifetime,
  hasExplicitFreshness,
} from '../../../src/rfc9111/freshness.js';
import type { HeaderMap } from '../../../src/types.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function lifetime(headers: HeaderMap, extra: { status?: number; routeTtl?: number; responseTime?: number } = {}) {
  return freshnessLifetime({
    status: extra.status ?? 200,
    headers,
    directives: responseDirectives(headers),
    responseTime: extra.responseTime ?? NOW,
    routeTtl: extra.routeTtl,
    heuristicFraction: 0.1,
    heuristicMax: DAY,
  });
}

describe('status sets', () => {
  it('lists the RFC 9110 §15.1 heuristically cacheable statuses', () => {
    expect([...HEURISTIC_STATUSES].sort((a, b) => a - b)).toEqual([
      200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
    ]);
  });

  it('keeps error statuses out of the route-ttl set', () => {
    expect([...DEFAULT_TTL_STATUSES].sort((a, b) => a - b)).toEqual([200, 203, 204, 300, 301, 308]);
  });
});

describe('freshnessLifetime', () => {
  it('prefers s-maxage over max-age and Expires', () => {
    const h = { 'cache-control': 'max-age=10, s-maxage=20', expires: formatHttpDate(NOW + HOUR), date: formatHttpDate(NOW) };
    expect(lifetime(h)).toEqual({ lifetime: 20_000, source: 's-maxage' });
  });

  it('prefers max-age over Expires, even a past or invalid one', () => {
    expect(lifetime({ 'cache-control': 'max-age=3600', expires: formatHttpDate(NOW - HOUR) })).toEqual({
      lifetime: HOUR,
      source: 'max-age',
    });
    expect(lifetime({ 'cache-control': 'max-age=3600', expires: '0' })).toEqual({ lifetime: HOUR, source: 'max-age' });
  });

  it('reads max-age=0 and a malformed max-age as zero', () => {
    expect(lifetime({ 'cache-control': 'max-age=0' })).toEqual({ lifetime: 0, source: 'max-age' });
    expect(lifetime({ 'cache-control': 'max-age=1.5', 'last-modified': formatHttpDate(NOW - DAY) })).toEqual({
      lifetime: 0,
      source: 'max-age',
    });
  });

  it('computes Expires minus Date', () => {
    const h = { expires: formatHttpDate(NOW + HOUR), date: formatHttpDate(NOW - 60_000) };
    expect(lifetime(h)).toEqual({ lifetime: HOUR + 60_000, source: 'expires' });
  });

  it('uses the response time when Date is missing or invalid', () => {
    expect(lifetime({ expires: formatHttpDate(NOW + HOUR) }, { responseTime: NOW + 1000 })).toEqual({
      lifetime: HOUR - 1000,
      source: 'expires',
    });
    expect(lifetime({ expires: formatHttpDate(NOW + HOUR), date: 'yesterday' })).toEqual({
      lifetime: HOUR,
      source: 'expires',
    });
  });

  it('treats an invalid Expires as already expired', () => {
    expect(lifetime({ expires: '0', 'last-modified': formatHttpDate(NOW - DAY) })).toEqual({
      lifetime: 0,
      source: 'expires',
    });
  });

  it('uses the first of several Expires values', () => {
    const h = { expires: [formatHttpDate(NOW + HOUR), formatHttpDate(NOW + DAY)], date: formatHttpDate(NOW) };
    expect(lifetime(h)).toEqual({ lifetime: HOUR, source: 'expires' });
  });

  it('clamps an Expires before Date to zero', () => {
    expect(lifetime({ expires: formatHttpDate(NOW - HOUR), date: formatHttpDate(NOW) })).toEqual({
      lifetime: 0,
      source: 'expires',
    });
  });

  it("uses the route's lifetime (the policy chose it for this status) only without explicit freshness", () => {
    expect(lifetime({}, { routeTtl: 30_000 })).toEqual({ lifetime: 30_000, source: 'route' });
    expect(lifetime({ 'cache-control': 'max-age=5' }, { routeTtl: 30_000 }).source).toBe('max-age');
    expect(lifetime({}, { routeTtl: 30_000, status: 404 })).toEqual({ lifetime: 30_000, source: 'route' });
  });

  it('puts a forced lifetime before everything the origin said', () => {
    const h = { 'cache-control': 'max-age=5, s-maxage=7, no-store', expires: formatHttpDate(NOW + HOUR), date: formatHttpDate(NOW) };
    expect(freshnessLifetime({ status: 200, headers: h, directives: responseDirectives(h), responseTime: NOW, forcedTtl: 60_000, heuristicFraction: 0.1, heuristicMax: DAY })).toEqual({
      lifetime: 60_000,
      source: 'forced',
    });
  });

  it('gives no heuristic lifetime when told not to', () => {
    const h = { date: formatHttpDate(NOW), 'last-modified': formatHttpDate(NOW - 10 * HOUR) };
    expect(freshnessLifetime({ status: 200, headers: h, directives: responseDirectives(h), responseTime: NOW, heuristics: false, heuristicFraction: 0.1, heuristicMax: DAY })).toEqual({
      lifetime: 0,
      source: 'none',
    });
  });

  it('derives a heuristic from Last-Modified for heuristically cacheable statuses', () => {
    const h = { date: formatHttpDate(NOW), 'last-modified': formatHttpDate(NOW - 10 * HOUR) };
    expect(lifetime(h)).toEqual({ lifetime: HOUR, source: 'heuristic' });
    expect(lifetime(h, { status: 404 })).toEqual({ lifetime: HOUR, source: 'heuristic' });
    expect(lifetime(h, { status: 302 })).toEqual({ lifetime: 0, source: 'none' });
  });

  it('derives a heuristic for any status marked public (cache-tests heuristic-599-cached)', () => {
    const h = { date: formatHttpDate(NOW), 'last-modified': formatHttpDate(NOW - 10 * HOUR), 'cache-control': 'public' };
    expect(lifetime(h, { status: 599 })).toEqual({ lifetime: HOUR, source: 'heuristic' });
    expect(lifetime(h, { status: 302 })).toEqual({ lifetime: HOUR, source: 'heuristic' });
  });

  it('caps the heuristic at heuristicMax', () => {
    const h = { date: formatHttpDate(NOW), 'last-modified': formatHttpDate(NOW - 365 * DAY) };
    expect(lifetime(h)).toEqual({ lifetime: DAY, source: 'heuristic' });
  });

  it('uses the response time for the heuristic when Date is missing', () => {
    const h = { 'last-modified': formatHttpDate(NOW - 10 * HOUR) };
    expect(lifetime(h, { responseTime: NOW + 10 * HOUR })).toEqual({ lifetime: 2 * HOUR, source: 'heuristic' });
  });

  it('derives no heuristic from an invalid or future Last-Modified', () => {
    expect(lifetime({ 'last-modified': 'garbage' })).toEqual({ lifetime: 0, source: 'none' });
    expect(lifetime({ date: formatHttpDate(NOW), 'last-modified': formatHttpDate(NOW + HOUR) })).toEqual({
      lifetime: 0,
      source: 'none',
    });
  });

  it('returns none without any information', () => {
    expect(lifetime({})).toEqual({ lifetime: 0, source: 'none' });
  });
});

describe('hasExplicitFreshness', () => {
  it('is true for s-maxage, max-age or any Expires', () => {
    const check = (h: HeaderMap) => hasExplicitFreshness(responseDirectives(h), h);
    expect(check({ 'cache-control': 's-maxage=1' })).toBe(true);
    expect(check({ 'cache-control': 'max-age=0' })).toBe(true);
    expect(check({ expires: '0' })).toBe(true);
    expect(check({ 'cache-control': 'public, stale-while-revalidate=60' })).toBe(false);
    expect(check({ 'last-modified': formatHttpDate(NOW) })).toBe(false);
  });
});
