import { describe, expect, it } from 'vitest';
import { requestDirectives, responseDirectives } from '../../../src/rfc9111/cache-control.js';
import {
  authorizationRefuses,
  entryTimes,
  evaluate,
  reuseRefused,
  routeTtl,
  sharedDespiteAuthorization,
  storable,
  storableAfter304,
  usableUntil,
  type EvaluateEntry,
  type PolicyResponse,
  type RouteRules,
} from '../../../src/rfc9111/policy.js';
import { varyValues } from '../../../src/rfc9111/vary.js';
import type { HeaderMap, RequestInfo } from '../../../src/types.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const S = 1000;
const ROUTE: RouteRules = { unsafeShareSetCookie: false };
const SETTINGS = { heuristicFraction: 0.1, heuristicMax: 86_400 * S };

function response(headers: HeaderMap, status = 200): PolicyResponse {
  return { status, headers, directives: responseDirectives(headers), requestTime: T0, responseTime: T0 };
}

/** A stored entry for `headers`, as a fill makes it for a request with `reqHeaders`. */
function stored(headers: HeaderMap, reqHeaders: RequestInfo['headers'] = {}, varyNames: string[] = []): EvaluateEntry {
  const times = entryTimes(response(headers), reqHeaders, ROUTE, SETTINGS);
  return {
    ...times,
    responseTime: T0,
    etag: typeof headers['etag'] === 'string' ? headers['etag'] : undefined,
    lastModified: undefined,
    varyNames,
    varyValues: varyValues(varyNames, reqHeaders),
  };
}

const request = (headers: RequestInfo['headers'] = {}) => ({ headers, cc: requestDirectives(headers) });

describe('evaluate', () => {
  it('answers a fresh entry with HIT, and with the same object every time (a hit allocates nothing)', () => {
    const e = stored({ 'cache-control': 'max-age=60' });
    const req = request();
    expect(evaluate(e, req, T0 + 10 * S)).toEqual({ kind: 'HIT' });
    expect(evaluate(e, req, T0 + 10 * S)).toBe(evaluate(e, req, T0 + 20 * S));
  });

  it('refuses an entry whose Vary fields do not match the request', () => {
    const e = stored({ 'cache-control': 'max-age=60', vary: 'accept-language' }, { 'accept-language': 'fr' }, ['accept-language']);
    expect(evaluate(e, request({ 'accept-language': 'fr' }), T0)).toEqual({ kind: 'HIT' });
    expect(evaluate(e, request({ 'accept-language': 'en' }), T0)).toEqual({ kind: 'MISS', why: 'vary' });
    expect(evaluate(e, request(), T0)).toEqual({ kind: 'MISS', why: 'vary' });
  });

  it('refuses a request with Authorization unless the response said public, s-maxage or must-revalidate (RFC 9111 §3.5)', () => {
    const auth = request({ authorization: 'Bearer x' });
    expect(evaluate(stored({ 'cache-control': 'max-age=60' }), auth, T0)).toEqual({ kind: 'MISS', why: 'authorization' });
    expect(evaluate(stored({ 'cache-control': 'max-age=60' }), request(), T0)).toEqual({ kind: 'HIT' });
    for (const cc of ['public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate']) {
      expect(evaluate(stored({ 'cache-control': cc }), auth, T0), cc).toEqual({ kind: 'HIT' });
    }
  });

  it('refuses for Authorization before looking at the age, and otherwise decides on age as decide() does', () => {
    const e = stored({ 'cache-control': 'max-age=60, stale-while-revalidate=30', etag: '"a"' });
    expect(evaluate(e, request({ authorization: 'x' }), T0 + 70 * S)).toEqual({ kind: 'MISS', why: 'authorization' });
    expect(evaluate(e, request(), T0 + 70 * S)).toEqual({ kind: 'STALE', why: 'revalidate' });
    expect(evaluate(e, request(), T0 + 95 * S)).toEqual({ kind: 'REVALIDATE' });
    expect(evaluate(e, request({ 'cache-control': 'max-stale=60' }), T0 + 95 * S)).toEqual({ kind: 'STALE', why: 'max-stale' });
    expect(evaluate({ ...e, etag: undefined }, request(), T0 + 95 * S)).toEqual({ kind: 'MISS' });
  });
});

