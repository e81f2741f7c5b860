/**
 * Upstreams against real origins on 127.0.0.1: balancing, servers killed and brought back
 * (passive and active health), every server down, retries, and the Host policy with its key.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin, type OriginHandler } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, sleep } from '../helpers/client.js';
import { SkippingClock } from '../helpers/clock.js';
import { ErrorCodes } from '../../src/errors.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function origin(fn?: OriginHandler, port?: number): Promise<Origin> {
  const o = await startOrigin(fn ?? ((req, res) => res.end(`${port ?? 'o'} ${req.url}`)), port === undefined ? {} : { port });
  open.push(o);
  return o;
}

/** Two origins that name themselves in the body. */
async function pair(): Promise<[Origin, Origin]> {
  const a = await origin((req, res) => res.end(`a ${req.url}`));
  const b = await origin((req, res) => res.end(`b ${req.url}`));
  return [a, b];
}

async function larder(upstream: Record<string, unknown>, rules: Record<string, unknown> = {}, clock?: SkippingClock): Promise<Running> {
  const l = await startLarder('api', { upstreams: { api: upstream }, ...rules }, { defaultMetrics: false, ...(clock ? { clock } : {}) });
  open.push(l);
  return l;
}

/** Waits until `check` holds, polling; fails after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const pass = { routes: [{ name: 'all', match: '/**', cache: false }] };

describe('balancing', () => {
  it('round-robin sends requests to the servers in turn', async () => {
    const [a, b] = await pair();
    const l = await larder({ servers: [a.url, b.url] }, pass);
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await get(l.url, `/x${i}`)).body);
    expect(bodies).toEqual(['a /x0', 'b /x1', 'a /x2', 'b /x3']);
    expect([a.count(), b.count()]).toEqual([2, 2]);
  });

  it('least-connections avoids the server that is busy', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const a = await origin((req, res) => void held.then(() => res.end(`a ${req.url}`)));
    const b = await origin((req, res) => res.end(`b ${req.url}`));
    const l = await larder({ servers: [a.url, b.url], balance: 'least-connections' }, pass);
    const slow = get(l.url, '/slow');
    await until(() => a.count() === 1);
    const quick: string[] = [];
    for (const path of ['/q1', '/q2', '/q3']) quick.push((await get(l.url, path)).body);
    expect(quick).toEqual(['b /q1', 'b /q2', 'b /q3']);
    release();
    expect((await slow).body).toBe('a /slow');
    expect([a.count(), b.count()]).toEqual([1, 3]);
  });

  it('a URL origin still works as before: one server, the client Host, no retry', async () => {
    const o = await origin((req, res) => res.end(`host ${req.headers.host}`));
    const l = await startLarder(o.url, pass, { defaultMetrics: false });
    open.push(l);
    const r = await get(l.url, '/h', { host: 'shop.example' });
    expect(r.body).toBe('host shop.example');
    expect(l.larder.config().defaultRoute.upstream).toMatchObject({ implicit: true, servers: [o.url], connections: 256, host: 'preserve' });
  });
});

describe('health', () => {
  it('passive: a refused connect marks the server down; after the back-off one request tries it again', async () => {
    const clock = new SkippingClock();
    const [a, b] = await pair();
    const port = a.port;
    const l = await larder({ servers: [a.url, b.url], retry: { attempts: 2 } }, pass, clock);
    await a.close();
    // a refuses: the request is retried on b, and a is down.
    const first = await get(l.url, '/p0');
    expect(first.status).toBe(200);
    expect(first.body).toBe('b /p0');
    for (let i = 1; i <= 4; i++) expect((await get(l.url, `/p${i}`)).body).toBe(`b /p${i}`);
    expect(b.count()).toBe(5);
    const ready = (await l.larder.ready()) as unknown as { upstreams: Record<string, { up: number; servers: Record<string, { state: string }> }> };
    expect(ready.upstreams['api']?.up).toBe(1);
    expect(ready.upstreams['api']?.servers[`http://127.0.0.1:${port}`]?.state).toBe('down');
    // Back on its port; the back-off (5 s, on the injected clock) passes; a's probe succeeds.
    const again = await origin((req, res) => res.end(`a2 ${req.url}`), port);
    clock.advance(5_001);
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await get(l.url, `/r${i}`)).body);
    expect(bodies.filter((x) => x.startsWith('a2')).length).toBeGreaterThanOrEqual(1);
    expect(again.count()).toBeGreaterThanOrEqual(1);
  });

  it('active: a killed server stops getting traffic within the check window and gets it back once healthy', async () => {
    const [a, b] = await pair();
    const port = a.port;
    const l = await larder(
      { servers: [a.url, b.url], healthCheck: { path: '/healthz', interval: '50ms', timeout: '200ms', unhealthyAfter: 2, healthyAfter: 2 } },
      pass,
    );
    await until(() => a.count('/healthz') >= 2 && b.count('/healthz') >= 2);
    await a.close();
    const down = () => l.larder.ready().then((r) => (r as unknown as { upstreams: Record<string, { up: number }> }).upstreams['api']?.up === 1);
    await until(down, 3_000);
    const metrics = await l.larder.recorder.metrics.registry.metrics();
    expect(metrics).toContain(`larder_upstream_up{upstream="api",server="http://127.0.0.1:${port}"} 0`);
    // No retry configured, and yet nothing fails: a is no longer picked.
    for (let i = 0; i < 4; i++) {
      const r = await get(l.url, `/d${i}`);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`b /d${i}`);
    }
    const back = await origin((req, res) => res.end(`a2 ${req.url}`), port);
    await until(() => back.count('/healthz') >= 2, 3_000);
    await until(() => l.larder.ready().then((r) => (r as unknown as { upstreams: Record<string, { up: number }> }).upstreams['api']?.up === 2), 3_000);
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await get(l.url, `/u${i}`)).body);
    expect(bodies.filter((x) => x.startsWith('a2 /u'))).toHaveLength(2);
    expect(await l.larder.recorder.metrics.registry.metrics()).toContain(`larder_upstream_up{upstream="api",server="http://127.0.0.1:${port}"} 1`);
  });

  it('every server down: 502 naming the upstream, or the stale entry within stale-if-error', async () => {
    const [a, b] = await pair();
    a.handle((req, res) => {
      res.setHeader('cache-control', 'max-age=1, stale-if-error=600');
      res.end(`a ${req.url}`);
    });
    const clock = new SkippingClock();
    const l = await larder({ servers: [a.url, b.url], retry: { attempts: 2 } }, {}, clock);
    expect((await get(l.url, '/kept')).body).toBe('a /kept');
    await Promise.all([a.close(), b.close()]);
    clock.advance(2_000);
    const stale = await get(l.url, '/kept');
    expect(stale.status).toBe(200);
    expect(stale.h('x-cache')).toBe('STALE');
    expect(stale.body).toBe('a /kept');
    // Both are down now: nothing is even tried.
    const none = await get(l.url, '/never-stored');
    expect(none.status).toBe(502);
    expect(none.body).toContain(ErrorCodes.ORIGIN_UNREACHABLE);
    expect(none.body).toContain('no healthy server in upstream api');
    const post = await get(l.url, '/post', {}, 'POST');
    expect(post.status).toBe(502);
  });
});

describe('retry', () => {
  it('retries a GET answered 503 on the other server, but never a POST', async () => {
    const a = await origin((req, res) => {
      res.statusCode = 503;
      res.end(`a ${req.method} ${req.url}`);
    });
    const b = await origin((req, res) => res.end(`b ${req.method} ${req.url}`));
    const l = await larder({ servers: [a.url, b.url], retry: { attempts: 2, on: [503] } });
    const r = await get(l.url, '/g');
    expect(r.status).toBe(200);
    expect(r.body).toBe('b GET /g');
    expect([a.count('/g'), b.count('/g')]).toEqual([1, 1]);
    // The next request starts at b (round-robin): a POST that lands on a gets a's 503 as is.
    await get(l.url, '/skip');
    const post = await get(l.url, '/p', {}, 'POST');
    expect(post.status).toBe(503);
    expect(post.body).toBe('a POST /p');
    expect([a.count('/p'), b.count('/p')]).toEqual([1, 0]);
  });

  it('retries the streamed (cache: false) GET on a listed status too', async () => {
    const a = await origin((_req, res) => {
      res.statusCode = 502;
      res.end('bad');
    });
    const b = await origin((req, res) => res.end(`b ${req.url}`));
    const l = await larder({ servers: [a.url, b.url], retry: { attempts: 2 } }, pass);
    const r = await get(l.url, '/s');
    expect(r.status).toBe(200);
    expect(r.body).toBe('b /s');
    const counts = await l.larder.recorder.metrics.registry.metrics();
    expect(counts).toContain(`larder_upstream_errors_total{upstream="api",server="${a.url}",kind="5xx"} 1`);
    expect(counts).toContain(`larder_upstream_requests_total{upstream="api",server="${b.url}"} 1`);
  });

  it('never retries once the response started: a body cut half-way is cut for the client', async () => {
    const a = await origin((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.destroy(), 20);
    });
    const b = await origin((req, res) => res.end(`b ${req.url}`));
    const l = await larder({ servers: [a.url, b.url], retry: { attempts: 3, on: ['connect', 502] } }, pass);
    await expect(get(l.url, '/cut')).rejects.toThrow();
    expect([a.count('/cut'), b.count('/cut')]).toEqual([1, 0]);
  });

  it('retries a refused connect, with attempts counting every try', async () => {
    const [a, b] = await pair();
    const c = await origin((req, res) => res.end(`c ${req.url}`));
    await Promise.all([a.close(), b.close()]);
    const once = await larder({ servers: [a.url, b.url, c.url], retry: { attempts: 2 } }, pass);
    // a, then b: both refuse, and 2 tries are all there is.
    expect((await get(once.url, '/1')).status).toBe(502);
    expect(c.count('/1')).toBe(0);
    const thrice = await larder({ servers: [a.url, b.url, c.url], retry: { attempts: 3 } }, pass);
    const r = await get(thrice.url, '/2');
    expect(r.status).toBe(200);
    expect(r.body).toBe('c /2');
  });

  it('every try ends its count at its server: retried, answered, and given up by the client half-way', async () => {
    const a = await origin((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const b = await origin((req, res) => {
      if (req.url !== '/slow') return void res.end(`b ${req.url}`);
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(10));
    });
    const l = await larder({ servers: [a.url, b.url], balance: 'round-robin', retry: { attempts: 2, on: [503] } }, pass);
    const inFlight = async (): Promise<number[]> => {
      const servers = ((await l.larder.ready()) as unknown as { upstreams: Record<string, { servers: Record<string, { inFlight: number }> }> }).upstreams['api']!.servers;
      return [servers[a.url]!.inFlight, servers[b.url]!.inFlight];
    };
    // a answers 503, b answers: both tries are over.
    expect((await get(l.url, '/r')).body).toBe('b /r');
    expect(await inFlight()).toEqual([0, 0]);
    // The next try starts at a again, then b holds the body back: the client goes away half-way.
    const req = http.get(l.url + '/slow');
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    req.on('error', () => undefined);
    expect(await inFlight()).toEqual([0, 1]);
    res.destroy();
    await until(async () => (await inFlight())[1] === 0);
    expect(await inFlight()).toEqual([0, 0]);
  });
});

describe('host', () => {
  const cached = { routes: [{ name: 'all', match: '/**', ttl: '1m' }] };

  it('preserve: the client Host is sent and keys the entry', async () => {
    const o = await origin((req, res) => res.end(`host ${req.headers.host}`));
    const l = await larder({ servers: [o.url] }, cached);
    expect((await get(l.url, '/k', { host: 'a.example' })).body).toBe('host a.example');
    const other = await get(l.url, '/k', { host: 'b.example' });
    expect(other.h('x-cache')).toBe('MISS');
    expect(other.body).toBe('host b.example');
    expect(o.count('/k')).toBe(2);
  });

  it('upstream: the server authority is sent, and every client Host shares one entry', async () => {
    const [a, b] = await pair();
    a.handle((req, res) => res.end(`a ${req.headers.host}`));
    b.handle((req, res) => res.end(`b ${req.headers.host}`));
    const l = await larder({ servers: [a.url, b.url], host: 'upstream' }, cached);
    const first = await get(l.url, '/k', { host: 'a.example' });
    expect(first.body).toBe(`a 127.0.0.1:${a.port}`);
    const second = await get(l.url, '/k', { host: 'b.example:8082' });
    expect(second.h('x-cache')).toBe('HIT');
    expect(second.body).toBe(`a 127.0.0.1:${a.port}`);
    // The next request to the upstream goes to b (round-robin), which gets its own authority.
    expect((await get(l.url, '/other', { host: 'c.example' })).body).toBe(`b 127.0.0.1:${b.port}`);
    const explained = (await l.larder.explain('http://whatever.example/k', {})) as { key: { primary: string }; wouldBe: string };
    expect(explained.key.primary).toBe('@api/k');
    expect(explained.wouldBe).toMatch(/^HIT/);
    expect((await l.larder.purge({ urls: ['http://x.example/k'], prefixes: [], tags: [], soft: false })).purged).toBe(1);
    expect((await get(l.url, '/k', { host: 'a.example' })).h('x-cache')).toBe('MISS');
  });

  it('a client cannot write the reserved key host', async () => {
    const o = await origin();
    const l = await larder({ servers: [o.url], host: 'upstream' }, cached);
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(new URL(l.url).port), '127.0.0.1', () => socket.end('GET /k HTTP/1.1\r\nHost: @api\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
  });
});

describe('reload and close', () => {
  it('a reload that changes an upstream rebuilds it; close stops every health check', async () => {
    const [a, b] = await pair();
    const check = { path: '/healthz', interval: '50ms', timeout: '200ms' };
    const l = await larder({ servers: [a.url], healthCheck: check }, pass);
    await until(() => a.count('/healthz') >= 2);
    const { buildConfig } = await import('../../src/config/load.js');
    l.larder.reload(buildConfig({ listen: '127.0.0.1:0', origin: 'api', upstreams: { api: { servers: [b.url], healthCheck: check } }, ...pass }));
    await until(() => b.count('/healthz') >= 2);
    const seenA = a.count('/healthz');
    expect((await get(l.url, '/after')).body).toBe('b /after');
    await sleep(300);
    expect(a.count('/healthz')).toBeLessThanOrEqual(seenA + 1);
    await l.close();
    const seenB = b.count('/healthz');
    await sleep(300);
    expect(b.count('/healthz')).toBe(seenB);
  });
});

describe('the docker-compose demo, shaped as in docker/rules.yaml', () => {
  it('replica b answers a HIT from Redis for what replica a stored, each reached on its own host:port', async () => {
    const { startRedis } = await import('../helpers/redis.js');
    const redis = await startRedis();
    open.push({ close: () => redis.stop() });
    const o = await origin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`product ${req.url} for ${req.headers.host}`);
    });
    const rules = {
      upstreams: { demo: { servers: [o.url], host: 'upstream' } },
      cache: { redis: { url: redis.url, prefix: `demo${Date.now()}:` } },
      routes: [{ name: 'products', match: '/api/products/**' }],
    };
    const a = await startLarder('demo', rules, { defaultMetrics: false });
    const b = await startLarder('demo', rules, { defaultMetrics: false });
    open.push(a, b);
    const hostA = new URL(a.url).host;
    const hostB = new URL(b.url).host;
    const first = await get(a.url, '/api/products/1', { host: hostA });
    expect(first.h('x-cache')).toBe('MISS');
    // a writes the entry to Redis as it answers; b has nothing in memory. Until the write lands,
    // b waits on a's fill lease or finds nothing (then the origin would count 2).
    let second = await get(b.url, '/api/products/1', { host: hostB });
    for (let i = 0; i < 20 && second.h('x-cache') !== 'HIT'; i++) {
      await sleep(50);
      second = await get(b.url, '/api/products/1', { host: hostB });
    }
    expect(second.h('x-cache')).toBe('HIT');
    expect(second.body).toBe(`product /api/products/1 for 127.0.0.1:${o.port}`);
    expect(o.count('/api/products/1')).toBe(1);
  });
});
