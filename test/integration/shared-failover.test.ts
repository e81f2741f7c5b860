import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startCluster, sleep, waitFor, type RedisCluster } from '../helpers/redis.js';

let cluster: RedisCluster;
let origin: Origin;
const running: Running[] = [];

beforeAll(async () => {
  // Three masters with a replica each; a master silent for 1 s is failed over.
  cluster = await startCluster(3, 1, 1000);
  origin = await startOrigin((req, res) => {
    res.setHeader('cache-control', 'max-age=600');
    res.end(`body of ${req.url}`);
  });
}, 60_000);

afterAll(async () => {
  for (const r of running) await r.close();
  await origin?.close();
  await cluster?.stop();
});

const H = { host: 'failover.test' };

async function instance(): Promise<Running> {
  const r = await startLarder(origin.url, { cache: { redis: { cluster: cluster.nodes, commandTimeout: '200ms', breaker: { failures: 5, coolDown: '500ms' } } } });
  running.push(r);
  return r;
}

describe('Redis Cluster failover', () => {
  it('keeps answering while a master is killed, and serves its slots from the promoted replica', async () => {
    const a = await instance();
    const paths = Array.from({ length: 30 }, (_, i) => `/f/${i}`);
    for (const p of paths) await get(a.url, p, H);
    const fresh = await instance();
    await waitFor(async () => (await get(fresh.url, paths.at(-1)!, H)).h('x-cache') === 'HIT', 3000, 'the L2 writes');
    await sleep(300); // replication to the replicas

    let master: number | undefined;
    for (const port of cluster.ports) {
      if ((await cluster.cli(port, 'role')).startsWith('master')) {
        master = port;
        break;
      }
    }
    expect(master).toBeDefined();
    await cluster.kill(master!);

    // Requests during the failover: Redis faults are misses, never client errors.
    const statuses: number[] = [];
    const end = Date.now() + 4_000;
    for (let i = 0; Date.now() < end; i++) statuses.push((await get(a.url, `/during/${i % 50}`, H)).status);
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    const survivor = cluster.ports.find((p) => p !== master)!;
    await waitFor(async () => (await cluster.cli(survivor, 'cluster', 'info')).includes('cluster_state:ok'), 15_000, 'the failover');

    // A new instance (empty memory) finds every entry in Redis, including the failed-over slots.
    const later = await instance();
    const before = origin.count();
    await waitFor(
      async () => {
        for (const p of paths) if ((await get(later.url, p, H)).h('x-cache') !== 'HIT') return false;
        return true;
      },
      10_000,
      'every entry from the promoted replica',
    );
    expect(origin.count()).toBe(before);
  });
});
