import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, sleep } from '../helpers/client.js';
import { startRedis, waitFor, type RedisServer } from '../helpers/redis.js';
import { ManualClock } from '../../src/clock.js';

let redis: RedisServer;
let origin: Origin;
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

/** mulberry32: a small seeded PRNG, so the dice XFetch throws are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const H = { host: 'hot.test' };

/**
 * A hot key under steady load on two instances: one request every 100 ms of clock time,
 * alternating between them, for `seconds` of clock time. The origin answers max-age=10 and
 * takes 500 ms of clock time to do so (it moves the shared clock), which is XFetch's δ.
 */
async function steadyLoad(beta: number, seconds: number) {
  const clock = new ManualClock(Date.now());
  origin = await startOrigin(
    (_req, res, n) => {
      clock.advance(500);
      res.setHeader('date', new Date(clock.now()).toUTCString());
      res.setHeader('cache-control', 'max-age=10');
      res.end(`v${n}`);
    },
    { clock },
  );
  const rules = { cache: { redis: { url: redis.url, commandTimeout: '200ms' } }, routes: [{ name: 'hot', match: '/**', earlyRefresh: beta }] };
  const a = await startLarder(origin.url, rules, { clock, random: seeded(7) });
  const b = await startLarder(origin.url, rules, { clock, random: seeded(11) });
  running.push(a, b);
  await get(a.url, '/hot', H);
  await waitFor(async () => (await redis.cli('DBSIZE')) !== '0', 2000, 'the L2 write');
  const seen: string[] = [];
  for (let i = 0; i < seconds * 10; i++) {
    clock.advance(100);
    const r = await get(i % 2 ? a.url : b.url, '/hot', H);
    seen.push(r.h('x-cache'));
    // Let a background refresh started by this request finish before the clock moves on, so
    // every run sees the same sequence.
    if (r.h('cache-status').includes('early-refresh')) await sleep(150);
  }
  return { seen, a, b };
}

describe('probabilistic early refresh (XFetch)', () => {
  it('refreshes a hot key once across two instances before it expires; no request sees STALE or MISS', async () => {
    const { seen, a, b } = await steadyLoad(2, 11);
    expect(seen.filter((x) => x !== 'HIT')).toEqual([]);
    expect(origin.count('/hot')).toBe(2);
    const early = a.larder.recorder.metrics.earlyRefreshes;
    const started = (await early.get()).values.reduce((n, v) => n + v.value, 0) + (await b.larder.recorder.metrics.earlyRefreshes.get()).values.reduce((n, v) => n + v.value, 0);
    expect(started).toBeGreaterThanOrEqual(1);
  });

  it('does not refresh early with beta 0: the key goes stale and is fetched on demand', async () => {
    const { seen, a, b } = await steadyLoad(0, 12);
    expect(seen.slice(0, 80).every((x) => x === 'HIT')).toBe(true);
    expect(seen).toContain('MISS');
    // One fetch after expiry serves both instances; nothing was refreshed ahead of time.
    expect(origin.count('/hot')).toBe(2);
    for (const p of [a, b]) expect((await p.larder.recorder.metrics.earlyRefreshes.get()).values.filter((v) => v.value > 0)).toEqual([]);
  });
});

describe('warming', () => {
  it('fills the cache before readiness turns green', async () => {
    origin = await startOrigin((req, res) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=600');
        res.end(`warm ${req.url}`);
      }, 150);
    });
    const urls = Array.from({ length: 12 }, (_, i) => `/w/${i}`);
    const p = await startLarder(origin.url, {
      admin: { listen: '127.0.0.1:0', token: 'tok' },
      warm: { urls: [...urls, 'http://other.test/w/abs'], concurrency: 3, waitForReady: true },
    });
    running.push(p);
    const admin = await p.larder.listenAdmin(0, '127.0.0.1');
    const job = p.larder.warm();
    const before = await fetch(`http://127.0.0.1:${admin!.port}/readyz`);
    expect(before.status).toBe(503);
    const result = await job;
    expect(result).toMatchObject({ total: 13, ok: 13, failed: 0 });
    expect((await fetch(`http://127.0.0.1:${admin!.port}/readyz`)).status).toBe(200);
    for (const u of urls) expect((await get(p.url, u)).h('x-cache'), u).toBe('HIT');
    expect((await get(p.url, '/w/abs', { host: 'other.test' })).h('x-cache')).toBe('HIT');
    expect(origin.count()).toBe(13);
    const again = await fetch(`http://127.0.0.1:${admin!.port}/warm`, { method: 'POST', headers: { authorization: 'Bearer tok' } });
    expect(((await again.json()) as { ok: number }).ok).toBe(13);
    expect(origin.count()).toBe(13);
  });
});
