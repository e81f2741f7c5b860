import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, raw, type Reply } from '../helpers/client.js';

let origin: Origin;
const running: Running[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) await r.close();
  await origin?.close();
});

async function proxy(rules: Record<string, unknown> = {}): Promise<Running> {
  const r = await startLarder(origin.url, { routes: [{ name: 'off', match: '/off/**', cache: false }], ...rules });
  running.push(r);
  return r;
}

const TOKEN = 'debug-token-0123456789';
const REPORT = ['x-cache', 'cache-status', 'x-cache-hits'];

/** An origin that sends its own report fields too: they never reach a client as they are. */
function reportingOrigin(): Promise<Origin> {
  return startOrigin((req, res, n) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0]!;
    res.setHeader('x-cache', 'ORIGIN');
    res.setHeader('x-cache-hits', '99');
    res.setHeader('cache-status', 'upstream; hit');
    res.setHeader('etag', '"v"');
    res.setHeader('cache-control', path === '/stale' ? 'max-age=0, stale-while-revalidate=60' : path === '/nc' ? 'no-cache' : 'max-age=60');
    if (path === '/nc' && req.headers['if-none-match'] === '"v"') {
      res.statusCode = 304;
      return void res.end();
    }
    res.end(`${req.method} ${path} ${n}`);
  });
}

const shown = (r: Reply | { h(name: string): string }) => REPORT.map((n) => r.h(n));
const hidden = (r: Reply | { h(name: string): string }) => expect(shown(r), 'no report fields').toEqual(['', '', '']);

describe('debugHeaders', () => {
  it('always (the default): every answer carries X-Cache, Cache-Status and X-Cache-Hits; origin report fields are replaced', async () => {
    origin = await reportingOrigin();
    const p = await proxy();
    const miss = await get(p.url, '/a');
    expect(shown(miss)[0]).toBe('MISS');
    expect(miss.h('x-cache-hits')).toBe('0');
    expect(miss.h('cache-status')).toMatch(/larder; fwd=uri-miss/);
    const hit = await get(p.url, '/a');
    expect([hit.h('x-cache'), hit.h('x-cache-hits')]).toEqual(['HIT', '1']);
    const pass = await get(p.url, '/off/a');
    expect([pass.h('x-cache'), pass.h('x-cache-hits')]).toEqual(['BYPASS', '0']);
    const post = await get(p.url, '/off/a', {}, 'POST');
    expect([post.h('x-cache'), post.h('x-cache-hits')]).toEqual(['BYPASS', '0']);
  });

  it('never: no client sees them, whatever it sends; metrics and logs still get the outcome', async () => {
    origin = await reportingOrigin();
    const p = await proxy({ debugHeaders: 'never' });
    const answers = [
      await get(p.url, '/a'),
      await get(p.url, '/a', { 'larder-debug': TOKEN }),
      await get(p.url, '/a', { 'if-none-match': '"v"' }),
      await get(p.url, '/a', { range: 'bytes=0-1' }),
      await get(p.url, '/a', { 'cache-control': 'no-cache' }),
      await get(p.url, '/off/a'),
      await get(p.url, '/off/a', {}, 'POST'),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 304, 206, 200, 200, 200]);
    for (const r of answers) hidden(r);
    expect(p.outcomes.map((o) => o.result)).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 'MISS', 'BYPASS', 'BYPASS']);
  });

  it('with a token: only a request showing the right token sees them', async () => {
    origin = await reportingOrigin();
    const p = await proxy({ debugHeaders: { token: TOKEN } });
    hidden(await get(p.url, '/a'));
    hidden(await get(p.url, '/a', { 'larder-debug': 'wrong-token-0123456789' }));
    hidden(await get(p.url, '/a', { 'larder-debug': TOKEN.slice(0, -1) }));
    hidden(await get(p.url, '/a', { 'larder-debug': TOKEN + 'x' }));
    hidden(await get(p.url, '/a', { 'larder-debug': '' }));
    hidden(await get(p.url, '/a', { 'larder-debug': TOKEN.toUpperCase() }));
    const right = await get(p.url, '/a', { 'Larder-Debug': TOKEN });
    expect([right.h('x-cache'), right.h('x-cache-hits')]).toEqual(['HIT', '6']);
    expect(right.h('cache-status')).toMatch(/larder; hit/);
    const pass = await get(p.url, '/off/b', { 'larder-debug': TOKEN });
    expect(pass.h('x-cache')).toBe('BYPASS');
    hidden(await get(p.url, '/off/b'));
    const post = await get(p.url, '/off/b', { 'larder-debug': TOKEN }, 'POST');
    expect(post.h('x-cache')).toBe('BYPASS');
    hidden(await get(p.url, '/off/b', {}, 'POST'));
    expect(origin.count('/a')).toBe(1);
  });

  it('applies to error answers and refusals too', async () => {
    origin = await reportingOrigin();
    const down = await startLarder('http://127.0.0.1:9', { debugHeaders: { token: TOKEN }, timeouts: { connect: '500ms' } });
    running.push(down);
    const failed = await get(down.url, '/x');
    expect(failed.status).toBe(502);
    hidden(failed);
    const shownError = await get(down.url, '/x', { 'larder-debug': TOKEN });
    expect(shownError.status).toBe(502);
    expect(shownError.h('x-cache')).toBe('MISS');
    const postFailed = await get(down.url, '/x', {}, 'POST');
    expect(postFailed.status).toBe(502);
    hidden(postFailed);
    const refused = await raw(down.url, 'GET /home HTTP/1.1', ['Host: a.example', 'Connection: close, host']);
    expect(refused.status).toBe(400);
    hidden(refused);
    const refusedShown = await raw(down.url, 'GET /home HTTP/1.1', ['Host: a.example', `Larder-Debug: ${TOKEN}`, 'Connection: close, host']);
    expect(refusedShown.status).toBe(400);
    expect(refusedShown.h('x-cache')).toBe('BYPASS');
  });

  it('Larder-Debug never reaches the origin and is no part of the key', async () => {
    origin = await reportingOrigin();
    const p = await proxy({ debugHeaders: { token: TOKEN }, routes: [{ name: 'off', match: '/off/**', cache: false }, { name: 'k', match: '/k/**', key: { headers: ['larder-debug'] } }] });
    const d = { 'larder-debug': TOKEN };
    const first = await get(p.url, '/a', d);
    const second = await get(p.url, '/a');
    const third = await get(p.url, '/a', { 'larder-debug': 'another-value-entirely' });
    expect([first.h('x-cache'), second.status, third.status]).toEqual(['MISS', 200, 200]);
    expect(p.outcomes.map((o) => o.result)).toEqual(['MISS', 'HIT', 'HIT']);
    await get(p.url, '/k/a', d);
    expect((await get(p.url, '/k/a')).body).toBe('GET /k/a 2');
    await get(p.url, '/a', { ...d, 'cache-control': 'no-cache' });
    await get(p.url, '/b', { ...d, 'cache-control': 'no-store' });
    await get(p.url, '/off/a', d);
    await get(p.url, '/off/a', d, 'POST');
    await get(p.url, '/off/a', { larder_debug: TOKEN }, 'POST');
    await get(p.url, '/off/a', { larder_debug: TOKEN });
    expect(origin.requests.length).toBe(8);
    for (const seen of origin.requests) {
      expect(Object.keys(seen.headers).filter((n) => /larder.debug/i.test(n)), `${seen.method} ${seen.url}`).toEqual([]);
    }
  });
});

