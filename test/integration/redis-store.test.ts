import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Breaker } from '../../src/cache/breaker.js';
import { encode } from '../../src/cache/codec.js';
import { variantKey } from '../../src/cache/key.js';
import { RedisBus } from '../../src/cache/redis-bus.js';
import { indexKey, invalidateChannel, redisKey } from '../../src/cache/redis-keys.js';
import { commandTimeoutOf, createRedisClient, RedisStore, type RedisOp, type RedisState } from '../../src/cache/redis-store.js';
import { ManualClock } from '../../src/clock.js';
import { sleep, startRedis, waitFor, type RedisServer } from '../helpers/redis.js';
import { sampleEntry, sampleIndex } from '../unit/cache/entries.js';

const COMMAND_TIMEOUT = 300;
/** Scheduling slack on a loaded CI machine; the bound under test is COMMAND_TIMEOUT. */
const MARGIN = 150;

interface Fixture {
  client: Redis;
  store: RedisStore;
  clock: ManualClock;
  errors: Array<[RedisOp, unknown]>;
  states: RedisState[];
}

const clients: Redis[] = [];
async function connect(server: RedisServer): Promise<Redis> {
  const client = createRedisClient({ url: server.url, commandTimeout: COMMAND_TIMEOUT }) as Redis;
  clients.push(client);
  await waitFor(() => client.status === 'ready', 5000, 'client ready');
  return client;
}

async function fixture(server: RedisServer, prefix = 't:'): Promise<Fixture> {
  const client = await connect(server);
  const clock = new ManualClock();
  const errors: Array<[RedisOp, unknown]> = [];
  const states: RedisState[] = [];
  const store = new RedisStore({
    client,
    prefix,
    clock,
    breaker: new Breaker({ clock, threshold: 5, coolDown: 5000 }),
    onError: (op, err) => errors.push([op, err]),
  });
  store.onStateChange((s) => states.push(s));
  return { client, store, clock, errors, states };
}