describe('reuseRefused', () => {
  it('names the reason, or undefined when the entry may answer the request', () => {
    const e = stored({ 'cache-control': 'max-age=60', vary: 'origin' }, { origin: 'a' }, ['origin']);
    expect(reuseRefused(e, { origin: 'a' })).toBeUndefined();
    expect(reuseRefused(e, { origin: 'b' })).toBe('vary');
    expect(reuseRefused(e, { origin: 'a', authorization: 'x' })).toBe('authorization');
  });
});

describe('the Authorization rule', () => {
  it('lets public, s-maxage and must-revalidate share, and nothing else', () => {
    const allows = (cc: string) => sharedDespiteAuthorization(responseDirectives({ 'cache-control': cc }));
    expect(allows('public')).toBe(true);
    expect(allows('s-maxage=1')).toBe(true);
    expect(allows('must-revalidate')).toBe(true);
    expect(allows('max-age=60')).toBe(false);
    expect(allows('proxy-revalidate, max-age=60')).toBe(false);
    expect(authorizationRefuses({ authorization: '' }, false)).toBe(true);
    expect(authorizationRefuses({ authorization: 'x' }, true)).toBe(false);
    expect(authorizationRefuses({}, false)).toBe(false);
  });

  it('is the same rule when storing and when reusing', () => {
    const req = { authorization: 'Bearer x' };
    for (const cc of ['max-age=60', 'public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate']) {
      const verdict = storable(response({ 'cache-control': cc }), { headers: req, replacing: false }, ROUTE, SETTINGS);
      const reused = evaluate(stored({ 'cache-control': cc }), request(req), T0).kind !== 'MISS';
      expect(verdict.ok, cc).toBe(reused);
    }
  });
});

describe('storable', () => {
  const store = (headers: HeaderMap, opts: { status?: number; req?: RequestInfo['headers']; replacing?: boolean; route?: RouteRules } = {}) =>
    storable(response(headers, opts.status), { headers: opts.req ?? {}, replacing: opts.replacing ?? false }, opts.route ?? ROUTE, SETTINGS);

  it('stores a fresh response with its times', () => {
    const v = store({ 'cache-control': 'max-age=60' });
    expect(v).toMatchObject({ ok: true, times: { lifetime: 60 * S, freshUntil: T0 + 60 * S, lifetimeSource: 'max-age' } });
  });

  it('applies the RFC 9111 §3 rules', () => {
    expect(store({ 'cache-control': 'private, max-age=60' })).toEqual({ ok: false, reason: 'private' });
    expect(store({ 'cache-control': 'max-age=60' }, { req: { 'cache-control': 'no-store' } })).toEqual({ ok: false, reason: 'request-no-store' });
    expect(store({ 'cache-control': 'max-age=60' }, { status: 206 })).toEqual({ ok: false, reason: 'partial' });
  });

  it('never replaces a stored response with a server error', () => {
    const h = { 'cache-control': 'max-age=60' };
    expect(store(h, { status: 503, replacing: true })).toEqual({ ok: false, reason: 'origin-error' });
    expect(store(h, { status: 503 }).ok).toBe(true);
    expect(store(h, { status: 404, replacing: true }).ok).toBe(true);
  });

  it('does not keep an error status that is stale on arrival for a route stale window', () => {
    const route = { ...ROUTE, staleIfError: 600 * S };
    expect(store({ 'cache-control': 'max-age=0', etag: '"a"' }, { status: 404, route })).toEqual({ ok: false, reason: 'no-freshness' });
    expect(store({ 'cache-control': 'max-age=0', etag: '"a"' }, { status: 200, route }).ok).toBe(true);
  });

  it('stores a response stale on arrival only with a stale window or a validator', () => {
    expect(store({ 'cache-control': 'max-age=0' })).toEqual({ ok: false, reason: 'no-freshness' });
    expect(store({ 'cache-control': 'max-age=0, stale-while-revalidate=30' }).ok).toBe(true);
    expect(store({ 'cache-control': 'max-age=0', etag: '"a"' }).ok).toBe(true);
    // RFC 9111 §3.1: a validator named in Connection is not stored, so it does not count.
    expect(store({ 'cache-control': 'max-age=0', etag: '"a"', connection: 'etag' })).toEqual({ ok: false, reason: 'no-freshness' });
  });

  it("applies a route's ttl only to a request without Cookie or Authorization", () => {
    const route = { ...ROUTE, ttl: 60 * S };
    expect(store({}, { route })).toMatchObject({ ok: true, times: { lifetime: 60 * S, lifetimeSource: 'route' } });
    expect(store({}, { route, req: { cookie: 'a=1' } })).toEqual({ ok: false, reason: 'cookie' });
    expect(routeTtl(route, { authorization: 'x' })).toBeUndefined();
    expect(routeTtl(route, {})).toBe(60 * S);
    // Keyed on Cookie (Vary, or a route's cookies list): the cookie no longer limits it.
    expect(routeTtl(route, { cookie: 'a=1' }, 200, ['cookie'])).toBe(60 * S);
  });

  it("applies a route's ttl to the statuses a default may apply to, and ttlByStatus to the errors it names", () => {
    const route = { ...ROUTE, ttl: 60 * S, ttlByStatus: new Map([[404, 30 * S]]) };
    expect(routeTtl(route, {}, 301)).toBe(60 * S);
    expect(routeTtl(route, {}, 404)).toBe(30 * S);
    expect(routeTtl(route, {}, 410)).toBeUndefined();
    expect(routeTtl(route, {}, 500)).toBeUndefined();
  });
});

