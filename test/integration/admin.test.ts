import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import { startRedis, waitFor, type RedisServer } from '../helpers/redis.js';
import { ManualClock } from '../../src/clock.js';

let origin: Origin;
const running: Running[] = [];
let redis: RedisServer;

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

const TOKEN = 'test-token-123';

async function withAdmin(rules: Record<string, unknown> = {}, opts: Parameters<typeof startLarder>[2] = {}): Promise<Running & { admin: string }> {
  const r = await startLarder(origin.url, { admin: { listen: '127.0.0.1:0', token: TOKEN }, ...rules }, opts);
  running.push(r);
  const addr = await r.larder.listenAdmin(0, '127.0.0.1');
  return Object.assign(r, { admin: `http://127.0.0.1:${addr!.port}` });
}

async function purge(admin: string, body: unknown, token: string | null = TOKEN) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(admin + '/purge', { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The value of one sample in Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** With admin.token set, /explain and /status need it. */
const authed = { headers: { authorization: `Bearer ${TOKEN}` } };

const metricsOf = async (admin: string) => (await fetch(admin + '/metrics')).text();

describe('admin listener', () => {
  it('answers healthz and readyz, and reports the origin and Redis', async () => {
    origin = await startOrigin();
    const a = await withAdmin({ cache: { redis: { url: redis.url } } });
    expect((await fetch(a.admin + '/healthz')).status).toBe(200);
    const ready = await fetch(a.admin + '/readyz');
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as Record<string, unknown>;
    expect(body['redis']).toBe('up');
    expect(body['origins']).toEqual({ [origin.url]: 'reachable' });
  });

  it('refuses a purge without the token (401), and with no token configured (403)', async () => {
    origin = await startOrigin();
    const a = await withAdmin();
    expect((await purge(a.admin, { urls: ['/x'] }, null)).status).toBe(401);
    expect((await purge(a.admin, { urls: ['/x'] }, 'wrong-token-xyz')).status).toBe(401);
    const open = await startLarder(origin.url, { admin: { listen: '127.0.0.1:0' } });
    running.push(open);
    const addr = await open.larder.listenAdmin(0, '127.0.0.1');
    const r = await purge(`http://127.0.0.1:${addr!.port}`, { urls: ['/x'] });
    expect(r.status).toBe(403);
    expect(r.body['code']).toBe('LARDER_PURGE_DISABLED');
  });

  it('rejects malformed purge bodies with a 400 that names the problem', async () => {
    origin = await startOrigin();
    const a = await withAdmin();
    for (const [body, says] of [
      [{}, 'nothing to purge'],
      [{ urls: 'x' }, 'urls must be a list'],
      [{ prefixes: ['api'] }, 'must be a path prefix'],
      [{ urls: ['ftp://x/'] }, 'must be a path'],
      [{ tags: ['a'], soft: 'yes' }, 'soft must be true or false'],
      [{ tag: ['a'] }, 'unknown field "tag"'],
    ] as const) {
      const r = await purge(a.admin, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(String(r.body['error'])).toContain(says);
    }
  });

  it('explains what a URL would get', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('x');
    });
    const a = await withAdmin();
    const host = new URL(a.url).host;
    await get(a.url, '/e');
    const r = (await (await fetch(`${a.admin}/explain?url=${encodeURIComponent(`http://${host}/e`)}`, authed)).json()) as Record<string, any>;
    expect(r['route'].name).toBe('default');
    expect(r['key'].primary).toBe(`${host}/e`);
    expect(r['memory'].stored).toBe(true);
    expect(r['memory'].lifetimeFrom).toBe('max-age');
    expect(r['wouldBe']).toBe('HIT (fresh)');
  });

  it('explains with the handler\'s own policy (Vary, Authorization) and changes nothing it looks at', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'accept-language');
      res.end('x');
    });
    const a = await withAdmin({ cache: { redis: { url: redis.url } } });
    const b = await withAdmin({ cache: { redis: { url: redis.url } } });
    const host = new URL(a.url).host;
    await get(a.url, '/v', { host, 'accept-language': 'fr' });
    await waitFor(async () => (await redis.cli('DBSIZE')).trim() !== '0', 2_000, 'the entry in Redis');
    const explain = async (admin: string, ...headers: string[]) =>
      (await (await fetch(`${admin}/explain?url=${encodeURIComponent(`http://${host}/v`)}${headers.map((h) => `&header=${encodeURIComponent(h)}`).join('')}`, authed)).json()) as Record<string, any>;
    const entriesBefore = a.larder.memory.entries;
    expect((await explain(a.admin, 'accept-language: fr'))['wouldBe']).toBe('HIT (fresh)');
    // Another language selects another variant, of which nothing is stored.
    expect((await explain(a.admin, 'accept-language: de'))['wouldBe']).toBe('MISS (nothing stored for this key)');
    expect((await explain(a.admin, 'accept-language: fr', 'authorization: Bearer x'))['wouldBe']).toMatch(/^MISS \(a request with Authorization/);
    // B finds the entry in Redis, and explaining it does not copy it into B's memory.
    const fromRedis = await explain(b.admin, 'accept-language: fr');
    expect([fromRedis['memory'].stored, fromRedis['redis'].stored]).toEqual([false, true]);
    expect((await explain(b.admin, 'accept-language: fr'))['memory'].stored).toBe(false);
    expect(b.larder.memory.entries).toBe(0);
    expect(a.larder.memory.entries).toBe(entriesBefore);
  });

  it('answers an oversized purge body with 413 and closes the connection (no reset before the answer)', async () => {
    origin = await startOrigin();
    const a = await withAdmin();
    const port = Number(new URL(a.admin).port);
    const big = Buffer.alloc(1024 * 1024 + 100, 'a');
    const chunked = `${big.length.toString(16)}\r\n`;
    const cases: Array<[string, Array<string | Buffer>]> = [
      ['Content-Length', [`POST /purge HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: ${big.length}\r\n\r\n`, big]],
      ['chunked', [`POST /purge HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${TOKEN}\r\ntransfer-encoding: chunked\r\n\r\n${chunked}`, big, '\r\n0\r\n\r\n']],
      ['a Content-Length far over the limit, body not sent', [`POST /purge HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: ${100 * 1024 * 1024}\r\n\r\n`]],
    ];
    for (const [name, pieces] of cases) {
      const text = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let got = '';
        const timer = setTimeout(() => reject(new Error(`${name}: the connection was not closed`)), 5_000);
        sock.setEncoding('latin1');
        sock.on('data', (d: string) => (got += d));
        sock.on('error', (e) => reject(new Error(`${name}: ${String(e)} after ${JSON.stringify(got.slice(0, 40))}`)));
        sock.on('close', () => {
          clearTimeout(timer);
          resolve(got);
        });
        sock.on('connect', () => {
          for (const p of pieces) sock.write(p);
        });
      });
      expect(text, name).toMatch(/^HTTP\/1\.1 413 /);
      expect(text.toLowerCase(), name).toContain('connection: close');
      expect(text, name).toContain('"code": "LARDER_TOO_LARGE"');
    }
    // A purge at the limit is still accepted.
    expect((await purge(a.admin, { urls: ['/x'], tags: ['t'.repeat(1000)] })).status).toBe(200);
  });
});

describe('metrics', () => {
  it('moves each metric as the matching requests happen', async () => {
    const clock = new ManualClock(Date.now());
    origin = await startOrigin(
      (req, res, n) => {
        if (req.url === '/fail') {
          res.statusCode = 503;
          return void res.end('down');
        }
        res.setHeader('cache-control', req.url === '/swr' ? 'max-age=1, stale-while-revalidate=60' : 'max-age=60');
        setTimeout(() => res.end(`n${n}`), req.url === '/slow' ? 100 : 0);
      },
      { clock },
    );
    const a = await withAdmin({ routes: [{ name: 'api', match: '/**' }, { name: 'x', match: '/never' }] }, { clock });
    await get(a.url, '/m');
    await get(a.url, '/m');
    await Promise.all([get(a.url, '/slow'), get(a.url, '/slow'), get(a.url, '/slow')]);
    await get(a.url, '/swr');
    clock.advance(2_000);
    await get(a.url, '/swr');
    await get(a.url, '/fail');
    await get(a.url, '/post', {}, 'POST');
    await waitFor(() => origin.count('/swr') === 2, 2000, 'the refresh');
    const m = await metricsOf(a.admin);
    expect(sample(m, 'larder_requests_total', { route: 'api', cache: 'miss' })).toBe(6); // /m, 3×/slow, /swr, /fail
    expect(sample(m, 'larder_requests_total', { route: 'api', cache: 'hit' })).toBe(1);
    expect(sample(m, 'larder_requests_total', { route: 'api', cache: 'stale' })).toBe(1);
    expect(sample(m, 'larder_requests_total', { route: 'api', cache: 'bypass' })).toBe(1);
    expect(sample(m, 'larder_cache_hits_total', { route: 'api', tier: 'memory' })).toBe(2);
    expect(sample(m, 'larder_coalesced_requests_total', { route: 'api' })).toBe(2);
    expect(sample(m, 'larder_stale_served_total', { route: 'api', reason: 'revalidate' })).toBe(1);
    expect(sample(m, 'larder_origin_requests_total', { route: 'api', status_class: '2xx' })).toBe(5); // /m, /slow, /swr ×2, /post
    expect(sample(m, 'larder_origin_requests_total', { route: 'api', status_class: '5xx' })).toBe(1);
    expect(sample(m, 'larder_origin_duration_seconds_count', { route: 'api' })).toBe(6);
    expect(sample(m, 'larder_request_duration_seconds_count', { route: 'api', cache: 'miss' })).toBe(6);
    expect(sample(m, 'larder_memory_entries')).toBeGreaterThanOrEqual(3);
    expect(sample(m, 'larder_memory_bytes')).toBeGreaterThan(3000);
    expect(m).toContain('process_cpu_user_seconds_total');
    expect(m).not.toContain('/slow');
    // Without Redis the Redis metrics are absent, not a misleading 0.
    expect(m).not.toContain('larder_redis_up');
  });

  it('counts evictions, purges, reloads and Redis health', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('y'.repeat(3000));
    });
    const a = await withAdmin({ cache: { memory: { maxSize: '8kb', maxEntrySize: '8kb' }, redis: { url: redis.url } } });
    for (let i = 0; i < 6; i++) await get(a.url, `/ev${i}`);
    await purge(a.admin, { prefixes: ['/ev'], tags: ['t'] });
    a.larder.reload(a.larder.config());
    const m = await metricsOf(a.admin);
    expect(sample(m, 'larder_memory_evictions_total')).toBeGreaterThanOrEqual(3);
    expect(sample(m, 'larder_purges_total', { kind: 'prefix' })).toBe(1);
    expect(sample(m, 'larder_purges_total', { kind: 'tag' })).toBe(1);
    expect(sample(m, 'larder_config_reloads_total', { result: 'ok' })).toBe(1);
    expect(sample(m, 'larder_redis_up')).toBe(1);
    expect(sample(m, 'larder_redis_breaker_open')).toBe(0);
    await redis.kill();
    for (let i = 0; i < 8; i++) await get(a.url, `/down${i}`);
    const down = await metricsOf(a.admin);
    expect(sample(down, 'larder_redis_up')).toBe(0);
    expect(sample(down, 'larder_redis_breaker_open')).toBe(1);
    expect(sample(down, 'larder_redis_errors_total', { op: 'get' })).toBeGreaterThan(0);
    await redis.restart();
  });
});

