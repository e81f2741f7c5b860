import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';

let origin: Origin;
let proxy: Running;

afterEach(async () => {
  await proxy?.close();
  await origin?.close();
});

describe('storability for a shared cache', () => {
  it('does not store no-store', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'no-store, max-age=60');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/ns');
    const b = await get(proxy.url, '/ns');
    expect(b.body).toBe('n2');
    expect(b.h('cache-status')).toContain('detail=no-store');
    expect(origin.count()).toBe(2);
  });

  it('does not store a response that sets a cookie, so no client gets another one\'s cookie', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('set-cookie', `session=user${n}`);
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    const a = await get(proxy.url, '/sc');
    const b = await get(proxy.url, '/sc');
    expect(a.h('set-cookie')).toBe('session=user1');
    expect(b.h('set-cookie')).toBe('session=user2');
    expect(b.h('x-cache')).toBe('MISS');
    expect(b.h('cache-status')).toContain('detail=set-cookie');
    expect(origin.count()).toBe(2);
  });

  it('stores and replays Set-Cookie only on a route that opts in', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('set-cookie', `ab=${n}`);
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'ab', match: '/ab', unsafeShareSetCookie: true }] });
    await get(proxy.url, '/ab');
    const b = await get(proxy.url, '/ab');
    expect(b.h('x-cache')).toBe('HIT');
    expect(b.h('set-cookie')).toBe('ab=1');
  });

  it('does not share a response to an Authorization request unless the response allows it', async () => {
    origin = await startOrigin((req, res, n) => {
      res.setHeader('cache-control', req.url === '/public' ? 'public, max-age=60' : 'max-age=60');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/private-by-auth', { authorization: 'Bearer alice' });
    const anon = await get(proxy.url, '/private-by-auth');
    expect(anon.body).toBe('n2');
    expect(origin.count('/private-by-auth')).toBe(2);

    await get(proxy.url, '/public', { authorization: 'Bearer alice' });
    const shared = await get(proxy.url, '/public');
    expect(shared.h('x-cache')).toBe('HIT');
    expect(origin.count('/public')).toBe(1);
  });

  it('does not answer an Authorization request from an entry that did not allow it', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/x');
    const withAuth = await get(proxy.url, '/x', { authorization: 'Bearer bob' });
    expect(withAuth.body).toBe('n2');
    expect(origin.count()).toBe(2);
  });

  it('never stores private', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'private, max-age=60');
      res.end(`user${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/me');
    const b = await get(proxy.url, '/me');
    expect(b.body).toBe('user2');
    expect(b.h('cache-status')).toContain('detail=private');
  });
});

describe('Vary', () => {
  it('keeps one variant per Accept-Language and never mixes them', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'Accept-Language');
      res.end(`lang=${req.headers['accept-language'] ?? 'none'}`);
    });
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/v', { 'accept-language': 'en' })).body).toBe('lang=en');
    expect((await get(proxy.url, '/v', { 'accept-language': 'fr' })).body).toBe('lang=fr');
    const en = await get(proxy.url, '/v', { 'accept-language': 'en' });
    const fr = await get(proxy.url, '/v', { 'accept-language': 'fr' });
    const none = await get(proxy.url, '/v');
    expect([en.body, en.h('x-cache')]).toEqual(['lang=en', 'HIT']);
    expect([fr.body, fr.h('x-cache')]).toEqual(['lang=fr', 'HIT']);
    expect([none.body, none.h('x-cache')]).toEqual(['lang=none', 'MISS']);
    expect(origin.count()).toBe(3);
  });

  it('never reuses a response with Vary: *', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', '*');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/star');
    const b = await get(proxy.url, '/star');
    expect(b.body).toBe('n2');
    expect(b.h('cache-status')).toContain('detail=vary-star');
  });

  it('treats route key headers as part of the variant', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`tenant=${req.headers['x-tenant']}`);
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 't', match: '/t', key: { headers: ['x-tenant'] } }] });
    await get(proxy.url, '/t', { 'x-tenant': 'a' });
    const b = await get(proxy.url, '/t', { 'x-tenant': 'b' });
    const a = await get(proxy.url, '/t', { 'x-tenant': 'a' });
    expect(b.body).toBe('tenant=b');
    expect([a.body, a.h('x-cache')]).toEqual(['tenant=a', 'HIT']);
  });
});

describe('conditional requests from clients', () => {
  it('answers a matching If-None-Match with 304 from the cache', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('etag', '"v1"');
      res.end('body');
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/c');
    const nm = await get(proxy.url, '/c', { 'if-none-match': '"v1"' });
    expect(nm.status).toBe(304);
    expect(nm.body).toBe('');
    expect(nm.h('etag')).toBe('"v1"');
    expect(nm.h('x-cache')).toBe('HIT');
    const other = await get(proxy.url, '/c', { 'if-none-match': '"v0"' });
    expect(other.status).toBe(200);
    expect(other.body).toBe('body');
    expect(origin.count()).toBe(1);
  });

  it('answers If-Modified-Since from the cache and never forwards the condition on a fill', async () => {
    const lm = new Date(Date.now() - 3_600_000).toUTCString();
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('last-modified', lm);
      res.end('body');
    });
    proxy = await startLarder(origin.url);
    const first = await get(proxy.url, '/lm', { 'if-modified-since': lm });
    expect(first.status).toBe(304);
    expect(origin.requests[0]!.headers['if-modified-since']).toBeUndefined();
    const older = await get(proxy.url, '/lm', { 'if-modified-since': new Date(Date.now() - 7_200_000).toUTCString() });
    expect(older.status).toBe(200);
    expect(origin.count()).toBe(1);
  });
});

describe('request directives', () => {
  it('revalidates on request no-cache and max-age=0', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/r');
    const nc = await get(proxy.url, '/r', { 'cache-control': 'no-cache' });
    expect(nc.body).toBe('n2');
    expect(nc.h('cache-status')).toContain('fwd=request');
    const ma = await get(proxy.url, '/r', { 'cache-control': 'max-age=0' });
    expect(ma.body).toBe('n3');
    const hit = await get(proxy.url, '/r');
    expect(hit.body).toBe('n3');
    expect(origin.count()).toBe(3);
  });

  it('answers only-if-cached with 504 when nothing is stored, and from cache when it is', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('x');
    });
    proxy = await startLarder(origin.url);
    const miss = await get(proxy.url, '/o', { 'cache-control': 'only-if-cached' });
    expect(miss.status).toBe(504);
    expect(origin.count()).toBe(0);
    await get(proxy.url, '/o');
    const hit = await get(proxy.url, '/o', { 'cache-control': 'only-if-cached' });
    expect(hit.status).toBe(200);
    expect(origin.count()).toBe(1);
  });

  it('does not store when the request says no-store', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/rn', { 'cache-control': 'no-store' });
    const b = await get(proxy.url, '/rn');
    expect(b.body).toBe('n2');
  });
});

describe('targeted cache-control (RFC 9213)', () => {
  it('follows CDN-Cache-Control over Cache-Control and keeps it from clients', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'no-store');
      res.setHeader('cdn-cache-control', 'max-age=600');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    const a = await get(proxy.url, '/cdn');
    const b = await get(proxy.url, '/cdn');
    expect([b.body, b.h('x-cache')]).toEqual(['n1', 'HIT']);
    expect(a.h('cdn-cache-control')).toBe('');
    expect(b.h('cdn-cache-control')).toBe('');
    expect(b.h('cache-control')).toBe('no-store');
  });

  it('does not store when Larder-Cache-Control says private, whatever Cache-Control says', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'public, max-age=600');
      res.setHeader('larder-cache-control', 'private');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/lcc');
    const b = await get(proxy.url, '/lcc');
    expect([b.body, b.h('x-cache')]).toEqual(['n2', 'MISS']);
    expect(b.h('larder-cache-control')).toBe('');
  });
});

describe('ranges from a stored complete response', () => {
  it('answers a byte range with 206 from the cache, and 416 past the end', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('etag', '"r1"');
      res.setHeader('a', '1');
      res.end('01234567890');
    });
    proxy = await startLarder(origin.url);
    const first = await get(proxy.url, '/range', { range: 'bytes=0-1' });
    expect([first.status, first.body, first.h('content-range')]).toEqual([206, '01', 'bytes 0-1/11']);
    expect(origin.requests[0]!.headers['range']).toBeUndefined();
    const suffix = await get(proxy.url, '/range', { range: 'bytes=-3' });
    expect([suffix.status, suffix.body, suffix.h('content-length'), suffix.h('a'), suffix.h('x-cache')]).toEqual([206, '890', '3', '1', 'HIT']);
    const past = await get(proxy.url, '/range', { range: 'bytes=50-' });
    expect([past.status, past.h('content-range')]).toEqual([416, 'bytes */11']);
    const changed = await get(proxy.url, '/range', { range: 'bytes=0-1', 'if-range': '"other"' });
    expect([changed.status, changed.body]).toEqual([200, '01234567890']);
    expect(origin.count()).toBe(1);
  });
});
