import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startRedis, waitFor, type RedisServer } from '../helpers/redis.js';
import { indexKey, lockKey } from '../../src/cache/redis-keys.js';
import { SkippingClock } from '../helpers/clock.js';

/**
 * Redis failing in each way it can: clients see no errors, each request costs at most a few
 * command timeouts, and larder uses Redis again once it is healthy, without a restart.
 */

let redis: RedisServer;
let origin: Origin;
const proxies: Running[] = [];
const HOST = { host: 'shop.test' };
/** The instances' clock: a breaker cool-down is skipped by advancing it, not waited for. */
const clock = new SkippingClock();
const COOL_DOWN = 300;

beforeAll(async () => {
  redis = await startRedis();
  origin = await startOrigin((req, res) => {
    res.setHeader('cache-control', 'max-age=60');
    res.end(`body of ${req.url}`);
  });
});
afterAll(async () => {
  await origin?.close();
  await redis?.stop();
});
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await redis.cli('FLUSHALL');
});

async function instance(url: string, rules: Record<string, unknown> = {}): Promise<Running> {
  const p = await startLarder(
    origin.url,
    { cache: { redis: { url, commandTimeout: '50ms', breaker: { failures: 3, coolDown: `${COOL_DOWN}ms` } } }, ...rules },
    { clock },
  );
  proxies.push(p);
  return p;
}

/** n sequential requests to fresh URLs; every one must be a 200 with its own body. */
async function load(p: Running, n: number, tag: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await get(p.url, `/${tag}-${i}`, HOST);
    times.push(performance.now() - t);
    expect([r.status, r.body]).toEqual([200, `body of /${tag}-${i}`]);
  }
  return times;
}

const max = (xs: number[]): number => Math.max(...xs);

/** Something to observe that L2 writes work: keys appear in Redis. */
async function writesResume(p: Running, server: RedisServer = redis): Promise<void> {
  await waitFor(
    async () => {
      await get(p.url, `/probe-${Math.random()}`, HOST);
      return Number(await server.cli('DBSIZE')) > 0;
    },
    5_000,
    'L2 writes to resume',
  );
}

/** A TCP proxy in front of Redis that delays every chunk in both directions by `delay` ms. */
async function latencyProxy(port: number): Promise<{ url: string; delay: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const state = { url: '', delay: 0, close: async () => undefined as void };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      socks.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => socks.delete(s));
    }
    const relay = (from: net.Socket, to: net.Socket): void => {
      from.on('data', (d) => {
        if (state.delay === 0) to.write(d);
        else setTimeout(() => to.writable && to.write(d), state.delay);
      });
      from.on('end', () => to.end());
    };
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of socks) s.destroy();
      server.close(() => r());
    });
  return state;
}

describe('Redis failing', () => {
  it('down at start: larder starts and serves, then uses Redis once it appears', async () => {
    await redis.kill();
    const t = performance.now();
    const p = await instance(redis.url);
    expect(performance.now() - t).toBeLessThan(3_000); // listen() waits at most 2 s for Redis
    const times = await load(p, 20, 'down-at-start');
    expect(max(times)).toBeLessThan(300);
    await redis.restart();
    await writesResume(p);
  });

  it('slow (latency injected by a TCP proxy): each request bounded by the command timeout, then recovery', async () => {
    const slow = await latencyProxy(redis.port);
    try {
      const p = await instance(slow.url);
      await load(p, 5, 'slow-before');
      slow.delay = 400;
      const times = await load(p, 30, 'slow');
      // A miss makes at most three Redis calls (lookup, lock, then a background write), each
      // cut off at 50 ms; after three failures the breaker skips Redis.
      expect(max(times)).toBeLessThan(350);
      expect(times.slice(-10).every((x) => x < 60)).toBe(true);
      slow.delay = 0;
      clock.advance(COOL_DOWN);
      await writesResume(p);
    } finally {
      await slow.close();
    }
  });

  it('out of memory (maxmemory 1mb, noeviction): no client errors, and writes resume when memory is freed', async () => {
    const p = await instance(redis.url);
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await redis.cli('CONFIG', 'SET', 'maxmemory', '1mb');
    try {
      // Fill Redis past its limit with larger bodies, then keep going: every write is refused (OOM).
      const big = await startOrigin((req, res) => {
        res.setHeader('cache-control', 'max-age=60');
        res.end(Buffer.alloc(64 * 1024, req.url));
      });
      const pb = await startLarder(big.url, { cache: { redis: { url: redis.url, commandTimeout: '50ms' } } });
      proxies.push(pb);
      for (let i = 0; i < 60; i++) expect((await get(pb.url, `/fill-${i}`, HOST)).status).toBe(200);
      expect(await redis.cli('INFO', 'memory')).toMatch(/maxmemory:1048576/);
      const keys = Number(await redis.cli('DBSIZE'));
      const times = await load(p, 30, 'oom');
      expect(max(times)).toBeLessThan(300);
      expect(Number(await redis.cli('DBSIZE'))).toBe(keys); // every write was refused (OOM)
      await big.close();
    } finally {
      await redis.cli('CONFIG', 'SET', 'maxmemory', '0');
    }
    await redis.cli('FLUSHALL');
    clock.advance(COOL_DOWN);
    await writesResume(p);
  });

  it('read-only (a replica): no client errors, and writes resume after REPLICAOF NO ONE', async () => {
    const primary = await startRedis();
    try {
      const p = await instance(redis.url);
      // A replica refuses writes (replica-read-only yes) from the moment REPLICAOF is set.
      await redis.cli('REPLICAOF', '127.0.0.1', String(primary.port));
      const times = await load(p, 30, 'readonly');
      expect(max(times)).toBeLessThan(300);
      expect(Number(await redis.cli('DBSIZE'))).toBe(0); // every write was refused
      await redis.cli('REPLICAOF', 'NO', 'ONE');
      clock.advance(COOL_DOWN);
      await writesResume(p);
    } finally {
      await redis.cli('REPLICAOF', 'NO', 'ONE');
      await primary.stop();
    }
  });

  it('values of the wrong type under entry, index and lock keys: clean misses, no waiting on a planted lock past its bound', async () => {
    const p = await instance(redis.url, { cache: { redis: { url: redis.url, commandTimeout: '50ms' }, lockTimeout: '800ms' } });
    // A list where the entry should be, and a hash where the lock should be.
    const key = lockKey('larder:', 'shop.test/typed');
    await redis.cli('HSET', key, 'f', 'v');
    await redis.cli('EXPIRE', key, '60');
    const t = performance.now();
    const r = await get(p.url, '/typed', HOST);
    expect([r.status, r.body]).toEqual([200, 'body of /typed']);
    // The lock is "held" by foreign data: larder waits at most cache.lockTimeout (800 ms here).
    expect(performance.now() - t).toBeLessThan(1_500);
    const again = await get(p.url, '/typed', HOST);
    expect(again.status).toBe(200);
    // A list under an entry key, a string that is not ours under another.
    await redis.cli('RPUSH', indexKey('larder:', 'shop.test/list'), 'a', 'b');
    await redis.cli('SET', indexKey('larder:', 'shop.test/string'), 'LRDR\x01garbage');
    for (const path of ['/list', '/string']) {
      const fresh = await instance(redis.url);
      const x = await get(fresh.url, path, HOST);
      expect([x.status, x.body]).toEqual([200, `body of ${path}`]);
    }
  });
});