describe('purge across instances', () => {
  async function pair(clock?: ManualClock) {
    const rules = { cache: { redis: { url: redis.url, commandTimeout: '200ms' } } };
    const a = await withAdmin(rules, clock ? { clock } : {});
    const b = await withAdmin(rules, clock ? { clock } : {});
    return [a, b] as const;
  }
  const H = { host: 'shop.test' };

  it('purges a URL with every Vary variant on both instances', async () => {
    origin = await startOrigin((req, res, n) => {
      res.setHeader('cache-control', 'max-age=600');
      res.setHeader('vary', 'accept-language');
      res.end(`${req.headers['accept-language']} v${n}`);
    });
    const [a, b] = await pair();
    for (const lang of ['en', 'de']) {
      await get(a.url, '/p?id=1', { ...H, 'accept-language': lang });
      await get(b.url, '/p?id=1', { ...H, 'accept-language': lang });
    }
    expect((await get(b.url, '/p?id=1', { ...H, 'accept-language': 'de' })).h('x-cache')).toBe('HIT');
    const r = await purge(a.admin, { urls: ['http://shop.test/p?id=1'] });
    expect(r.status).toBe(200);
    expect(r.body['purged']).toBeGreaterThanOrEqual(2);
    await waitFor(async () => (await get(b.url, '/p?id=1', { ...H, 'accept-language': 'de' })).h('x-cache') === 'MISS', 2000, 'the purge on B');
    expect((await get(b.url, '/p?id=1', { ...H, 'accept-language': 'en' })).h('x-cache')).toBe('MISS');
  });

  it('purges a path on every host, a prefix and a tag, on both instances', async () => {
    origin = await startOrigin((req, res, n) => {
      res.setHeader('cache-control', 'max-age=600');
      if (req.url?.startsWith('/tagged')) res.setHeader('surrogate-key', 'catalog other');
      res.end(`v${n}`);
    });
    const [a, b] = await pair();
    const paths = ['/api/items/1', '/api/items/2', '/api/other', '/tagged/1', '/tagged/2', '/keep'];
    for (const p of paths) {
      await get(a.url, p, H);
      await get(a.url, p, { host: 'other.test' });
    }
    await waitFor(async () => (await get(b.url, '/keep', { host: 'other.test' })).h('x-cache') === 'HIT', 2000, 'L2 writes');
    for (const p of paths) expect((await get(b.url, p, H)).h('x-cache'), p).toBe('HIT');

    const r = await purge(a.admin, { urls: ['/api/other'], prefixes: ['/api/items/'], tags: ['catalog'] });
    expect(r.status).toBe(200);
    expect(r.body['purged']).toBe(10);
    await waitFor(async () => (await get(b.url, '/api/items/1', H)).h('x-cache') === 'MISS', 2000, 'the purge on B');
    for (const host of ['shop.test', 'other.test']) {
      for (const p of ['/api/items/2', '/api/other', '/tagged/1', '/tagged/2']) {
        expect((await get(b.url, p, { host })).h('x-cache'), `${host}${p} on B`).toBe('MISS');
      }
      expect((await get(b.url, '/keep', { host })).h('x-cache')).toBe('HIT');
    }
    // A later short-lived URL rule must not cut the stored rules' lifetime (7 days by default).
    await purge(a.admin, { urls: ['http://shop.test/keep-not'] });
    expect(Number(await redis.cli('PTTL', 'larder:purges'))).toBeGreaterThan(6 * 86_400_000);
    // A third instance started after the purge obeys it too (the rules are kept in Redis).
    const c = await withAdmin({ cache: { redis: { url: redis.url } } });
    expect((await get(c.url, '/keep', H)).h('x-cache')).toBe('HIT');
    expect((await get(c.url, '/api/items/1', { host: 'other.test' })).h('x-cache')).toBe('MISS');
  });

  it('soft-purges: the entry is served stale while it refreshes, on both instances', async () => {
    const clock = new ManualClock(Date.now());
    let version = 1;
    origin = await startOrigin(
      (_req, res) => {
        res.setHeader('cache-control', 'max-age=600, stale-while-revalidate=60');
        res.end(`v${version}`);
      },
      { clock },
    );
    const [a, b] = await pair(clock);
    await get(a.url, '/soft', H);
    await waitFor(async () => (await get(b.url, '/soft', H)).h('x-cache') === 'HIT', 2000, 'L2 write');
    version = 2;
    clock.advance(1_000);
    const r = await purge(a.admin, { urls: ['http://shop.test/soft'], soft: true });
    expect(r.body['soft']).toBe(true);
    await waitFor(async () => (await get(b.url, '/soft', H)).h('x-cache') !== 'HIT', 2000, 'the soft purge on B');
    await waitFor(async () => (await get(b.url, '/soft', H)).body === 'v2', 2000, 'the refresh');
    // A still holds v1 in memory, now marked stale: served once while it refreshes too.
    const stale = await get(a.url, '/soft', H);
    expect([stale.body, stale.h('x-cache')]).toEqual(['v1', 'STALE']);
    await waitFor(async () => (await get(a.url, '/soft', H)).body === 'v2', 2000, 'the refresh on A');
  });

  it('lets a purge win over a fill that was already under way', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=600');
      if (n === 1) void held.then(() => res.end('old body'));
      else res.end('new body');
    });
    const [a] = await pair();
    const slow = get(a.url, '/race', H);
    await waitFor(() => origin.count() === 1, 2000, 'the fill to start');
    await purge(a.admin, { urls: ['http://shop.test/race'] });
    release();
    expect((await slow).body).toBe('old body');
    const next = await get(a.url, '/race', H);
    expect([next.body, next.h('x-cache')]).toEqual(['new body', 'MISS']);
  });
});
