import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { Breaker } from '../../src/cache/breaker.js';
import { variantKey } from '../../src/cache/key.js';
import { RedisBus } from '../../src/cache/redis-bus.js';
import { filledChannel, lockKey, redisKey } from '../../src/cache/redis-keys.js';
import { createRedisClient, RedisStore, type RedisOp } from '../../src/cache/redis-store.js';
import { ManualClock } from '../../src/clock.js';
import type { CacheEntry } from '../../src/types.js';
import { startCluster, waitFor, type RedisCluster } from '../helpers/redis.js';
import { sampleEntry, sampleIndex } from '../unit/cache/entries.js';

describe('RedisStore and RedisBus on a Redis Cluster', () => {
  let cluster: RedisCluster;
  const clients: Cluster[] = [];
  const errors: Array<[RedisOp, unknown]> = [];
  let store: RedisStore;

  async function connect(): Promise<Cluster> {
    const c = createRedisClient({ cluster: cluster.nodes, commandTimeout: 1000 }) as Cluster;
    clients.push(c);
    await waitFor(() => c.status === 'ready', 10_000, 'cluster client ready');
    return c;
  }

  beforeAll(async () => {
    cluster = await startCluster(3);
    const client = await connect();
    const clock = new ManualClock();
    store = new RedisStore({
      client,
      prefix: 'c:',
      clock,
      breaker: new Breaker({ clock }),
      onError: (op, err) => errors.push([op, err]),
    });
  }, 30_000);

  afterAll(async () => {
    store?.dispose();
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  it('stores, reads and deletes many keys spread over every node', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `example.com/item/${i}`);
    const entries = keys.map((_, i) => sampleEntry({ body: Buffer.from(`body ${i}`) }));
    await Promise.all(keys.map((k, i) => store.set(k, entries[i]!, 60_000)));
    const got = await Promise.all(keys.map((k) => store.get(k)));
    got.forEach((g, i) => expect((g as CacheEntry).body.toString()).toBe(`body ${i}`));

    // Every master holds some of them, so the keys really crossed slots and nodes.
    const client = clients[0]!;
    const perNode = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
    expect(perNode.length).toBe(3);
    for (const n of perNode) expect(n).toBeGreaterThan(0);

    await Promise.all(keys.slice(0, 60).map((k) => store.delete(k)));
    await Promise.all(keys.slice(60).map((k) => store.deletePrimary(k)));
    expect((await Promise.all(keys.map((k) => store.get(k)))).every((g) => g === undefined)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('keeps an entry, its variants and its locks in one slot (no CROSSSLOT)', async () => {
    const client = clients[0]!;
    const primary = 'example.com/varies';
    const ids = ['AAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBB', 'CCCCCCCCCCCCCCCCCCCCCC'];
    await store.set(primary, sampleIndex(ids), 60_000);
    for (const id of ids) await store.set(variantKey(primary, id), sampleEntry({ varyValues: [id] }), 60_000);
    expect(await store.lock(variantKey(primary, ids[0]!), 'owner', 5000)).toBe(true);
    expect(await store.lock(primary, 'owner', 5000)).toBe(true);

    const slots = new Set(
      await Promise.all(
        [primary, ...ids.map((id) => variantKey(primary, id))]
          .flatMap((k) => [redisKey('c:', k), lockKey('c:', k)])
          .map((k) => client.cluster('KEYSLOT', k)),
      ),
    );
    expect(slots.size).toBe(1);

    expect(((await store.get(variantKey(primary, ids[1]!))) as CacheEntry).varyValues).toEqual([ids[1]]);
    expect(await store.unlock(variantKey(primary, ids[0]!), 'someone else')).toBe(false);
    expect(await store.unlock(variantKey(primary, ids[0]!), 'owner')).toBe(true);
    expect(await store.deletePrimary(primary)).toBe(4);
    for (const id of ids) expect(await store.get(variantKey(primary, id))).toBeUndefined();
    expect(errors).toEqual([]);
    expect(store.state()).toBe('up');
  });

  it('delivers pub/sub messages between two cluster clients', async () => {
    const a = await connect();
    const b = await connect();
    const busA = new RedisBus({ client: a });
    const busB = new RedisBus({ client: b });
    const channel = filledChannel('c:');
    const seen: string[] = [];
    await busB.subscribe(channel, (m) => seen.push(m));
    await waitFor(() => busB.connected, 5000, 'subscriber ready');
    // Each PUBLISH may land on any node; Redis Cluster forwards it to the subscriber's.
    await waitFor(async () => {
      await busA.publish(channel, 'hello');
      return seen.includes('hello');
    }, 5000, 'first message');
    for (let i = 0; i < 10; i++) expect(await busA.publish(channel, `m${i}`)).toBe(true);
    await waitFor(() => seen.filter((m) => m.startsWith('m')).length === 10, 3000, 'ten messages');
    await busA.close();
    await busB.close();
  });
});
