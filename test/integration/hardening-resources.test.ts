import net from 'node:net';
import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, sleep } from '../helpers/client.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { lockKey } from '../../src/cache/redis-keys.js';

let origin: Origin | undefined;
const proxies: Running[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await origin?.close();
  origin = undefined;
});
const HOST = { host: 'shop.test' };

async function larder(rules: Record<string, unknown> = {}): Promise<Running> {
  const p = await startLarder(origin!.url, rules);
  proxies.push(p);
  return p;
}

describe('coalescing faults', () => {
  it('a leader whose origin request fails releases its followers at once (they retry, nobody hangs)', async () => {
    origin = await startOrigin((req, res, n) => {
      // The first request (the leader's) dies after 200 ms; the rest succeed.
      if (n === 1) setTimeout(() => req.socket.destroy(), 200);
      else {
        res.setHeader('cache-control', 'max-age=60');
        res.end('ok');
      }
    });
    const p = await larder();
    const t = performance.now();
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(p.url, '/flaky', HOST)));
    // Far below cache.lockTimeout (10s by default), which a follower left waiting would take.
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(replies.filter((r) => r.status === 502)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 200 && r.body === 'ok')).toHaveLength(19);
  });

  it('a leader whose origin times out releases its followers within the timeout', async () => {
    origin = await startOrigin((_req, res, n) => {
      if (n === 1) return; // never answers
      res.setHeader('cache-control', 'max-age=60');
      res.end('ok');
    });
    const p = await larder({ timeouts: { connect: '1s', headers: '300ms', body: '1s' } });
    const t = performance.now();
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(p.url, '/hangs', HOST)));
    expect(performance.now() - t).toBeLessThan(1_200);
    expect(replies.map((r) => r.status).sort()).toEqual([...Array(19).fill(200), 504]);
  });

  describe('across instances', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('a lock left by a dead holder lets waiters on both instances go to the origin once it times out', async () => {
      origin = await startOrigin((_req, res) => {
        res.setHeader('cache-control', 'max-age=60');
        res.end('filled');
      });
      // A lock no live holder renews, planted with a lifetime longer than any lease: waiters
      // give up at cache.lockTimeout (600 ms here) and fetch.
      const rules = { cache: { redis: { url: redis.url, commandTimeout: '50ms' }, lockTimeout: '600ms' } };
      const [a, b] = [await larder(rules), await larder(rules)];
      // A holder that died: its lock outlives anything larder would wait for.
      await redis.cli('SET', lockKey('larder:', 'shop.test/dead'), 'dead-instance', 'PX', '60000', 'NX');
      const t = performance.now();
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => get(i % 2 ? a.url : b.url, '/dead', HOST)));
      const took = performance.now() - t;
      expect(replies.every((r) => r.status === 200 && r.body === 'filled')).toBe(true);
      expect(took).toBeGreaterThan(500); // they did wait for the lock...
      expect(took).toBeLessThan(1_500); // ...but no longer than cache.lockTimeout
      expect(origin.count('/dead')).toBeLessThanOrEqual(2); // one fetch per instance at most
    });
  });
});

