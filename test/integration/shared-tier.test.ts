import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startRedis, waitFor, sleep, type RedisServer } from '../helpers/redis.js';
import { indexKey } from '../../src/cache/redis-keys.js';
import { ManualClock } from '../../src/clock.js';
import { SkippingClock } from '../helpers/clock.js';
import type { LarderOptions } from '../../src/app.js';

let redis: RedisServer;
let origin: Origin;
const proxies: Running[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await origin?.close();
  await redis.cli('FLUSHALL');
});

async function instance(rules: Record<string, unknown> = {}, opts: LarderOptions = {}): Promise<Running> {
  const p = await startLarder(
    origin.url,
    { cache: { redis: { url: redis.url, commandTimeout: '100ms', breaker: { failures: 3, coolDown: '500ms' } } }, ...rules },
    opts,
  );
  proxies.push(p);
  return p;
}

/** The Host a test client sends: larder keys on it, so two instances must see the same one. */
const HOST = { host: 'shop.test' };

describe('several instances on one Redis', () => {
  it('sends 200 concurrent cold requests spread over two instances to the origin once', async () => {
    origin = await startOrigin((_req, res) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=60');
        res.end('one fill for all');
      }, 300);
    });
    const [a, b] = [await instance(), await instance()];
    await sleep(100); // subscriptions in place
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => get(i % 2 ? a!.url : b!.url, '/cold', HOST)));
    expect(replies.every((r) => r.status === 200 && r.body === 'one fill for all')).toBe(true);
    expect(origin.count('/cold')).toBe(1);
  });

  it('answers from Redis on the second instance and backfills its memory', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`v${n}`);
    });
    const [a, b] = [await instance(), await instance()];
    await get(a.url, '/shared', HOST);
    await waitFor(async () => (await redis.cli('DBSIZE')) !== '0', 2000, 'the L2 write');
    const fromRedis = await get(b.url, '/shared', HOST);
    expect([fromRedis.body, fromRedis.h('x-cache')]).toEqual(['v1', 'HIT']);
    expect(fromRedis.h('cache-status')).toMatch(/^larder; hit; ttl=\d+$/);
    expect(b.outcomes.at(-1)?.tier).toBe('redis');
    await get(b.url, '/shared', HOST);
    expect(b.outcomes.at(-1)?.tier).toBe('memory');
    // The backfilled body is its own allocation, not a view pinning the Redis reply's read buffer.
    const kept = b.larder.memory.peek('shop.test/shared') as { body: Buffer } | undefined;
    expect(kept?.body.toString()).toBe('v1');
    expect(kept?.body.byteOffset).toBe(0);
    expect(kept?.body.buffer.byteLength).toBe(2);
    expect(origin.count()).toBe(1);
  });

  it('sees a POST on instance A invalidate instance B at once', async () => {
    origin = await startOrigin((req, res, n) => {
      if (req.method === 'POST') {
        req.resume();
        return void res.end('saved');
      }
      res.setHeader('cache-control', 'max-age=60');
      res.end(`v${n}`);
    });
    const [a, b] = [await instance(), await instance()];
    await sleep(100);
    await get(a.url, '/item', HOST);
    await waitFor(async () => (await redis.cli('DBSIZE')) !== '0', 2000, 'the L2 write');
    expect((await get(b.url, '/item', HOST)).h('x-cache')).toBe('HIT');
    await get(a.url, '/item', { ...HOST }, 'POST');
    await waitFor(async () => b.larder.memory.entries === 0, 1000, 'B to drop its copy');
    const after = await get(b.url, '/item', HOST);
    expect(after.h('x-cache')).toBe('MISS');
    expect(after.body).not.toBe('v1');
  });

  it('treats garbage planted under an entry key as a clean miss', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('real body');
    });
    const a = await instance();
    await redis.cli('SET', indexKey('larder:', 'shop.test/planted'), 'not an entry', 'PX', '60000');
    const r = await get(a.url, '/planted', HOST);
    expect([r.status, r.body, r.h('x-cache')]).toEqual([200, 'real body', 'MISS']);
    await redis.cli('DEL', indexKey('larder:', 'shop.test/list'));
    await redis.cli('LPUSH', indexKey('larder:', 'shop.test/list'), 'x');
    const l = await get(a.url, '/list', HOST);
    expect([l.status, l.body]).toEqual([200, 'real body']);
  });

  it('keeps serving from L2 after a restart of larder, with the right Age', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin(
      (_req, res) => {
        res.setHeader('cache-control', 'max-age=600');
        res.end('survives restarts');
      },
      { clock },
    );
    const a = await instance({}, { clock });
    await get(a.url, '/durable', HOST);
    await waitFor(async () => (await redis.cli('DBSIZE')) !== '0', 2000, 'the L2 write');
    await a.close();
    proxies.splice(proxies.indexOf(a), 1);
    clock.advance(42_000);
    const c = await instance({}, { clock });
    const r = await get(c.url, '/durable', HOST);
    expect([r.body, r.h('x-cache')]).toEqual(['survives restarts', 'HIT']);
    expect(Number(r.h('age'))).toBeGreaterThanOrEqual(42);
    expect(Number(r.h('age'))).toBeLessThanOrEqual(43);
    expect(origin.count()).toBe(1);
  });

  it('gives every Redis key a TTL', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'accept-language');
      res.end(String(req.headers['accept-language']));
    });
    const a = await instance();
    await get(a.url, '/ttl', { ...HOST, 'accept-language': 'en' });
    await get(a.url, '/ttl', { ...HOST, 'accept-language': 'fr' });
    await waitFor(async () => Number(await redis.cli('DBSIZE')) >= 3, 2000, 'the L2 writes');
    const keys = (await redis.cli('--scan')).split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const k of keys) expect(Number(await redis.cli('PTTL', k)), k).toBeGreaterThan(0);
  });

  it('refreshes a stale-while-revalidate entry once across instances', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin(
      (_req, res, n) => {
        setTimeout(() => {
          res.setHeader('cache-control', 'max-age=10, stale-while-revalidate=60');
          res.end(`v${n}`);
        }, n === 1 ? 0 : 200);
      },
      { clock },
    );
    const [a, b] = [await instance({}, { clock }), await instance({}, { clock })];
    await sleep(100);
    await get(a.url, '/swr', HOST);
    await waitFor(async () => (await redis.cli('DBSIZE')) !== '0', 2000, 'the L2 write');
    await get(b.url, '/swr', HOST);
    clock.advance(15_000);
    const stale = await Promise.all([get(a.url, '/swr', HOST), get(b.url, '/swr', HOST)]);
    expect(stale.map((r) => r.h('x-cache'))).toEqual(['STALE', 'STALE']);
    await sleep(600);
    expect(origin.count()).toBe(2);
  });
});

