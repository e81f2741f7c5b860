import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, raw, type Reply } from '../helpers/client.js';
import { startRedis, sleep, type RedisServer } from '../helpers/redis.js';
import { buildConfig } from '../../src/config/load.js';

let origin: Origin;
let redis: RedisServer;
const running: Running[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const r of running.splice(0)) await r.close();
  await origin?.close();
  await redis.cli('FLUSHALL');
});

async function proxy(rules: Record<string, unknown> = {}): Promise<Running> {
  const r = await startLarder(origin.url, rules);
  running.push(r);
  return r;
}

const CACHE_FIELDS = {
  'surrogate-key': 'tag-a tag-b',
  'cache-tag': 'tag-c',
  'surrogate-control': 'max-age=600',
  'x-accel-expires': '30',
  'x-accel-buffering': 'no',
};

/** What each path answers with: its Cache-Control, body and status; every response carries the cache-only fields. */
function scriptedOrigin(): Promise<Origin> {
  return startOrigin((req, res, n) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const common = { ...CACHE_FIELDS, 'x-app': 'kept', etag: '"e1"', expires: new Date(Date.now() + 60_000).toUTCString() };
    if (req.method === 'POST') {
      req.resume();
      res.writeHead(201, { ...common, 'content-type': 'text/plain' });
      return void res.end('posted');
    }
    const cc: Record<string, string> = {
      '/stored': 'max-age=60',
      '/nostore': 'no-store',
      '/large': 'max-age=60',
      '/stale': 'max-age=0, stale-while-revalidate=60',
      '/revalidate': 'no-cache',
    };
    if (path === '/revalidate' && req.headers['if-none-match'] === '"e1"') {
      res.writeHead(304, { ...common, 'cache-control': 'no-cache' });
      return void res.end();
    }
    res.writeHead(200, { ...common, 'cache-control': cc[path] ?? 'max-age=60', 'content-type': 'text/plain' });
    res.end(path === '/large' ? 'x'.repeat(5000) : `${path} v${n}`);
  });
}

function expectStripped(r: Reply, what: string): void {
  for (const name of Object.keys(CACHE_FIELDS)) expect(r.headers[name], `${what}: ${name}`).toBeUndefined();
  expect(Object.keys(r.headers).filter((n) => n.startsWith('x-accel-')), what).toEqual([]);
}