describe('bounded resources', () => {
  it('keeps at most cache.maxVariants variants per URL, the oldest out first', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'accept-language');
      res.end(`lang=${req.headers['accept-language']}`);
    });
    const p = await larder({ cache: { maxVariants: 3 } });
    const langs = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const l of langs) await get(p.url, '/v', { ...HOST, 'accept-language': l });
    const again = [];
    for (const l of [...langs].reverse()) again.push((await get(p.url, '/v', { ...HOST, 'accept-language': l })).h('x-cache'));
    // f, e, d are the three kept; c, b, a were dropped (and refetching them evicts again).
    expect(again).toEqual(['HIT', 'HIT', 'HIT', 'MISS', 'MISS', 'MISS']);
    expect(p.larder.memory.entries).toBeLessThanOrEqual(3 + 1); // variants + the vary index
  });

  it('closes slowloris connections (headers byte by byte, idle sockets) without hurting normal clients', async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
    const p = await larder({ security: { clientTimeouts: { headers: '500ms', request: '1s', keepAlive: '1s' } } });
    const port = Number(new URL(p.url).port);
    const request = 'GET /slow HTTP/1.1\r\nHost: shop.test\r\nX-Padding: ' + 'a'.repeat(200) + '\r\n\r\n';
    const attackers = Array.from({ length: 20 }, (_, k) => {
      const sock = net.connect(port, '127.0.0.1');
      const started = performance.now();
      let text = '';
      let i = 0;
      sock.on('error', () => undefined);
      sock.on('data', (d) => (text += d.toString('latin1')));
      // Half of them trickle one byte every 50 ms; the other half connect and send nothing.
      const timer = k % 2 === 0 ? setInterval(() => i < request.length && sock.writable && sock.write(request[i++]!), 50) : undefined;
      return new Promise<{ ms: number; text: string; sent: number }>((resolve) =>
        sock.on('close', () => {
          clearInterval(timer);
          resolve({ ms: performance.now() - started, text, sent: i });
        }),
      );
    });
    // Meanwhile a normal client is served at once, again and again.
    const normal: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      expect((await get(p.url, '/fast', HOST)).status).toBe(200);
      normal.push(performance.now() - t);
      await sleep(25);
    }
    const closed = await Promise.all(attackers);
    for (const c of closed) {
      expect(c.ms).toBeLessThan(1_200); // headers timeout (500 ms) + the check interval (125 ms) + slack
      expect(c.sent).toBeLessThan(request.length); // cut off before its headers were complete
      expect(c.text).toMatch(/^(HTTP\/1\.1 408 |)/);
    }
    expect(Math.max(...normal)).toBeLessThan(200);
    expect(origin.count('/slow')).toBe(0);
  });

  it('closes an idle keep-alive connection after security.clientTimeouts.keepAlive', async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
    const p = await larder({ security: { clientTimeouts: { keepAlive: '300ms' } } });
    const sock = net.connect(Number(new URL(p.url).port), '127.0.0.1');
    const t = performance.now();
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.write('GET /ka HTTP/1.1\r\nHost: shop.test\r\n\r\n');
    await new Promise((r) => sock.on('close', r));
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(performance.now() - t).toBeGreaterThan(250);
    // node closes an idle socket up to 1 s after keepAliveTimeout (its buffer for racing clients).
    expect(performance.now() - t).toBeLessThan(1_800);
  });

  it('returns file descriptors to their baseline after 500 connect/disconnect cycles', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('ok');
    });
    const p = await larder();
    const port = Number(new URL(p.url).port);
    await get(p.url, '/warm', HOST); // the origin pool and the cache entry exist before the baseline
    const fds = (): number => readdirSync('/proc/self/fd').length;
    await sleep(100);
    const baseline = fds();
    const cycle = (i: number): Promise<void> =>
      new Promise((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        sock.on('error', () => undefined);
        sock.on('close', () => resolve());
        sock.resume(); // read the answer and the server's FIN
        const mode = i % 4;
        sock.on('connect', () => {
          if (mode === 0) sock.destroy(); // connect and vanish
          else if (mode === 1) sock.end('GET /warm HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n'); // a full request
          else if (mode === 2) {
            sock.write('GET /warm HTTP/1.1\r\nHost: sh'); // half a request, then gone
            setTimeout(() => sock.destroy(), 5);
          } else {
            sock.write('GET /warm HTTP/1.1\r\nHost: shop.test\r\n\r\n'); // keep-alive request, reset mid-response
            sock.once('data', () => sock.resetAndDestroy());
          }
        });
      });
    for (let i = 0; i < 500; i += 25) await Promise.all(Array.from({ length: 25 }, (_, k) => cycle(i + k)));
    await sleep(200);
    expect(fds()).toBeLessThanOrEqual(baseline + 2);
    expect(p.larder.server.listening).toBe(true);
    expect((await get(p.url, '/warm', HOST)).status).toBe(200);
  });
});