describe('Redis failing', () => {
  it('keeps answering with no 5xx and bounded latency while Redis is killed and restarted', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`body of ${req.url}`);
    });
    const clock = new SkippingClock();
    const a = await instance({}, { clock });
    const latencies: number[] = [];
    const statuses: number[] = [];
    const loop = async (n: number, tag: string): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const r = await get(a.url, `/k${i % 40}-${tag}`, HOST);
        latencies.push(performance.now() - t);
        statuses.push(r.status);
      }
    };
    await loop(100, 'before');
    await redis.kill();
    await loop(200, 'down');
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    latencies.sort((x, y) => x - y);
    // Each request waits at most one command timeout (100 ms) per Redis call it makes.
    expect(latencies[Math.floor(latencies.length * 0.99)]).toBeLessThan(500);
    await redis.restart();
    clock.advance(500); // past the breaker's cool-down: the next request's probe closes it
    await waitFor(
      async () => {
        await get(a.url, `/after-${Math.random()}`, HOST);
        return Number(await redis.cli('DBSIZE')) > 0;
      },
      5000,
      'L2 writes to resume',
    );
  });

  it('answers without errors, each request bounded by the command timeout, while Redis hangs', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`body of ${req.url}`);
    });
    const a = await instance();
    redis.pause();
    try {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const r = await get(a.url, `/hang-${i}`, HOST);
        times.push(performance.now() - t);
        expect([r.status, r.body]).toEqual([200, `body of /hang-${i}`]);
      }
      // A miss makes at most three Redis calls (lookup, lock, and the store in the background),
      // each cut off at 100 ms; after three failures the breaker skips Redis altogether.
      expect(Math.max(...times)).toBeLessThan(400);
      expect(times.slice(-10).every((t) => t < 50)).toBe(true);
    } finally {
      redis.resume();
    }
  });
});
