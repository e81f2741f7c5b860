/**
 * Route policies for origins not written for caches (issue: policies for real APIs):
 * forceTtl, ttlByStatus, clientDirectives and cookies, and the safety rails each keeps.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { SkippingClock } from '../helpers/clock.js';
import { startRedis, waitFor, type RedisServer } from '../helpers/redis.js';

let origin: Origin;
let proxy: Running;

afterEach(async () => {
  await proxy?.close();
  await origin?.close();
});

/** What Spring Security sends on every response by default. */
const SPRING = {
  'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
  pragma: 'no-cache',
  expires: '0',
};

function spring(extra: Record<string, string | string[]> = {}, status = 200) {
  return (_req: unknown, res: import('node:http').ServerResponse, n: number) => {
    res.writeHead(status, { ...SPRING, 'content-type': 'application/json', ...extra });
    res.end(JSON.stringify({ n }));
  };
}

const route = (rules: Record<string, unknown>) => ({ routes: [{ name: 'api', match: '/api/**', ...rules }] });

describe('forceTtl', () => {
  it('caches a Spring-style response for the forced lifetime and serves it as a HIT', async () => {
    const clock = new SkippingClock();
    origin = await startOrigin(spring(), { clock });
    proxy = await startLarder(origin.url, route({ forceTtl: '10m' }), { clock });

    const first = await get(proxy.url, '/api/items');
    expect(first.h('x-cache')).toBe('MISS');
    const second = await get(proxy.url, '/api/items');
    expect(second.h('x-cache')).toBe('HIT');
    expect(second.body).toBe(first.body);
    expect(origin.count('/api/items')).toBe(1);

    clock.advance(9 * 60_000);
    expect((await get(proxy.url, '/api/items')).h('x-cache')).toBe('HIT');
    clock.advance(2 * 60_000);
    expect((await get(proxy.url, '/api/items')).h('x-cache')).toBe('MISS');
    expect(origin.count('/api/items')).toBe(2);
  });

  it('keeps the route stale windows on top of the forced lifetime', async () => {
    const clock = new SkippingClock();
    origin = await startOrigin(spring(), { clock });
    proxy = await startLarder(origin.url, route({ forceTtl: '1m', staleIfError: '10m' }), { clock });
    await get(proxy.url, '/api/x');
    origin.handle((_req, res) => {
      res.writeHead(503);
      res.end('down');
    });
    clock.advance(5 * 60_000);
    const stale = await get(proxy.url, '/api/x');
    expect(stale.status).toBe(200);
    expect(stale.h('x-cache')).toBe('STALE');
    expect(stale.body).toBe('{"n":1}');
  });

  it.each([
    ['private', { 'cache-control': 'private, max-age=600' }],
    ['Set-Cookie', { 'set-cookie': 'session=abc' }],
    ['Vary: *', { vary: '*' }],
  ])('never overrides %s', async (_name, extra) => {
    origin = await startOrigin(spring(extra));
    proxy = await startLarder(origin.url, route({ forceTtl: '10m' }));
    const a = await get(proxy.url, '/api/me');
    const b = await get(proxy.url, '/api/me');
    expect(a.h('x-cache')).toBe('MISS');
    expect(b.h('x-cache')).toBe('MISS');
    expect(b.body).toBe('{"n":2}');
    expect(origin.count('/api/me')).toBe(2);
  });

  it('never stores for, nor answers, a request with Authorization', async () => {
    origin = await startOrigin(spring());
    proxy = await startLarder(origin.url, route({ forceTtl: '10m' }));
    // An authenticated request's answer is not stored...
    expect((await get(proxy.url, '/api/a', { authorization: 'Bearer alice' })).body).toBe('{"n":1}');
    expect((await get(proxy.url, '/api/a')).h('x-cache')).toBe('MISS');
    expect(origin.count('/api/a')).toBe(2);
    // ...and an anonymous request's forced entry does not answer one.
    expect((await get(proxy.url, '/api/a')).h('x-cache')).toBe('HIT');
    const bob = await get(proxy.url, '/api/a', { authorization: 'Bearer bob' });
    expect(bob.h('x-cache')).toBe('MISS');
    expect(bob.body).toBe('{"n":3}');
    expect(origin.count('/api/a')).toBe(3);
  });
});