describe('storableAfter304', () => {
  const after = (updated: HeaderMap, notModified: HeaderMap, before: HeaderMap, req: RequestInfo['headers'] = {}) =>
    storableAfter304(response(updated), notModified, before, req, ROUTE, SETTINGS);

  it('keeps the freshened response with new times', () => {
    expect(after({ 'cache-control': 'max-age=120', etag: '"a"' }, { 'cache-control': 'max-age=120' }, { 'cache-control': 'max-age=60', etag: '"a"' })).toMatchObject({
      ok: true,
      times: { lifetime: 120 * S },
    });
  });

  it('refuses a 304 that narrows sharing or changes the Vary fields', () => {
    expect(after({ 'cache-control': 'private' }, { 'cache-control': 'private' }, { 'cache-control': 'max-age=60' })).toEqual({ ok: false, reason: 'private' });
    expect(after({ 'cache-control': 'max-age=60', vary: 'origin' }, { vary: 'origin' }, { 'cache-control': 'max-age=60' })).toEqual({ ok: false, reason: 'vary-changed' });
    expect(after({ 'cache-control': 'max-age=60', vary: 'origin' }, {}, { 'cache-control': 'max-age=60', vary: 'origin' }).ok).toBe(true);
  });

  it('does not apply the limits meant for new responses (a stored error freshened by a 304 stays)', () => {
    const updated = response({ 'cache-control': 'max-age=0', etag: '"a"' }, 404);
    expect(storableAfter304(updated, { 'cache-control': 'max-age=0' }, { etag: '"a"' }, {}, ROUTE, SETTINGS).ok).toBe(true);
    expect(storable(updated, { headers: {}, replacing: true }, ROUTE, SETTINGS)).toEqual({ ok: false, reason: 'no-freshness' });
  });
});

describe('entryTimes and usableUntil', () => {
  it('computes the stale windows from the response, else the route', () => {
    const t = entryTimes(response({ 'cache-control': 'max-age=10, stale-while-revalidate=20' }), {}, { ...ROUTE, staleIfError: 300 * S }, SETTINGS);
    expect(t.freshUntil).toBe(T0 + 10 * S);
    expect(t.staleWhileRevalidateUntil).toBe(T0 + 30 * S);
    expect(t.staleIfErrorUntil).toBe(T0 + 310 * S);
    expect(usableUntil(t)).toBe(T0 + 310 * S);
  });

  it('closes both windows under must-revalidate, proxy-revalidate and s-maxage (RFC 9111 §5.2.2)', () => {
    for (const cc of ['max-age=10, must-revalidate', 'max-age=10, proxy-revalidate', 's-maxage=10']) {
      const t = entryTimes(response({ 'cache-control': `${cc}, stale-while-revalidate=20, stale-if-error=20` }), {}, ROUTE, SETTINGS);
      expect(t.mustRevalidate, cc).toBe(true);
      expect(usableUntil(t), cc).toBe(T0 + 10 * S);
    }
  });

  it('subtracts the initial age (RFC 9111 §4.2.3)', () => {
    const t = entryTimes(response({ 'cache-control': 'max-age=60', age: '20' }), {}, ROUTE, SETTINGS);
    expect(t.initialAge).toBe(20 * S);
    expect(t.freshUntil).toBe(T0 + 40 * S);
  });
});
