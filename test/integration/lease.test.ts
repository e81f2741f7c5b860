import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startRedis, sleep, waitFor, type RedisServer } from '../helpers/redis.js';
import { startRelay, type Relay } from '../helpers/relay.js';
import { lockKey } from '../../src/cache/redis-keys.js';
import { Breaker } from '../../src/cache/breaker.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import { systemClock } from '../../src/clock.js';
import type { LarderOptions } from '../../src/app.js';

/**
 * Fill leases: a lock that cannot outlive its holder by more than one short lease, whether
 * the holder lost the reply to its acquire, died, or is still working (then it renews).
 */

const LEASE = 1_000;
const HOST = { host: 'shop.test' };

let redis: RedisServer;
let origin: Origin | undefined;
let relay: Relay | undefined;
let child: ChildProcess | undefined;
const proxies: Running[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  for (const p of proxies.splice(0)) await p.close();
  await origin?.close();
  origin = undefined;
  await relay?.close();
  relay = undefined;
  await redis.cli('FLUSHALL');
});

async function instance(url: string, rules: Record<string, unknown> = {}, opts: LarderOptions = {}): Promise<Running> {
  const p = await startLarder(
    origin!.url,
    { cache: { redis: { url, commandTimeout: '50ms', breaker: { failures: 5, coolDown: '200ms' } }, ...rules } },
    { lockLease: LEASE, ...opts },
  );
  proxies.push(p);
  return p;
}

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await p;
  return [v, performance.now() - t];
}

describe('the lease in Redis', () => {
  it('says how long a held lease has left, and only its holder renews or releases it', async () => {
    const client = new Redis(redis.url, { lazyConnect: false });
    const store = new RedisStore({ client, prefix: 'l:', clock: systemClock, breaker: new Breaker({ clock: systemClock, threshold: 5, coolDown: 1000 }) });
    try {
      const k = 'example.com/leased';
      expect(await store.tryLease(k, 'a', 800)).toEqual({ result: 'acquired' });
      const held = await store.tryLease(k, 'b', 800);
      expect(held.result).toBe('held');
      expect(held.heldFor).toBeGreaterThan(600);
      expect(held.heldFor).toBeLessThanOrEqual(800);
      expect(await store.renew(k, 'b', 60_000)).toBe(false);
      expect(await store.renew(k, 'a', 5_000)).toBe(true);
      expect(await client.pttl(lockKey('l:', k))).toBeGreaterThan(4_000);
      expect(await store.unlock(k, 'b')).toBe(false);
      expect(await store.unlock(k, 'a')).toBe(true);
      expect(await client.exists(lockKey('l:', k))).toBe(0);
      // A foreign value without expiry under the lock key counts as held for one lease at most.
      await client.set(lockKey('l:', k), 'foreign');
      expect(await store.tryLease(k, 'c', 700)).toEqual({ result: 'held', heldFor: 700 });
    } finally {
      store.dispose();
      client.disconnect();
    }
  });
});