/** How long `fn` takes, in ms. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

afterAll(() => {
  for (const c of clients) c.disconnect();
});

describe('RedisStore against a healthy server', () => {
  let server: RedisServer;
  let f: Fixture;

  beforeAll(async () => {
    server = await startRedis();
    f = await fixture(server);
  });
  afterAll(async () => {
    f.store.dispose();
    await server.stop();
  });
  afterEach(() => {
    f.errors.length = 0;
  });

  it('reports state up', () => {
    expect(f.store.state()).toBe('up');
  });

  it('treats a foreign string under an entry key as a clean miss and reports it as decode', async () => {
    const k = 'example.com/planted-string';
    await server.cli('SET', redisKey('t:', k), 'not larder data');
    expect(await f.store.get(k)).toBeUndefined();
    expect(f.errors.map((e) => e[0])).toEqual(['decode']);
    expect(f.store.state()).toBe('up');
  });

  it('treats a list under an entry key (WRONGTYPE) as a clean miss and reports it as decode', async () => {
    const k = 'example.com/planted-list';
    await server.cli('LPUSH', redisKey('t:', k), 'a', 'b');
    expect(await f.store.get(k)).toBeUndefined();
    expect(f.errors.map((e) => e[0])).toEqual(['decode']);
    // Foreign data is not a Redis fault: the breaker must not count it.
    for (let i = 0; i < 10; i++) await f.store.get(k);
    expect(f.store.state()).toBe('up');
  });

  it('treats a truncated encoding as a miss', async () => {
    const k = 'example.com/truncated';
    const buf = encode(sampleEntry());
    await f.client.set(redisKey('t:', k), buf.subarray(0, buf.length - 3), 'PX', 60_000);
    expect(await f.store.get(k)).toBeUndefined();
    expect(f.errors.map((e) => e[0])).toEqual(['decode']);
  });

  it('gives every key it writes a TTL', async () => {
    const ks = await fixture(server, 'ttl:');
    const primary = 'example.com/ttl';
    await ks.store.set(primary, sampleIndex(['a', 'b']), 10_000);
    await ks.store.set(variantKey(primary, 'a'), sampleEntry(), 10_000);
    await ks.store.set(variantKey(primary, 'b'), sampleEntry(), 9_999.5);
    await ks.store.set('example.com/plain', sampleEntry(), 20_000);
    await ks.store.set('example.com/forever', sampleEntry(), Infinity);
    expect(await ks.store.lock(primary, 'me', 5_000)).toBe(true);
    // SCAN is for this test only: production code never walks the keyspace.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await ks.client.scan(cursor, 'MATCH', 'ttl:*', 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    expect(keys.length).toBe(5);
    for (const k of keys) {
      const pttl = await ks.client.pttl(k);
      expect(pttl, k).toBeGreaterThan(0);
      expect(pttl, k).toBeLessThanOrEqual(20_000);
    }
    expect(ks.errors.map((e) => e[0])).toEqual(['set']);
    ks.store.dispose();
  });

  it('deletePrimary removes the index and every variant it lists, and nothing else', async () => {
    const primary = 'example.com/purge';
    const other = 'example.com/keep';
    await f.store.set(primary, sampleIndex(['a', 'b']), 60_000);
    await f.store.set(variantKey(primary, 'a'), sampleEntry(), 60_000);
    await f.store.set(variantKey(primary, 'b'), sampleEntry(), 60_000);
    await f.store.set(other, sampleEntry(), 60_000);
    expect(await f.store.deletePrimary(primary)).toBe(3);
    expect(await f.store.get(primary)).toBeUndefined();
    expect(await f.store.get(variantKey(primary, 'a'))).toBeUndefined();
    expect(await f.store.get(variantKey(primary, 'b'))).toBeUndefined();
    expect(await f.store.get(other)).toBeDefined();
    expect(await f.client.exists(indexKey('t:', primary))).toBe(0);
    // A plain entry under the primary key.
    expect(await f.store.deletePrimary(other)).toBe(1);
    expect(await f.store.get(other)).toBeUndefined();
    expect(await f.store.deletePrimary('example.com/never')).toBe(0);
  });

  it('lock: one owner at a time, compare-and-delete unlock, expiry by PX', async () => {
    const k = variantKey('example.com/locked', 'v1');
    expect(await f.store.tryLock(k, 'a', 5_000)).toBe('acquired');
    expect(await f.store.tryLock(k, 'b', 5_000)).toBe('held');
    expect(await f.store.lock(k, 'b', 5_000)).toBe(false);
    expect(await f.store.unlock(k, 'b')).toBe(false);
    expect(await f.store.lock(k, 'b', 5_000)).toBe(false);
    expect(await f.store.unlock(k, 'a')).toBe(true);
    expect(await f.store.lock(k, 'b', 150)).toBe(true);
    expect(await f.store.lock(k, 'c', 5_000)).toBe(false);
    await sleep(250);
    expect(await f.store.lock(k, 'c', 5_000)).toBe(true);
    expect(await f.store.unlock(k, 'b')).toBe(false);
    expect(f.errors).toEqual([]);
  });
});

describe('RedisStore when Redis fails', () => {
  let server: RedisServer;
  let f: Fixture;

  beforeAll(async () => {
    server = await startRedis();
    f = await fixture(server);
  });
  afterAll(async () => {
    server.resume();
    f.store.dispose();
    await server.stop();
  });

  it('a hung server costs at most the command timeout per call', async () => {
    await f.store.set('example.com/hang', sampleEntry(), 60_000);
    server.pause();
    try {
      const [got, ms] = await timed(() => f.store.get('example.com/hang'));
      expect(got).toBeUndefined();
      expect(ms).toBeLessThan(COMMAND_TIMEOUT + MARGIN);
      const [, setMs] = await timed(() => f.store.set('example.com/hang2', sampleEntry(), 60_000));
      expect(setMs).toBeLessThan(COMMAND_TIMEOUT + MARGIN);
    } finally {
      server.resume();
    }
    expect(f.errors.map((e) => e[0])).toEqual(['get', 'set']);
    await waitFor(async () => (await f.store.get('example.com/hang')) !== undefined, 3000, 'recovery after SIGCONT');
    expect(f.store.state()).toBe('up');
    f.errors.length = 0;
  });

  it('calls started at different times on a hung server each fail at their own deadline, with no ioredis timer per command', async () => {
    // createRedisClient leaves the per-command timer to the store (one timer for all its calls).
    expect(f.client.options.commandTimeout).toBeUndefined();
    expect(commandTimeoutOf(f.client)).toBe(COMMAND_TIMEOUT);
    await f.store.set('example.com/stagger', sampleEntry(), 60_000);
    server.pause();
    try {
      const t0 = performance.now();
      const ends: number[] = [];
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < 3; i++) {
        calls.push(f.store.get('example.com/stagger').then((v) => ends.push(performance.now() - t0) && v));
        await sleep(COMMAND_TIMEOUT / 3);
      }
      const got = await Promise.all(calls);
      expect(got).toEqual([undefined, undefined, undefined]);
      // Each call ends at its own start + the timeout, not all with the first one.
      expect(ends[0]).toBeGreaterThanOrEqual(COMMAND_TIMEOUT - 5);
      expect(ends[2]! - ends[0]!).toBeGreaterThanOrEqual((2 * COMMAND_TIMEOUT) / 3 - 30);
      expect(ends[2]).toBeLessThan(COMMAND_TIMEOUT * (5 / 3) + MARGIN);
    } finally {
      server.resume();
    }
    expect(f.errors.map((e) => e[0])).toEqual(['get', 'get', 'get']);
    // The late replies are dropped; the store answers again once the server does.
    await waitFor(async () => (await f.store.get('example.com/stagger')) !== undefined, 3000, 'recovery after SIGCONT');
    f.errors.length = 0;
  });

  it("the bus bounds a publish by the client's command timeout (not ioredis's, which the client no longer sets)", async () => {
    const errors: RedisOp[] = [];
    const bus = new RedisBus({ client: f.client, onError: (op) => errors.push(op) });
    server.pause();
    try {
      const [sent, ms] = await timed(() => bus.publish('t:stagger', 'x'));
      expect(sent).toBe(false);
      expect(ms).toBeLessThan(COMMAND_TIMEOUT + MARGIN);
    } finally {
      server.resume();
      await bus.close();
    }
    expect(errors).toContain('publish');
  });

  it('a killed server: fast misses, the breaker opens, and the same store recovers after restart', async () => {
    await f.store.set('example.com/k', sampleEntry(), 60_000);
    await server.kill();
    await waitFor(() => f.store.state() === 'down', 3000, 'state down');

    for (let i = 0; i < 5; i++) {
      const [got, ms] = await timed(() => f.store.get('example.com/k'));
      expect(got).toBeUndefined();
      expect(ms).toBeLessThan(COMMAND_TIMEOUT + MARGIN);
    }
    expect(f.store.state()).toBe('breaker-open');
    expect(f.states).toContain('down');
    expect(f.states.at(-1)).toBe('breaker-open');

    // Open: no network at all, so no new errors and an immediate answer.
    const before = f.errors.length;
    const [, ms] = await timed(async () => {
      await f.store.set('example.com/k2', sampleEntry(), 60_000);
      await f.store.get('example.com/k');
      await f.store.delete('example.com/k');
      expect(await f.store.lock('example.com/k', 'x', 1000)).toBe(true);
      expect(await f.store.tryLock('example.com/k', 'x', 1000)).toBe('unavailable');
    });
    expect(ms).toBeLessThan(50);
    expect(f.errors.length).toBe(before);

    await server.restart();
    await waitFor(() => f.client.status === 'ready', 5000, 'client reconnected');
    // Still within the cool-down: the breaker keeps Redis skipped.
    expect(f.store.state()).toBe('breaker-open');
    expect(await f.store.get('example.com/k')).toBeUndefined();

    f.clock.advance(5000);
    await f.store.set('example.com/k', sampleEntry(), 60_000);
    expect(f.store.state()).toBe('up');
    expect(await f.store.get('example.com/k')).toEqual(sampleEntry());
    expect(f.states.at(-1)).toBe('up');
  });
});

describe('RedisBus', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('delivers across clients and reports a reconnect after the server restarts', async () => {
    const a = await connect(server);
    const b = await connect(server);
    const busA = new RedisBus({ client: a });
    const busB = new RedisBus({ client: b });
    const channel = invalidateChannel('bus:');
    const seen: string[] = [];
    let reconnects = 0;
    busB.onReconnect(() => reconnects++);
    await busB.subscribe(channel, (m) => seen.push(m));
    await waitFor(() => busB.connected, 3000, 'subscriber ready');
    // The subscription may have been sent by the ready handler rather than subscribe().
    await waitFor(async () => {
      await busA.publish(channel, 'ping');
      return seen.includes('ping');
    }, 3000, 'first message');
    expect(await busA.publish(channel, 'example.com/a')).toBe(true);
    await waitFor(() => seen.includes('example.com/a'), 2000, 'message');
    expect(reconnects).toBe(0);

    await server.restart();
    await waitFor(() => reconnects === 1, 8000, 'onReconnect');
    await waitFor(() => a.status === 'ready', 5000, 'publisher reconnected');
    expect(await busA.publish(channel, 'after-restart')).toBe(true);
    await waitFor(() => seen.includes('after-restart'), 2000, 'message after restart');
    expect(reconnects).toBe(1);

    // Down long enough for the subscriber to give up on its connection and open a new one.
    await server.kill();
    await sleep(1000);
    await server.restart();
    await waitFor(() => reconnects === 2, 8000, 'onReconnect after a long outage');
    await waitFor(() => a.status === 'ready', 5000, 'publisher reconnected');
    expect(await busA.publish(channel, 'after-outage')).toBe(true);
    await waitFor(() => seen.includes('after-outage'), 2000, 'message after outage');

    await busA.close();
    await busB.close();
    // Publishing on a dead connection fails quietly.
    await server.kill();
    await waitFor(() => a.status !== 'ready', 3000, 'publisher down');
    expect(await busA.publish(channel, 'lost')).toBe(false);
  });
});
