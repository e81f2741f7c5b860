import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startRedis, sleep, waitFor, type RedisServer } from '../helpers/redis.js';
import { indexKey, slotTag } from '../../src/cache/redis-keys.js';
import { decode } from '../../src/cache/codec.js';
import { isVaryIndex } from '../../src/types.js';

/**
 * Vary indexes under concurrency: however many writers race, Redis holds at most maxVariants
 * variants per URL plus the index, no variant outlives its place in the index, and memory
 * serves no more variants than Redis lists.
 */

const MAX_VARIANTS = 3;
const HOST = { host: 'shop.test' };

let redis: RedisServer;
let client: Redis;
let origin: Origin;
const proxies: Running[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  origin = await startOrigin((req, res) => {
    res.setHeader('cache-control', 'max-age=600');
    res.setHeader('vary', 'x-v');
    res.end(`variant ${String(req.headers['x-v'])}`);
  });
});
afterAll(async () => {
  client.disconnect();
  await origin.close();
  await redis.stop();
});
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await redis.cli('FLUSHALL');
});

async function instance(): Promise<Running> {
  const p = await startLarder(origin.url, { cache: { redis: { url: redis.url, commandTimeout: '500ms' }, maxVariants: MAX_VARIANTS } });
  proxies.push(p);
  return p;
}

/** Every Redis key of one URL (they share its hash tag); SCAN is for tests only. */
async function keysOf(primary: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `larder:{${slotTag(primary)}}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out.filter((k) => !k.includes(':lock:'));
}

/** `n` requests for `path` with distinct x-v values, `clients` at a time, spread over `targets`. */
async function load(targets: Running[], path: string, n: number, clients: number, base = 0): Promise<string[]> {
  const results: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = next++; i < n; i = next++) {
        const r = await get(targets[(c + i) % targets.length]!.url, path, { ...HOST, 'x-v': `v${base + i}` });
        expect([r.status, r.body]).toEqual([200, `variant v${base + i}`]);
        results.push(r.h('x-cache'));
      }
    }),
  );
  return results;
}

describe('vary indexes under concurrency', () => {
  it('20 concurrent clients x 1,000 Vary values on two instances: at most maxVariants + 1 Redis keys for the URL', async () => {
    const a = await instance();
    const b = await instance();
    await sleep(100);
    await load([a, b], '/vary', 1_000, 20);
    // Writes reach Redis in the background; wait until they have all landed.
    let last = -1;
    await waitFor(
      async () => {
        const n = (await keysOf('shop.test/vary')).length;
        const settled = n === last;
        last = n;
        if (!settled) await sleep(100);
        return settled;
      },
      5_000,
      'the writes to settle',
    );
    const keys = await keysOf('shop.test/vary');
    expect(keys.length).toBeLessThanOrEqual(MAX_VARIANTS + 1);
    const index = decode((await client.getBuffer(indexKey('larder:', 'shop.test/vary')))!, 'shop.test/vary');
    expect(index !== undefined && isVaryIndex(index)).toBe(true);
    if (index === undefined || !isVaryIndex(index)) return;
    expect(index.variants.length).toBeLessThanOrEqual(MAX_VARIANTS);
    // Every variant the index lists is there; nothing else is.
    expect(keys.length).toBe(index.variants.length + 1);

    // Memory follows Redis: neither instance's memory lists more than the cap, and asked for
    // all 1,000 values again, at most maxVariants are hits on each instance.
    for (const p of [a, b]) {
      const local = p.larder.memory.peek('shop.test/vary');
      expect(local !== undefined && isVaryIndex(local) && local.variants.length <= MAX_VARIANTS).toBe(true);
    }
    const before = origin.count('/vary');
    const again = await load([a], '/vary', 1_000, 20);
    expect(again.filter((x) => x === 'HIT').length).toBeLessThanOrEqual(MAX_VARIANTS);
    expect(origin.count('/vary') - before).toBeGreaterThanOrEqual(1_000 - MAX_VARIANTS);
  });

  it('a response that stops varying replaces the index and deletes its variants', async () => {
    const a = await instance();
    await load([a], '/stops', 3, 1);
    await waitFor(async () => (await keysOf('shop.test/stops')).length === 4, 2_000, 'three variants and the index');
    origin.handle((_req, res) => {
      res.setHeader('cache-control', 'max-age=600');
      res.end('no longer varies');
    });
    const b = await instance();
    expect((await get(b.url, '/stops', HOST)).body).toBe('no longer varies');
    await waitFor(async () => (await keysOf('shop.test/stops')).length === 1, 2_000, 'only the plain entry');
    origin.handle((req, res) => {
      res.setHeader('cache-control', 'max-age=600');
      res.setHeader('vary', 'x-v');
      res.end(`variant ${String(req.headers['x-v'])}`);
    });
  });
});
