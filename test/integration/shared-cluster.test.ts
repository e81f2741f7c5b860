import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startCluster, waitFor, type RedisCluster } from '../helpers/redis.js';

let cluster: RedisCluster;
let origin: Origin;
let a: Running;
let b: Running;

beforeAll(async () => {
  cluster = await startCluster(3);
  origin = await startOrigin((req, res, n) => {
    if (req.method === 'POST') {
      req.resume();
      return void res.end('ok');
    }
    res.setHeader('cache-control', 'max-age=60');
    res.setHeader('vary', 'accept-language');
    res.end(`${req.url} ${req.headers['accept-language'] ?? '-'} #${n}`);
  });
  const rules = { cache: { redis: { cluster: cluster.nodes, commandTimeout: '200ms' } } };
  a = await startLarder(origin.url, rules);
  b = await startLarder(origin.url, rules);
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await origin?.close();
  await cluster?.stop();
});

const host = { host: 'cluster.test' };

describe('Redis Cluster as the shared tier', () => {
  it('shares entries and Vary variants between instances across many slots, and purges them everywhere', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => `/c/${i}`);
    for (const p of paths) {
      await get(a.url, p, { ...host, 'accept-language': 'en' });
      await get(a.url, p, { ...host, 'accept-language': 'de' });
    }
    const before = origin.count();
    expect(before, origin.requests.map((r) => `${r.url} ${r.headers['accept-language']}`).join('\n')).toBe(40);
    await waitFor(
      async () => {
        const r = await get(b.url, paths.at(-1)!, { ...host, 'accept-language': 'de' });
        return r.h('x-cache') === 'HIT';
      },
      3000,
      'the last L2 write',
    );
    for (const p of paths) {
      const en = await get(b.url, p, { ...host, 'accept-language': 'en' });
      const de = await get(b.url, p, { ...host, 'accept-language': 'de' });
      expect([en.h('x-cache'), en.body.startsWith(`${p} en`)]).toEqual(['HIT', true]);
      expect([de.h('x-cache'), de.body.startsWith(`${p} de`)]).toEqual(['HIT', true]);
    }
    expect(origin.count()).toBe(before);

    await get(a.url, '/c/3', host, 'POST');
    await waitFor(async () => (await get(b.url, '/c/3', { ...host, 'accept-language': 'en' })).h('x-cache') === 'MISS', 2000, 'the purge');
    const de = await get(b.url, '/c/3', { ...host, 'accept-language': 'de' });
    expect(de.h('x-cache')).toBe('MISS');
    expect((await get(b.url, '/c/4', { ...host, 'accept-language': 'de' })).h('x-cache')).toBe('HIT');
  });
});
