import { describe, expect, it } from 'vitest';
import { requestDirectives } from '../../../src/rfc9111/cache-control.js';
import { decide, usableOnError, type DecideEntry } from '../../../src/rfc9111/policy.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const S = 1000;

/** Received at T0 with age 0 and a 100 s lifetime; validator ETag unless told otherwise. */
function entry(over: Partial<DecideEntry> = {}): DecideEntry {
  const base = { initialAge: 0, responseTime: T0, lifetime: 100 * S, mustRevalidate: false, noCache: false, etag: '"e"' };
  const e = { ...base, ...over };
  const freshUntil = e.responseTime - e.initialAge + e.lifetime;
  return { freshUntil, staleWhileRevalidateUntil: freshUntil, lastModified: undefined, ...e };
}

const req = (cc?: string, extra: Record<string, string> = {}) =>
  requestDirectives(cc === undefined ? extra : { 'cache-control': cc, ...extra });

describe('decide', () => {
  it('serves a fresh entry and turns stale exactly at the lifetime', () => {
    expect(decide(entry(), req(), T0)).toEqual({ kind: 'HIT' });
    expect(decide(entry(), req(), T0 + 99_999)).toEqual({ kind: 'HIT' });
    expect(decide(entry(), req(), T0 + 100 * S)).toEqual({ kind: 'REVALIDATE' });
  });

  it('counts the initial age', () => {
    expect(decide(entry({ initialAge: 60 * S }), req(), T0 + 39 * S)).toEqual({ kind: 'HIT' });
    expect(decide(entry({ initialAge: 60 * S }), req(), T0 + 40 * S)).toEqual({ kind: 'REVALIDATE' });
  });

  it('misses on a stale entry without a validator', () => {
    expect(decide(entry({ etag: undefined }), req(), T0 + 200 * S)).toEqual({ kind: 'MISS' });
    expect(decide(entry({ etag: undefined, lastModified: 'Thu, 01 Jan 2026 00:00:00 GMT' }), req(), T0 + 200 * S)).toEqual({
      kind: 'REVALIDATE',
    });
  });

  it('revalidates on request or response no-cache, even when fresh', () => {
    expect(decide(entry(), req('no-cache'), T0)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(entry(), req(undefined, { pragma: 'no-cache' }), T0)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(entry({ noCache: true }), req(), T0)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(entry({ noCache: true, etag: undefined }), req(), T0)).toEqual({ kind: 'MISS' });
  });

  it('honours request max-age: age must be at most max-age; max-age=0 always validates', () => {
    expect(decide(entry(), req('max-age=10'), T0 + 10 * S)).toEqual({ kind: 'HIT' });
    expect(decide(entry(), req('max-age=10'), T0 + 10 * S + 1)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(entry(), req('max-age=0'), T0)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(entry({ etag: undefined }), req('max-age=0'), T0)).toEqual({ kind: 'MISS' });
  });

  it('honours request min-fresh: lifetime must cover age plus min-fresh', () => {
    expect(decide(entry(), req('min-fresh=40'), T0 + 60 * S)).toEqual({ kind: 'HIT' });
    expect(decide(entry(), req('min-fresh=40'), T0 + 60 * S + 1)).toEqual({ kind: 'REVALIDATE' });
  });

  it('serves stale within request max-stale, inclusive', () => {
    expect(decide(entry(), req('max-stale=30'), T0 + 130 * S)).toEqual({ kind: 'STALE', why: 'max-stale' });
    expect(decide(entry(), req('max-stale=30'), T0 + 130 * S + 1)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(entry(), req('max-stale'), T0 + 1e9)).toEqual({ kind: 'STALE', why: 'max-stale' });
  });

  it('never serves stale under must-revalidate', () => {
    const e = entry({ mustRevalidate: true, staleWhileRevalidateUntil: T0 + 1000 * S });
    expect(decide(e, req('max-stale'), T0 + 101 * S)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(e, req(), T0 + 101 * S)).toEqual({ kind: 'REVALIDATE' });
  });

  it('serves stale while revalidating inside the window, exclusive at its end', () => {
    const e = entry({ staleWhileRevalidateUntil: T0 + 160 * S });
    expect(decide(e, req(), T0 + 150 * S)).toEqual({ kind: 'STALE', why: 'revalidate' });
    expect(decide(e, req(), T0 + 160 * S)).toEqual({ kind: 'REVALIDATE' });
  });

  it('lets request max-age and min-fresh forbid stale-while-revalidate', () => {
    const e = entry({ staleWhileRevalidateUntil: T0 + 160 * S });
    expect(decide(e, req('max-age=200'), T0 + 150 * S)).toEqual({ kind: 'STALE', why: 'revalidate' });
    expect(decide(e, req('max-age=120'), T0 + 150 * S)).toEqual({ kind: 'REVALIDATE' });
    expect(decide(e, req('min-fresh=0'), T0 + 150 * S)).toEqual({ kind: 'REVALIDATE' });
  });

  it('prefers max-stale over the revalidation window when both allow', () => {
    const e = entry({ staleWhileRevalidateUntil: T0 + 160 * S });
    expect(decide(e, req('max-stale=60'), T0 + 150 * S)).toEqual({ kind: 'STALE', why: 'max-stale' });
  });

  it('treats a zero lifetime as always stale', () => {
    expect(decide(entry({ lifetime: 0 }), req(), T0)).toEqual({ kind: 'REVALIDATE' });
  });
});

describe('usableOnError', () => {
  const e = { staleIfErrorUntil: T0 + 200 * S, mustRevalidate: false, freshUntil: T0 + 100 * S };

  it('is true inside the response stale-if-error window only', () => {
    expect(usableOnError(e, req(), T0 + 199 * S)).toBe(true);
    expect(usableOnError(e, req(), T0 + 200 * S)).toBe(false);
  });

  it('never applies under must-revalidate', () => {
    expect(usableOnError({ ...e, mustRevalidate: true }, req(), T0 + 150 * S)).toBe(false);
  });

  it('honours a request stale-if-error beyond the response window', () => {
    expect(usableOnError(e, req('stale-if-error=300'), T0 + 400 * S)).toBe(true);
    expect(usableOnError(e, req('stale-if-error=300'), T0 + 400 * S + 1)).toBe(false);
    const { freshUntil: _unused, ...noFresh } = e;
    expect(usableOnError(noFresh, req('stale-if-error=300'), T0 + 300 * S)).toBe(false);
  });
});