describe('cookies', () => {
  it('keep: a request carrying Cookie is not answered from a forced entry, nor stored without declared freshness', async () => {
    origin = await startOrigin(spring());
    proxy = await startLarder(origin.url, route({ forceTtl: '10m' }));
    await get(proxy.url, '/api/c');
    expect((await get(proxy.url, '/api/c')).h('x-cache')).toBe('HIT');
    const withCookie = await get(proxy.url, '/api/c', { cookie: 'session=alice' });
    expect(withCookie.h('x-cache')).toBe('MISS');
    expect(withCookie.h('cache-status')).toContain('detail=cookie');
    expect(withCookie.body).toBe('{"n":2}');
    expect(origin.requests[1]!.headers.cookie).toBe('session=alice');
    // The anonymous entry is untouched by it.
    const after = await get(proxy.url, '/api/c');
    expect(after.h('x-cache')).toBe('HIT');
    expect(after.body).toBe('{"n":1}');
    expect(origin.count('/api/c')).toBe(2);
  });

  it('keep: origin-declared freshness still answers a request carrying Cookie', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'public, max-age=60');
      res.end(`v${n}`);
    });
    proxy = await startLarder(origin.url, route({ ttl: '10m' }));
    await get(proxy.url, '/api/p', { cookie: 'a=1' });
    const hit = await get(proxy.url, '/api/p', { cookie: 'a=2' });
    expect(hit.h('x-cache')).toBe('HIT');
    expect(origin.count('/api/p')).toBe(1);
  });

  it('keep: a heuristic or route ttl entry does not answer a request carrying Cookie', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('last-modified', new Date(Date.now() - 86_400_000).toUTCString());
      res.end(`v${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/h');
    expect((await get(proxy.url, '/h')).h('x-cache')).toBe('HIT');
    expect((await get(proxy.url, '/h', { cookie: 'a=1' })).h('x-cache')).toBe('MISS');
    expect(origin.count('/h')).toBe(2);
  });

  it('strip: Cookie never reaches the origin, Set-Cookie never reaches a client, and one entry serves all', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('set-cookie', 'tracker=xyz');
      res.end(`asset${n}`);
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'static', match: '/static/**', cookies: 'strip' }] });
    const a = await get(proxy.url, '/static/app.js', { cookie: 'session=alice' });
    const b = await get(proxy.url, '/static/app.js', { cookie: 'session=bob' });
    expect(a.h('set-cookie')).toBe('');
    expect(b.h('set-cookie')).toBe('');
    expect(b.h('x-cache')).toBe('HIT');
    expect(b.body).toBe('asset1');
    expect(origin.count('/static/app.js')).toBe(1);
    expect(origin.requests[0]!.headers.cookie).toBeUndefined();
  });

  it('a list: only the named cookies are forwarded, and their values are part of the key', async () => {
    origin = await startOrigin((req, res) => {
      res.end(`cookie=${req.headers.cookie ?? ''}`);
    });
    proxy = await startLarder(origin.url, route({ cookies: ['lang', 'currency'], ttl: '1m' }));
    const eur = await get(proxy.url, '/api/prices', { cookie: 'session=alice; lang=fr; currency=EUR' });
    expect(eur.body).toBe('cookie=currency=EUR; lang=fr');
    // The same named cookies in another order, with another session: the same entry.
    const again = await get(proxy.url, '/api/prices', { cookie: 'currency=EUR; session=bob; lang=fr' });
    expect(again.h('x-cache')).toBe('HIT');
    expect(again.body).toBe('cookie=currency=EUR; lang=fr');
    // Another value: another entry.
    const usd = await get(proxy.url, '/api/prices', { cookie: 'lang=fr; currency=USD' });
    expect(usd.h('x-cache')).toBe('MISS');
    expect(usd.body).toBe('cookie=currency=USD; lang=fr');
    // No named cookie at all: forwarded without Cookie, its own entry.
    const none = await get(proxy.url, '/api/prices', { cookie: 'session=carol' });
    expect(none.body).toBe('cookie=');
    expect(origin.count('/api/prices')).toBe(3);
    expect(origin.requests.map((r) => r.headers.cookie)).toEqual(['currency=EUR; lang=fr', 'currency=USD; lang=fr', undefined]);
  });
});

describe('ttlByStatus', () => {
  it('caches a 404 for its lifetime', async () => {
    const clock = new SkippingClock();
    origin = await startOrigin((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such item');
    }, { clock });
    proxy = await startLarder(origin.url, route({ ttlByStatus: { 404: '30s', 410: '10m' } }), { clock });
    expect((await get(proxy.url, '/api/items/999')).status).toBe(404);
    const again = await get(proxy.url, '/api/items/999');
    expect(again.status).toBe(404);
    expect(again.h('x-cache')).toBe('HIT');
    expect(again.body).toBe('no such item');
    expect(origin.count('/api/items/999')).toBe(1);
    clock.advance(31_000);
    expect((await get(proxy.url, '/api/items/999')).h('x-cache')).toBe('MISS');
    expect(origin.count('/api/items/999')).toBe(2);
  });

  it('without it, an error without freshness is not cached (the default)', async () => {
    origin = await startOrigin((_req, res) => {
      res.writeHead(404);
      res.end('missing');
    });
    proxy = await startLarder(origin.url, route({ ttl: '1m' }));
    await get(proxy.url, '/api/missing');
    expect((await get(proxy.url, '/api/missing')).h('x-cache')).toBe('MISS');
    expect(origin.count('/api/missing')).toBe(2);
  });

  it('with forceTtl, replaces whatever the origin sent for the statuses it names', async () => {
    const clock = new SkippingClock();
    origin = await startOrigin(spring({}, 410), { clock });
    proxy = await startLarder(origin.url, route({ forceTtl: '1m', ttlByStatus: { 410: '10m' } }), { clock });
    await get(proxy.url, '/api/gone');
    clock.advance(5 * 60_000);
    const hit = await get(proxy.url, '/api/gone');
    expect(hit.status).toBe(410);
    expect(hit.h('x-cache')).toBe('HIT');
    expect(origin.count('/api/gone')).toBe(1);
  });

  it('a 404 never replaces a stored 200', async () => {
    const clock = new SkippingClock();
    origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=10', etag: '"v1"' });
      res.end('good');
    }, { clock });
    proxy = await startLarder(origin.url, route({ ttlByStatus: { 404: '30s' } }), { clock });
    await get(proxy.url, '/api/thing');
    origin.handle((_req, res) => {
      res.writeHead(404);
      res.end('gone for now');
    });
    clock.advance(20_000);
    const miss = await get(proxy.url, '/api/thing');
    expect(miss.status).toBe(404);
    // The 404 was relayed but not stored: the stale 200 is still there for a client that accepts it.
    const stale = await get(proxy.url, '/api/thing', { 'cache-control': 'max-stale=3600' });
    expect(stale.status).toBe(200);
    expect(stale.body).toBe('good');
    expect(stale.h('x-cache')).toBe('STALE');
  });
});

describe('clientDirectives', () => {
  const burst = async (rules: Record<string, unknown>, headers: Record<string, string>) => {
    origin = await startOrigin((req, res, n) => {
      setTimeout(() => {
        if (req.headers['if-none-match'] === '"e"') {
          res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"e"' });
          res.end();
          return;
        }
        res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"e"' });
        res.end(`v${n}`);
      }, 50);
    });
    proxy = await startLarder(origin.url, route(rules));
    await get(proxy.url, '/api/hot');
    const before = origin.count();
    const replies = await Promise.all(Array.from({ length: 1000 }, () => get(proxy.url, '/api/hot', headers)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    return { replies, sent: origin.count() - before };
  };

  it('honor: 1,000 concurrent no-cache requests share a few revalidations', async () => {
    const { replies, sent } = await burst({}, { 'cache-control': 'no-cache' });
    // Each revalidation is shared by every request that arrived before it was sent.
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThan(50);
    expect(replies.every((r) => r.h('x-cache') === 'REVALIDATED' && r.body === 'v1')).toBe(true);
    expect(replies.some((r) => r.h('cache-status').includes('collapsed'))).toBe(true);
  });

  it('honor: Pragma: no-cache and max-age=0 revalidate too, shared the same way', async () => {
    const { sent } = await burst({}, { pragma: 'no-cache' });
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThan(50);
    const one = await get(proxy.url, '/api/hot', { 'cache-control': 'max-age=0' });
    expect(one.h('x-cache')).toBe('REVALIDATED');
  });

  it('honor: a no-cache request never shares a revalidation sent before it arrived', async () => {
    let release: () => void = () => undefined;
    origin = await startOrigin((_req, res, n) => {
      const answer = () => {
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        res.end(`v${n}`);
      };
      if (n === 2) release = answer;
      else answer();
    });
    proxy = await startLarder(origin.url, route({}));
    await get(proxy.url, '/api/seq');
    const early = get(proxy.url, '/api/seq', { 'cache-control': 'no-cache' });
    while (origin.count() < 2) await new Promise((r) => setTimeout(r, 5));
    // The first revalidation is at the origin; this one arrived after it was sent.
    const late = get(proxy.url, '/api/seq', { 'cache-control': 'no-cache' });
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect((await early).body).toBe('v2');
    expect((await late).body).toBe('v3');
    expect(origin.count()).toBe(3);
  });

  it('ignore: request Cache-Control and Pragma take no part, and are still forwarded', async () => {
    const { replies, sent } = await burst({ clientDirectives: 'ignore' }, { 'cache-control': 'no-cache' });
    expect(sent).toBe(0);
    expect(replies.every((r) => r.h('x-cache') === 'HIT')).toBe(true);
    expect((await get(proxy.url, '/api/hot', { pragma: 'no-cache' })).h('x-cache')).toBe('HIT');
    // no-store in the request does not prevent storing either; the origin still sees it.
    await get(proxy.url, '/api/cold', { 'cache-control': 'no-store' });
    expect(origin.requests.at(-1)!.headers['cache-control']).toBe('no-store');
    expect((await get(proxy.url, '/api/cold')).h('x-cache')).toBe('HIT');
  });
});

describe('policies across instances on one Redis', () => {
  let redis: RedisServer;
  const more: Running[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const p of more.splice(0)) await p.close();
    await redis.cli('FLUSHALL');
  });
  const HOST = { host: 'shop.test' };
  const pair = async (rules: Record<string, unknown>): Promise<[Running, Running]> => {
    const shared = { cache: { redis: { url: redis.url, commandTimeout: '200ms' } }, ...rules };
    const a = await startLarder(origin.url, shared);
    const b = await startLarder(origin.url, shared);
    more.push(a, b);
    return [a, b];
  };
  const written = () => waitFor(async () => Number(await redis.cli('DBSIZE')) > 0, 2000, 'the L2 write');

  it('a forced entry read from Redis by another instance is a HIT there, and still refuses a request with Cookie', async () => {
    origin = await startOrigin(spring());
    const [a, b] = await pair(route({ forceTtl: '10m' }));
    await get(a.url, '/api/r', HOST);
    await written();
    const fromRedis = await get(b.url, '/api/r', HOST);
    expect([fromRedis.body, fromRedis.h('x-cache')]).toEqual(['{"n":1}', 'HIT']);
    expect(b.outcomes.at(-1)?.tier).toBe('redis');
    const withCookie = await get(b.url, '/api/r', { ...HOST, cookie: 'session=bob' });
    expect(withCookie.h('x-cache')).toBe('MISS');
    expect(withCookie.body).toBe('{"n":2}');
    expect(origin.count('/api/r')).toBe(2);
  });

  it('a 404 under ttlByStatus and a named-cookie variant are shared through Redis', async () => {
    origin = await startOrigin((req, res) => {
      if (req.url === '/api/gone') {
        res.writeHead(404);
        res.end('missing');
        return;
      }
      res.end(`cookie=${req.headers.cookie ?? ''}`);
    });
    const [a, b] = await pair(route({ ttl: '1m', ttlByStatus: { 404: '30s' }, cookies: ['lang'] }));
    await get(a.url, '/api/gone', HOST);
    await get(a.url, '/api/page', { ...HOST, cookie: 'lang=fr; sid=1' });
    await written();
    await waitFor(async () => Number(await redis.cli('DBSIZE')) >= 2, 2000, 'both L2 writes');
    const gone = await get(b.url, '/api/gone', HOST);
    expect([gone.status, gone.h('x-cache')]).toEqual([404, 'HIT']);
    const fr = await get(b.url, '/api/page', { ...HOST, cookie: 'sid=2; lang=fr' });
    expect([fr.body, fr.h('x-cache')]).toEqual(['cookie=lang=fr', 'HIT']);
    const en = await get(b.url, '/api/page', { ...HOST, cookie: 'lang=en' });
    expect([en.body, en.h('x-cache')]).toEqual(['cookie=lang=en', 'MISS']);
    expect(origin.count()).toBe(3);
  });
});