describe('response fields meant for caches', () => {
  it('are removed on every path that answers a client', async () => {
    origin = await scriptedOrigin();
    const p = await proxy({
      cache: { memory: { maxEntrySize: '1kb' } },
      routes: [{ name: 'off', match: '/off/**', cache: false }],
    });
    const seen: Array<[string, Reply]> = [];
    const check = async (what: string, path: string, xCache: string, status: number, headers: Record<string, string> = {}, method = 'GET') => {
      const r = await get(p.url, path, headers, method);
      expect(r.status, what).toBe(status);
      expect(r.h('x-cache'), what).toBe(xCache);
      seen.push([what, r]);
      return r;
    };
    await check('MISS stored', '/stored', 'MISS', 200);
    const hit = await check('HIT', '/stored', 'HIT', 200);
    expect(hit.body).toBe('/stored v1');
    await check('304 to a conditional client', '/stored', 'HIT', 304, { 'if-none-match': '"e1"' });
    const range = await check('Range 206', '/stored', 'HIT', 206, { range: 'bytes=0-3' });
    expect(range.body).toBe('/sto');
    await check('MISS not stored', '/nostore', 'MISS', 200);
    const large = await check('streamed MISS too large for memory', '/large', 'MISS', 200);
    expect(large.body).toHaveLength(5000);
    await check('MISS (stale entry stored)', '/stale', 'MISS', 200);
    await check('STALE', '/stale', 'STALE', 200);
    await check('MISS (no-cache entry stored)', '/revalidate', 'MISS', 200);
    await check('REVALIDATED', '/revalidate', 'REVALIDATED', 200);
    const passGet = await check('pass-through GET', '/off/a', 'BYPASS', 200);
    expect(passGet.body).toBe('/off/a v' + String(origin.count()));
    const post = await check('pass-through POST', '/off/a', 'BYPASS', 201, { 'content-type': 'text/plain' }, 'POST');
    expect(post.body).toBe('posted');
    await check('POST on a caching route', '/stored', 'BYPASS', 201, {}, 'POST');
    for (const [what, r] of seen) {
      expectStripped(r, what);
      if (r.status !== 304) expect(r.h('x-app'), what).toBe('kept');
    }
    expect(seen.length).toBe(13);
  });

  it('still tag the entry: a purge by tag after they were stripped removes it', async () => {
    origin = await scriptedOrigin();
    const TOKEN = 'purge-token-1234';
    const p = await proxy({ admin: { listen: '127.0.0.1:0', token: TOKEN } });
    const addr = await p.larder.listenAdmin(0, '127.0.0.1');
    const purge = async (tags: string[]) => {
      const res = await fetch(`http://127.0.0.1:${addr!.port}/purge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tags }),
      });
      expect(res.status).toBe(200);
    };
    for (const tag of ['tag-b', 'tag-c']) {
      const first = await get(p.url, '/stored');
      expectStripped(first, 'MISS');
      expect((await get(p.url, '/stored')).h('x-cache')).toBe('HIT');
      await purge([tag]);
      const after = await get(p.url, '/stored');
      expect(after.h('x-cache'), `after a purge of ${tag}`).toBe('MISS');
      expectStripped(after, 'after purge');
      await purge(['tag-a']);
    }
    expect(origin.count('/stored')).toBe(4);
  });

  it('keep takes names off the built-in list and strip adds names and prefixes, on hits, misses and pass-through', async () => {
    origin = await scriptedOrigin();
    const p = await proxy({
      routes: [
        { name: 'custom', match: '/c/**', responseHeaders: { keep: ['surrogate-key', 'x-accel-*'], strip: ['X-App', 'expires', 'etag'] } },
        { name: 'custom-off', match: '/off/**', cache: false, responseHeaders: { keep: ['cache-tag'], strip: ['x-a*'] } },
      ],
    });
    const miss = await get(p.url, '/c/stored');
    const hit = await get(p.url, '/c/stored');
    const cond = await get(p.url, '/c/stored', { 'if-none-match': '"e1"' });
    expect([miss.h('x-cache'), hit.h('x-cache'), cond.status]).toEqual(['MISS', 'HIT', 304]);
    for (const r of [miss, hit]) {
      expect(r.h('surrogate-key')).toBe('tag-a tag-b');
      expect(r.h('x-accel-expires')).toBe('30');
      expect(r.h('x-accel-buffering')).toBe('no');
      expect(r.headers['cache-tag']).toBeUndefined();
      expect(r.headers['surrogate-control']).toBeUndefined();
      expect(r.headers['x-app']).toBeUndefined();
      expect(r.headers['expires']).toBeUndefined();
      expect(r.headers['etag']).toBeUndefined();
    }
    // The stored entry keeps its validator: the client's condition is still answered, without the field.
    expect(cond.headers['etag']).toBeUndefined();
    expect(cond.headers['expires']).toBeUndefined();
    expect(cond.h('cache-control')).toBe('max-age=60');
    for (const method of ['GET', 'POST']) {
      const r = await get(p.url, '/off/x', {}, method);
      expect(r.h('x-cache'), method).toBe('BYPASS');
      expect(r.h('cache-tag'), method).toBe('tag-c');
      expect(r.headers['x-app'], method).toBeUndefined();
      expect(Object.keys(r.headers).filter((n) => n.startsWith('x-a')), method).toEqual([]);
      expect(r.headers['surrogate-key'], method).toBeUndefined();
    }
  });

  it('is removed in every spelling and repetition the origin sends', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('Surrogate-Key', ['a', 'b']);
      res.setHeader('X-ACCEL-Redirect', '/internal');
      res.end('x');
    });
    const p = await proxy();
    for (const r of [await get(p.url, '/s'), await get(p.url, '/s')]) {
      expect(r.headers['surrogate-key']).toBeUndefined();
      expect(r.headers['x-accel-redirect']).toBeUndefined();
    }
  });

  it('follows the route config after a reload, for entries already in memory', async () => {
    origin = await scriptedOrigin();
    const rules = (responseHeaders: object) => ({ routes: [{ name: 'r', match: '/**', responseHeaders }] });
    const p = await proxy(rules({}));
    expectStripped(await get(p.url, '/stored'), 'MISS');
    expectStripped(await get(p.url, '/stored'), 'HIT');
    p.larder.reload(buildConfig({ listen: '127.0.0.1:0', origin: origin.url, ...rules({ keep: ['surrogate-key'], strip: ['x-app'] }) }, {}));
    const after = await get(p.url, '/stored');
    expect(after.h('x-cache')).toBe('HIT');
    expect(after.h('surrogate-key')).toBe('tag-a tag-b');
    expect(after.headers['x-app']).toBeUndefined();
    expect(after.headers['cache-tag']).toBeUndefined();
    expect(origin.count('/stored')).toBe(1);
  });

  it('follows the reading instance\'s config for entries read from Redis', async () => {
    origin = await scriptedOrigin();
    const shared = { redis: { url: redis.url } };
    const host = { host: 'shop.test' };
    const a = await proxy({ cache: shared });
    const b = await proxy({ cache: shared, routes: [{ name: 'r', match: '/**', responseHeaders: { keep: ['cache-tag'] } }] });
    const c = await proxy({ cache: shared });
    expectStripped(await get(a.url, '/stored', host), 'stored by a');
    await sleep(50);
    const fromB = await get(b.url, '/stored', host);
    expect(fromB.h('x-cache')).toBe('HIT');
    expect(fromB.h('cache-status')).toMatch(/hit/);
    expect(fromB.h('cache-tag')).toBe('tag-c');
    expect(fromB.headers['surrogate-key']).toBeUndefined();
    const fromC = await get(c.url, '/stored', host);
    expect(fromC.h('x-cache')).toBe('HIT');
    expectStripped(fromC, 'read from Redis by c');
    expect(fromC.h('x-app')).toBe('kept');
    expect(origin.count('/stored')).toBe(1);
  });
});

describe('interim responses and trailers', () => {
  it('leave the hidden fields out too', async () => {
    origin = await startOrigin((req, res) => {
      if (req.url === '/hints') {
        res.writeEarlyHints({ link: '</s.css>; rel=preload; as=style', 'x-accel-hint': 'a', 'surrogate-key': 'k' });
        setTimeout(() => {
          res.setHeader('cache-control', 'max-age=60');
          res.end('final');
        }, 20);
        return;
      }
      res.setHeader('cache-control', 'no-store');
      res.setHeader('trailer', 'x-checksum, surrogate-key, x-accel-x');
      res.write('hello');
      res.addTrailers({ 'x-checksum': 'abc', 'surrogate-key': 'k', 'x-accel-x': '1' });
      res.end();
    });
    const p = await proxy({ routes: [{ name: 'off', match: '/off/**', cache: false }] });
    const hints = await raw(p.url, 'GET /hints HTTP/1.1', ['Host: h']);
    const hintsText = `${hints.head}\r\n\r\n${hints.body}`.toLowerCase();
    expect(hintsText).toMatch(/^http\/1\.1 103/);
    expect(hintsText).toContain('link: </s.css>');
    expect(hintsText).toContain('final');
    expect(hintsText).not.toMatch(/x-accel|surrogate-key/);
    for (const path of ['/off/t', '/t']) {
      // A request's no-store makes a miss relayed as it streams, trailers included.
      const r = await raw(p.url, `GET ${path} HTTP/1.1`, ['Host: h', 'TE: trailers', 'Cache-Control: no-store']);
      expect(r.body, path).toContain('x-checksum: abc');
      expect(r.body.toLowerCase(), path).not.toMatch(/x-accel|surrogate-key/);
    }
  });
});

describe('the raw bytes of a hit', () => {
  it('carry each field once, Content-Length matching the body', async () => {
    origin = await scriptedOrigin();
    const p = await proxy();
    await get(p.url, '/stored');
    const head = await new Promise<string>((resolve, reject) => {
      const req = http.get(p.url + '/stored', (res) => {
        res.resume();
        resolve(res.rawHeaders.join('\n'));
      });
      req.on('error', reject);
    });
    expect(head.toLowerCase()).not.toMatch(/surrogate|cache-tag|x-accel/);
    expect(head.toLowerCase().match(/content-length/g)).toHaveLength(1);
  });
});
