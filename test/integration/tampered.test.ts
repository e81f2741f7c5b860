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

describe('entries encrypted at rest (cache.redis.encryption)', () => {
  const K1 = { id: 'k1', key: Buffer.alloc(32, 1).toString('hex') };
  const K2 = { id: 'k2', key: Buffer.alloc(32, 2).toString('base64') };
  const keys = (...ks: Array<{ id: string; key: string }>) => ({ redis: { url: redis.url, commandTimeout: '200ms', encryption: { keys: ks } } });

  async function decryptFailures(p: Running): Promise<number> {
    return (await p.larder.recorder.metrics.decryptFailures.get()).values[0]?.value ?? 0;
  }

  /** A fresh instance with `rules` asks for `path`: a hit from Redis or not. */
  async function readBack(path: string, rules: Record<string, unknown>): Promise<{ xCache: string; tier: string | undefined; failures: number }> {
    const reader = await startLarder(origin.url, { cache: rules });
    proxies.push(reader);
    const r = await get(reader.url, path, HOST);
    expect([r.status, r.body]).toEqual([200, `${BODY} of ${path}`]);
    return { xCache: r.h('x-cache'), tier: reader.outcomes.at(-1)?.tier, failures: await decryptFailures(reader) };
  }

  it('stores no body or URL in the clear, and reads it back', async () => {
    const bytes = await stored('/secret', keys(K1));
    expect(bytes.includes(Buffer.from(BODY))).toBe(false);
    expect(bytes.includes(Buffer.from('/secret'))).toBe(false);
    expect(await readBack('/secret', keys(K1))).toEqual({ xCache: 'HIT', tier: 'redis', failures: 0 });
  });

  it('key rotation: entries written under k1 are read after k2 is added first; new ones use k2', async () => {
    await stored('/rotate', keys(K1));
    expect(await readBack('/rotate', keys(K2, K1))).toEqual({ xCache: 'HIT', tier: 'redis', failures: 0 });
    // An entry written with k2 first: an instance that only knows k1 cannot read it (a counted miss).
    await stored('/rotated', keys(K2, K1));
    expect(await readBack('/rotated', keys(K2))).toEqual({ xCache: 'HIT', tier: 'redis', failures: 0 });
    await redis.cli('FLUSHALL');
    await stored('/rotated2', keys(K2, K1));
    expect(await readBack('/rotated2', keys(K1))).toEqual({ xCache: 'MISS', tier: undefined, failures: 1 });
  });

  it('a wrong GCM tag, altered ciphertext, truncation, a move to another key or a clear entry: misses, counted', async () => {
    const bytes = await stored('/sealed', keys(K1));
    const rkey = (p: string) => indexKey('larder:', `shop.test${p}`);
    const tagAt = 6 + 1 + K1.id.length + 12;
    const badTag = Buffer.from(bytes);
    badTag[tagAt] = badTag[tagAt]! ^ 1;
    const badText = Buffer.from(bytes);
    badText[bytes.length - 1] = badText[bytes.length - 1]! ^ 0x80;
    await client.set(rkey('/bad-tag'), badTag, 'PX', 60_000);
    await client.set(rkey('/bad-text'), badText, 'PX', 60_000);
    await client.set(rkey('/cut-sealed'), bytes.subarray(0, bytes.length - 4), 'PX', 60_000);
    await client.set(rkey('/moved'), bytes, 'PX', 60_000);
    for (const path of ['/bad-tag', '/bad-text', '/cut-sealed', '/moved']) {
      expect(await readBack(path, keys(K1)), path).toEqual({ xCache: 'MISS', tier: undefined, failures: 1 });
    }
    // An entry in the clear is not trusted once encryption is on.
    await stored('/clear');
    expect(await readBack('/clear', keys(K1))).toEqual({ xCache: 'MISS', tier: undefined, failures: 0 });
  });
});
