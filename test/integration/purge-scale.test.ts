import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startRedis, sleep, waitFor, type RedisServer } from '../helpers/redis.js';
import { MAX_RULES } from '../../src/cache/purge-rules.js';

/**
 * Purges at scale: a purge of 10,000 tags is carried out while requests keep being answered
 * without delay, and rules reach other instances in one message.
 */

const TOKEN = 'purge-token';
const HOST = { host: 'shop.test' };

let redis: RedisServer;
let origin: Origin;
const proxies: Running[] = [];

beforeAll(async () => {
  redis = await startRedis();
  origin = await startOrigin((req, res) => {
    res.setHeader('cache-control', 'max-age=600');
    res.setHeader('surrogate-key', `t-${req.url!.slice(1)} all`);
    res.end(`body of ${req.url}`);
  });
});
afterAll(async () => {
  await origin.close();
  await redis.stop();
});
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await redis.cli('FLUSHALL');
});

async function instance(): Promise<Running & { admin: string }> {
  const p = await startLarder(origin.url, {
    admin: { listen: '127.0.0.1:0', token: TOKEN },
    cache: { redis: { url: redis.url, commandTimeout: '500ms' } },
  });
  proxies.push(p);
  const addr = await p.larder.listenAdmin(0, '127.0.0.1');
  return Object.assign(p, { admin: `http://127.0.0.1:${addr!.port}` });
}

async function purge(admin: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(admin + '/purge', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('purges at scale', () => {
  it('a 10,000-tag purge during load never blocks the event loop, and every purged tag applies', async () => {
    const a = await instance();
    const b = await instance();
    await sleep(100);
    // 2,000 entries in memory on A, the first 200 of which will be purged by tag.
    for (let i = 0; i < 2_000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => get(a.url, `/e${i + j}`, HOST)));
    expect(a.larder.memory.entries).toBe(2_000);
    const tags = Array.from({ length: 10_000 }, (_, i) => (i < 200 ? `t-e${i}` : `unused-${i}`));

    // The same load runs for a control window without a purge, then during the purge. A purge
    // of 10,000 tags that blocked stalled the loop for about 2 s; sliced, it stalls it for about
    // 15-35 ms on an idle machine (bench/tier.mjs reports the figure). This test shares the
    // machine and the event loop with other tests and its own clients, where a garbage
    // collection alone can take 100 ms, so it checks the purge never blocks the loop for long:
    // at most 250 ms beyond the worst delay of the control window.
    let phase: 'control' | 'purge' = 'control';
    const latencies = { control: [] as number[], purge: [] as number[] };
    const loops = { control: monitorEventLoopDelay({ resolution: 5 }), purge: monitorEventLoopDelay({ resolution: 5 }) };
    let running = true;
    loops.control.enable();
    const hot = Array.from({ length: 10 }, async (_, c) => {
      for (let i = 0; running; i++) {
        const t = performance.now();
        const r = await get(a.url, `/e${1_000 + ((c * 97 + i) % 1_000)}`, HOST);
        latencies[phase].push(performance.now() - t);
        expect(r.status).toBe(200);
      }
    });
    await sleep(400);
    loops.control.disable();
    phase = 'purge';
    loops.purge.enable();
    const answer = await purge(a.admin, { tags });
    await sleep(200);
    running = false;
    await Promise.all(hot);
    loops.purge.disable();
    const worst = (xs: number[]) => Math.max(...xs);
    expect(latencies.control.length).toBeGreaterThan(20);
    expect(latencies.purge.length).toBeGreaterThan(20);
    const stall = { control: loops.control.max / 1e6, purge: loops.purge.max / 1e6 };
    expect(stall.purge, JSON.stringify({ stall, worst: { control: worst(latencies.control), purge: worst(latencies.purge) } })).toBeLessThan(250 + stall.control);
    expect(worst(latencies.purge)).toBeLessThan(1_000);

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ tags: 10_000, purged: 200 });
    // Purged on A at once, and on B through one message.
    expect((await get(a.url, '/e7', HOST)).h('x-cache')).toBe('MISS');
    expect((await get(a.url, '/e1500', HOST)).h('x-cache')).toBe('HIT');
    await waitFor(() => b.larder.store.rules.counts().tag === 10_000, 2_000, 'B to receive the rules');
    // A third instance started later loads them from Redis.
    const c = await instance();
    expect(c.larder.store.rules.counts().tag).toBe(10_000);
  });

  it('refuses a purge the rule set has no room for with 507 and a clear message, and applies none of it', async () => {
    const a = await instance();
    const rules = a.larder.store.rules;
    for (let i = 0; rules.size < MAX_RULES - 5; i++) {
      rules.add({ kind: 'prefix', value: `/filler/${i}/`, at: 1, soft: false, until: Date.now() + 60_000 }, true);
    }
    const full = await purge(a.admin, { tags: Array.from({ length: 10 }, (_, i) => `x${i}`) });
    expect(full.status).toBe(507);
    expect(full.body['code']).toBe('LARDER_PURGE_RULES_FULL');
    expect(String(full.body['error'])).toMatch(/purge rule set is full \(100000 active rules/);
    expect(rules.counts().tag).toBe(0);
    const fits = await purge(a.admin, { tags: ['y1', 'y2'] });
    expect(fits.status).toBe(200);
  });
});
