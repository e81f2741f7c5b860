import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startRedis, waitFor, type RedisServer } from '../helpers/redis.js';
import { indexKey } from '../../src/cache/redis-keys.js';
import { decode, encode } from '../../src/cache/codec.js';
import type { CacheEntry } from '../../src/types.js';

/**
 * Entries read from Redis are checked, not trusted: whatever was changed in Redis after larder
 * wrote it, a client gets the origin's answer (a miss), never the altered entry.
 */

let redis: RedisServer;
let client: Redis;
let origin: Origin;
const proxies: Running[] = [];
const HOST = { host: 'shop.test' };
const BODY = 'the real body, longer than three bytes';

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  origin = await startOrigin((req, res) => {
    res.setHeader('cache-control', 'max-age=600');
    res.end(`${BODY} of ${req.url}`);
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

async function instance(rules: Record<string, unknown> = {}): Promise<Running> {
  const p = await startLarder(origin.url, { cache: { redis: { url: redis.url, commandTimeout: '200ms' }, ...rules } });
  proxies.push(p);
  return p;
}

/** Fills `path` through a first instance and returns the bytes it stored in Redis. */
async function stored(path: string, rules: Record<string, unknown> = {}): Promise<Buffer> {
  const writer = await instance(rules);
  expect((await get(writer.url, path, HOST)).status).toBe(200);
  const rkey = indexKey('larder:', `shop.test${path}`);
  await waitFor(async () => (await client.exists(rkey)) === 1, 2_000, 'the L2 write');
  return (await client.getBuffer(rkey))!;
}

/** Asks a fresh instance (empty memory) for `path`: it must answer from the origin, unaltered. */
async function expectMiss(path: string, rules: Record<string, unknown> = {}): Promise<void> {
  const before = origin.count(path);
  const reader = await instance(rules);
  const r = await get(reader.url, path, HOST);
  expect([r.status, r.body, r.h('x-cache')]).toEqual([200, `${BODY} of ${path}`, 'MISS']);
  expect(r.h('content-length')).toBe(String(Buffer.byteLength(r.body)));
  expect(origin.count(path)).toBe(before + 1);
  expect(reader.outcomes.at(-1)?.tier).toBeUndefined();
}

describe('entries altered in Redis are misses', () => {
  it('an untouched entry is a hit from Redis (the baseline)', async () => {
    await stored('/baseline');
    const reader = await instance();
    const r = await get(reader.url, '/baseline', HOST);
    expect([r.body, r.h('x-cache')]).toEqual([`${BODY} of /baseline`, 'HIT']);
    expect(reader.outcomes.at(-1)?.tier).toBe('redis');
  });

  it('a stored Content-Length that disagrees with the body (response splitting) is a miss', async () => {
    const key = 'shop.test/split';
    const entry = decode(await stored('/split'), key) as CacheEntry;
    const raw = entry.rawHeaders.slice();
    raw[raw.indexOf('content-length') + 1] = '3';
    await client.set(indexKey('larder:', key), encode({ ...entry, rawHeaders: raw }, key), 'PX', 60_000);
    await expectMiss('/split');
  });

  it('a stored Transfer-Encoding is a miss', async () => {
    const key = 'shop.test/chunked';
    const entry = decode(await stored('/chunked'), key) as CacheEntry;
    const tampered = { ...entry, rawHeaders: ['Transfer-Encoding', 'chunked', ...entry.rawHeaders] };
    await client.set(indexKey('larder:', key), encode(tampered, key), 'PX', 60_000);
    await expectMiss('/chunked');
  });

  it('an entry copied under another key (as a hash collision would place it) is a miss', async () => {
    const bytes = await stored('/original');
    await client.set(indexKey('larder:', 'shop.test/elsewhere'), bytes, 'PX', 60_000);
    await expectMiss('/elsewhere');
  });

  it('a truncated entry is a miss', async () => {
    const bytes = await stored('/cut');
    await client.set(indexKey('larder:', 'shop.test/cut'), bytes.subarray(0, bytes.length - 5), 'PX', 60_000);
    await expectMiss('/cut');
  });

  it('an entry of the previous format version is a miss', async () => {
    const bytes = Buffer.from(await stored('/old'));
    bytes[4] = 1;
    await client.set(indexKey('larder:', 'shop.test/old'), bytes, 'PX', 60_000);
    await expectMiss('/old');
  });
});