describe('fill leases across instances', () => {
  it('an acquire whose reply was lost does not make the next miss wait out the fill budget', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'private');
      res.end('uncacheable');
    });
    relay = await startRelay(redis.port);
    // Default origin timeouts: the fill budget an old-style lock lived for is 65 s.
    const a = await instance(relay.url);
    const b = await instance(redis.url);
    await sleep(100);
    // Redis answers 80 ms late: every command of A's miss times out at 50 ms, yet Redis runs them.
    relay.delay = 80;
    expect((await get(a.url, '/lost-reply', HOST)).status).toBe(200);
    relay.delay = 0;
    await sleep(300); // the late commands have all reached Redis by now
    const key = lockKey('larder:', 'shop.test/lost-reply');
    expect(Number(await redis.cli('PTTL', key))).toBeLessThanOrEqual(LEASE);
    const [r, ms] = await timed(get(b.url, '/lost-reply', HOST));
    expect([r.status, r.body]).toEqual([200, 'uncacheable']);
    expect(ms).toBeLessThan(2 * LEASE);
    expect(origin.count('/lost-reply')).toBe(2);
  });

  it('a lease nobody will release (its holder lost it) delays the next miss by at most one lease', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('filled');
    });
    const b = await instance(redis.url);
    // What a lost reply leaves when the release is lost too: a lease with no live holder.
    await redis.cli('SET', lockKey('larder:', 'shop.test/orphan'), 'ghost:1', 'PX', String(LEASE));
    const [r, ms] = await timed(get(b.url, '/orphan', HOST));
    expect([r.status, r.body]).toEqual([200, 'filled']);
    expect(ms).toBeLessThan(LEASE + 500);
    expect(origin.count('/orphan')).toBe(1);
  });

  it('a holder killed mid-fill (SIGKILL): another instance fills within one lease', async () => {
    let first = true;
    origin = await startOrigin((_req, res) => {
      if (first) {
        first = false;
        return; // the dead instance's fetch never gets an answer
      }
      res.setHeader('cache-control', 'max-age=60');
      res.end('filled by the survivor');
    });
    const script = `
      import { buildConfig } from ${JSON.stringify(join(process.cwd(), 'dist/config/load.js'))};
      import { createLarder } from ${JSON.stringify(join(process.cwd(), 'dist/app.js'))};
      const config = buildConfig({ listen: '127.0.0.1:0', origin: ${JSON.stringify(origin.url)},
        cache: { redis: { url: ${JSON.stringify(redis.url)}, commandTimeout: '200ms' } } }, {});
      const larder = createLarder(config, { lockLease: ${LEASE}, defaultMetrics: false });
      const addr = await larder.listen(0, '127.0.0.1');
      process.stdout.write('port ' + addr.port + '\\n');
    `;
    child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child!.once('exit', () => reject(new Error(`the child larder exited early: ${out}`)));
    });
    const b = await instance(redis.url);
    void get(`http://127.0.0.1:${port}`, '/killed', HOST).catch(() => undefined);
    await waitFor(() => origin!.count('/killed') === 1, 5_000, 'the child to start its fill');
    const key = lockKey('larder:', 'shop.test/killed');
    expect(await redis.cli('EXISTS', key)).toBe('1');
    await sleep(LEASE); // the child renews its lease while its fill runs
    expect(await redis.cli('EXISTS', key)).toBe('1');
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const [r, ms] = await timed(get(b.url, '/killed', HOST));
    expect([r.status, r.body]).toEqual([200, 'filled by the survivor']);
    expect(ms).toBeLessThan(LEASE + 500);
    expect(origin.count('/killed')).toBe(2);
  });

  it('a live holder renews its lease: a slow fill is waited for, not repeated', async () => {
    origin = await startOrigin((_req, res) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=60');
        res.end('slow fill');
      }, 2.5 * LEASE);
    });
    const a = await instance(redis.url);
    const b = await instance(redis.url);
    await sleep(100);
    const first = get(a.url, '/slow', HOST);
    await waitFor(() => origin!.count('/slow') === 1, 2_000, 'the first fill');
    const [r, ms] = await timed(get(b.url, '/slow', HOST));
    expect([r.status, r.body]).toEqual([200, 'slow fill']);
    expect(ms).toBeGreaterThan(1.5 * LEASE);
    expect((await first).body).toBe('slow fill');
    expect(origin.count('/slow')).toBe(1);
  });

  it('cache.lockTimeout: past it a waiter fetches for itself', async () => {
    origin = await startOrigin((_req, res) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=60');
        res.end('slow fill');
      }, 2_000);
    });
    const a = await instance(redis.url, { lockTimeout: '400ms' });
    const b = await instance(redis.url, { lockTimeout: '400ms' });
    await sleep(100);
    const first = get(a.url, '/impatient', HOST);
    await waitFor(() => origin!.count('/impatient') === 1, 2_000, 'the first fill');
    const t = performance.now();
    const second = get(b.url, '/impatient', HOST);
    // B gives up waiting at 400 ms and asks the origin itself (which takes 2 s).
    await waitFor(() => origin!.count('/impatient') === 2, 1_500, 'B to fetch for itself');
    expect(performance.now() - t).toBeGreaterThan(300);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });
});