describe('Larder-Debug on an upgrade', () => {
  it('is not forwarded to the origin', async () => {
    origin = await reportingOrigin();
    const seen: string[] = [];
    const ws = http.createServer();
    ws.on('upgrade', (req, socket) => {
      seen.push(...Object.keys(req.headers));
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    });
    await new Promise<void>((r) => ws.listen(0, '127.0.0.1', r));
    const p = await startLarder(`http://127.0.0.1:${(ws.address() as AddressInfo).port}`, { debugHeaders: { token: TOKEN } });
    running.push(p);
    const reply = await raw(p.url, 'GET /socket HTTP/1.1', [
      'Host: x',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      `Larder-Debug: ${TOKEN}`,
      `Larder_Debug: ${TOKEN}`,
    ]);
    ws.closeAllConnections();
    ws.close();
    expect(reply.status).toBe(101);
    expect(seen).toContain('sec-websocket-key');
    expect(seen.filter((n) => /larder.debug/.test(n))).toEqual([]);
  });
});

describe('X-Cache-Hits', () => {
  it('counts the answers each entry gave: 0 on the MISS, then 1, 2, ... on hits, 304s, ranges and stale answers', async () => {
    origin = await reportingOrigin();
    const p = await proxy();
    const hits = async (path: string, headers: Record<string, string> = {}) => {
      const r = await get(p.url, path, headers);
      return `${r.status} ${r.h('x-cache')} ${r.h('x-cache-hits')}`;
    };
    expect(await hits('/a')).toBe('200 MISS 0');
    expect(await hits('/a')).toBe('200 HIT 1');
    expect(await hits('/a')).toBe('200 HIT 2');
    expect(await hits('/b')).toBe('200 MISS 0');
    expect(await hits('/a', { 'if-none-match': '"v"' })).toBe('304 HIT 3');
    expect(await hits('/a', { range: 'bytes=0-1' })).toBe('206 HIT 4');
    expect(await hits('/a')).toBe('200 HIT 5');
    expect(await hits('/b')).toBe('200 HIT 1');
    // A request's no-cache fetches and stores a new entry: its count starts again.
    expect(await hits('/a', { 'cache-control': 'no-cache' })).toBe('200 MISS 0');
    expect(await hits('/a')).toBe('200 HIT 1');
    expect(await hits('/off/a')).toBe('200 BYPASS 0');
    expect(await hits('/stale')).toBe('200 MISS 0');
    expect(await hits('/stale')).toBe('200 STALE 1');
    // A revalidation stores the refreshed entry, which answers this request.
    expect(await hits('/nc')).toBe('200 MISS 0');
    expect(await hits('/nc')).toBe('200 REVALIDATED 1');
  });

  it('counts with the report hidden, too', async () => {
    origin = await reportingOrigin();
    const p = await proxy({ debugHeaders: { token: TOKEN } });
    await get(p.url, '/a');
    await get(p.url, '/a');
    await get(p.url, '/a');
    expect((await get(p.url, '/a', { 'larder-debug': TOKEN })).h('x-cache-hits')).toBe('3');
  });
});
