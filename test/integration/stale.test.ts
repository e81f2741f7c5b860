import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, sleep } from '../helpers/client.js';
import { ManualClock } from '../../src/clock.js';

let origin: Origin;
let proxy: Running;

afterEach(async () => {
  await proxy?.close();
  await origin?.close();
});

/** Repeats `fn` until it returns a value, or fails after `ms`. */
async function until<T>(fn: () => Promise<T | undefined>, ms = 3_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('revalidation', () => {
  it('revalidates a stale entry with If-None-Match and applies the 304 headers, except Content-Length', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin((req, res, n) => {
      if (n === 1) {
        res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"a"', 'x-version': '1', 'content-type': 'text/plain' });
        res.end('hello');
        return;
      }
      if (req.headers['if-none-match'] === '"a"') {
        res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"a"', 'x-version': '2' });
        res.end();
        return;
      }
      res.end('unexpected unconditional request');
    }, { clock });
    proxy = await startLarder(origin.url, {}, { clock });
    await get(proxy.url, '/rv');
    clock.advance(2_000);
    const r = await get(proxy.url, '/rv');
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello');
    expect(r.h('x-cache')).toBe('REVALIDATED');
    expect(r.h('cache-status')).toMatch(/fwd=stale; fwd-status=304; stored/);
    expect(r.h('x-version')).toBe('2');
    expect(r.h('content-length')).toBe('5');
    expect(origin.requests[1]!.headers['if-none-match']).toBe('"a"');
    const hit = await get(proxy.url, '/rv');
    expect([hit.h('x-cache'), hit.h('x-version'), hit.body]).toEqual(['HIT', '2', 'hello']);
    expect(origin.count()).toBe(2);
  });

  it('revalidates with If-Modified-Since when there is only Last-Modified, and replaces on 200', async () => {
    const clock = new ManualClock(Date.now());
    const lm = new Date(Date.now() - 60_000).toUTCString();
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=1');
      res.setHeader('last-modified', lm);
      res.end(`v${n}`);
    }, { clock });
    proxy = await startLarder(origin.url, {}, { clock });
    await get(proxy.url, '/lm');
    clock.advance(2_000);
    const r = await get(proxy.url, '/lm');
    expect(origin.requests[1]!.headers['if-modified-since']).toBe(lm);
    expect([r.body, r.h('x-cache')]).toEqual(['v2', 'MISS']);
    expect(r.h('cache-status')).toContain('fwd=stale; fwd-status=200; stored');
  });
});

describe('stale-while-revalidate', () => {
  it('answers at once with the stale entry, refreshes once in the background, then serves the new body', async () => {
    const clock = new ManualClock(Date.now());
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=1, stale-while-revalidate=60');
      if (n === 1) return void res.end('v1');
      void held.then(() => res.end('v2'));
    }, { clock });
    proxy = await startLarder(origin.url, {}, { clock });
    await get(proxy.url, '/swr');
    clock.advance(2_000);
    // The origin is holding the refresh, yet both answers arrive: they do not wait for it.
    const a = await get(proxy.url, '/swr');
    const b = await get(proxy.url, '/swr');
    expect([a.body, a.h('x-cache')]).toEqual(['v1', 'STALE']);
    expect([b.body, b.h('x-cache')]).toEqual(['v1', 'STALE']);
    expect(a.h('cache-status')).toMatch(/^larder; hit; ttl=-[12]; detail=stale-while-revalidate$/);
    await until(async () => (origin.count() === 2 ? true : undefined));
    release();
    const fresh = await until(async () => {
      const r = await get(proxy.url, '/swr');
      return r.h('x-cache') === 'HIT' ? r : undefined;
    });
    expect(fresh.body).toBe('v2');
    expect(origin.count()).toBe(2);
  });

  it('stores a response that is stale on arrival but has a stale-while-revalidate window (max-age=0)', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin(
      (_req, res, n) => {
        res.setHeader('cache-control', 'max-age=0, stale-while-revalidate=600');
        res.end(`v${n}`);
      },
      { clock },
    );
    proxy = await startLarder(origin.url, {}, { clock });
    const first = await get(proxy.url, '/swr0');
    expect(first.h('cache-status')).toContain('stored');
    const second = await get(proxy.url, '/swr0');
    expect([second.body, second.h('x-cache')]).toEqual(['v1', 'STALE']);
    await until(async () => (origin.count() === 2 ? true : undefined));
  });

  it('uses the route default window when the response has none', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=1');
      res.end(`v${n}`);
    }, { clock });
    proxy = await startLarder(origin.url, { routes: [{ name: 'd', match: '/**', staleWhileRevalidate: '30s' }] }, { clock });
    await get(proxy.url, '/d');
    clock.advance(10_000);
    const r = await get(proxy.url, '/d');
    expect([r.body, r.h('x-cache')]).toEqual(['v1', 'STALE']);
    await until(async () => (origin.count() === 2 ? true : undefined));
    await sleep(100);
    clock.advance(60_000);
    const late = await get(proxy.url, '/d');
    // Past the window even the refreshed entry may not be served stale: a plain fetch.
    expect([late.body, late.h('x-cache')]).toEqual(['v3', 'MISS']);
  });

  it('does not serve stale when the response says must-revalidate', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=1, stale-while-revalidate=60, must-revalidate');
      res.end(`v${n}`);
    }, { clock });
    proxy = await startLarder(origin.url, {}, { clock });
    await get(proxy.url, '/mr');
    clock.advance(2_000);
    const r = await get(proxy.url, '/mr');
    expect([r.body, r.h('x-cache')]).toEqual(['v2', 'MISS']);
  });
});

describe('stale-if-error', () => {
  it('serves the stale entry while the origin is down, within the window only', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=1, stale-if-error=60');
      res.end('good');
    }, { clock });
    proxy = await startLarder(origin.url, {}, { clock });
    await get(proxy.url, '/sie');
    await origin.close();
    clock.advance(5_000);
    const r = await get(proxy.url, '/sie');
    expect([r.status, r.body, r.h('x-cache')]).toEqual([200, 'good', 'STALE']);
    expect(r.h('cache-status')).toContain('detail=stale-if-error');
    clock.advance(60_000);
    const late = await get(proxy.url, '/sie');
    expect(late.status).toBe(502);
    expect(late.body).toContain('LARDER_ORIGIN_UNREACHABLE');
  });

  it('serves stale for a 5xx answer and keeps the good entry', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin((_req, res, n) => {
      if (n === 1) {
        res.setHeader('cache-control', 'max-age=1');
        return void res.end('good');
      }
      res.statusCode = 503;
      res.end('down');
    }, { clock });
    proxy = await startLarder(origin.url, { routes: [{ name: 'all', match: '/**', staleIfError: '10m' }] }, { clock });
    await get(proxy.url, '/5');
    clock.advance(5_000);
    const a = await get(proxy.url, '/5');
    const b = await get(proxy.url, '/5');
    expect([a.status, a.body, a.h('x-cache')]).toEqual([200, 'good', 'STALE']);
    expect([b.status, b.body]).toEqual([200, 'good']);
    expect(a.h('cache-status')).toContain('fwd-status=503');
  });
});
