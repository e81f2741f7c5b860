import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';

let origin: Origin;
let proxy: Running;

afterEach(async () => {
  await proxy?.close();
  await origin?.close();
});

describe('MISS then HIT', () => {
  it('stores a fresh response and answers the second request from memory', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('content-type', 'text/plain');
      res.end(`body ${n}`);
    });
    proxy = await startLarder(origin.url);
    const a = await get(proxy.url, '/a');
    expect(a.status).toBe(200);
    expect(a.body).toBe('body 1');
    expect(a.h('x-cache')).toBe('MISS');
    expect(a.h('cache-status')).toMatch(/^larder; fwd=uri-miss; fwd-status=200; stored; ttl=(5[89]|60)$/);
    const b = await get(proxy.url, '/a');
    expect(b.status).toBe(200);
    expect(b.body).toBe('body 1');
    expect(b.h('x-cache')).toBe('HIT');
    expect(b.h('cache-status')).toMatch(/^larder; hit; ttl=\d+$/);
    expect(b.h('age')).toMatch(/^\d+$/);
    expect(b.h('content-type')).toBe('text/plain');
    expect(b.h('content-length')).toBe('6');
    expect(b.h('via')).toContain('larder');
    expect(origin.count('/a')).toBe(1);
  });

  it('answers HEAD from a stored GET without a body', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('hello world');
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/h');
    const head = await get(proxy.url, '/h', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.h('content-length')).toBe('11');
    expect(head.h('x-cache')).toBe('HIT');
    expect(origin.count('/h')).toBe(1);
  });

  it('keys on the sorted query, so parameter order does not split the cache', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(req.url);
    });
    proxy = await startLarder(origin.url);
    const a = await get(proxy.url, '/q?b=2&a=1');
    const b = await get(proxy.url, '/q?a=1&b=2');
    expect(a.body).toBe('/q?a=1&b=2');
    expect(b.h('x-cache')).toBe('HIT');
    expect(origin.count()).toBe(1);
  });

  it('keeps only the configured query parameters in the key and upstream', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(req.url);
    });
    proxy = await startLarder(origin.url, {
      routes: [{ name: 'p', match: '/p/**', key: { query: ['page'] } }],
    });
    const a = await get(proxy.url, '/p/x?page=2&utm=abc');
    const b = await get(proxy.url, '/p/x?utm=zzz&page=2');
    expect(a.body).toBe('/p/x?page=2');
    expect(b.h('x-cache')).toBe('HIT');
    expect(origin.count()).toBe(1);
  });

  it('uses the route ttl only when the origin sends no freshness', async () => {
    origin = await startOrigin((req, res) => {
      if (req.url === '/r/explicit') res.setHeader('cache-control', 'max-age=0');
      res.end('x');
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'r', match: '/r/**', ttl: '5m' }] });
    await get(proxy.url, '/r/plain');
    const hit = await get(proxy.url, '/r/plain');
    expect(hit.h('x-cache')).toBe('HIT');
    expect(hit.h('cache-status')).toMatch(/ttl=(29[0-9]|300)\b/);
    await get(proxy.url, '/r/explicit');
    const again = await get(proxy.url, '/r/explicit');
    expect(again.h('x-cache')).toBe('MISS');
    expect(origin.count('/r/explicit')).toBe(2);
  });

  it('does not store a response without freshness on an unmatched path', async () => {
    origin = await startOrigin((_req, res) => res.end('x'));
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/none');
    const b = await get(proxy.url, '/none');
    expect(b.h('x-cache')).toBe('MISS');
    expect(b.h('cache-status')).toContain('detail=no-freshness');
    expect(origin.count('/none')).toBe(2);
  });
});

describe('pass-through', () => {
  it('never stores a cache:false route and says BYPASS', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`auth ${n}`);
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'auth', match: '/api/auth/**', cache: false }] });
    const a = await get(proxy.url, '/api/auth/login');
    const b = await get(proxy.url, '/api/auth/login');
    expect(a.body).toBe('auth 1');
    expect(b.body).toBe('auth 2');
    expect(b.h('x-cache')).toBe('BYPASS');
    expect(b.h('cache-status')).toBe('larder; fwd=bypass; fwd-status=200; detail=route-off');
    expect(b.h('via')).toBe('1.1 larder');
    expect(origin.count()).toBe(2);
  });

  it('streams an event stream through a bypass route as it is written', async () => {
    let finish!: () => void;
    origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      finish = () => res.end('data: two\n\n');
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'events', match: '/events', cache: false }] });
    const http = await import('node:http');
    const chunks: string[] = [];
    const done = new Promise<void>((resolve) => {
      http.get(proxy.url + '/events', (res) => {
        expect(res.headers['x-cache']).toBe('BYPASS');
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          chunks.push(c);
          // The first event arrives while the origin still holds the stream open.
          if (chunks.length === 1) finish();
        });
        res.on('end', resolve);
      });
    });
    await done;
    expect(chunks[0]).toBe('data: one\n\n');
    expect(chunks.join('')).toBe('data: one\n\ndata: two\n\n');
  });

  it('forwards X-Forwarded-* and Via to the origin', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('x');
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/fwd', { 'x-forwarded-host': 'evil.example' });
    const seen = origin.requests[0]!.headers;
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe(proxy.url.slice('http://'.length));
    expect(seen['via']).toBe('1.1 larder');
  });
});

describe('upgrades', () => {
  it('passes a WebSocket upgrade through to the origin and relays frames both ways', async () => {
    const net = await import('node:net');
    // An origin that accepts the upgrade and echoes raw bytes back.
    const http = await import('node:http');
    const wsOrigin = http.createServer();
    wsOrigin.on('upgrade', (req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-seen-path: ' + req.url + '\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    });
    await new Promise<void>((r) => wsOrigin.listen(0, '127.0.0.1', r));
    const port = (wsOrigin.address() as import('node:net').AddressInfo).port;
    proxy = await startLarder(`http://127.0.0.1:${port}`);
    const proxyPort = Number(new URL(proxy.url).port);
    const sock = net.connect(proxyPort, '127.0.0.1');
    let received = '';
    sock.on('data', (d) => (received += d.toString()));
    sock.write('GET /socket HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    await until(() => received.includes('\r\n\r\n'));
    expect(received).toMatch(/^HTTP\/1\.1 101/);
    expect(received.toLowerCase()).toContain('x-seen-path: /socket');
    sock.write('hello');
    await until(() => received.includes('echo:hello'));
    sock.destroy();
    wsOrigin.closeAllConnections();
    wsOrigin.close();
  });
});

async function until(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('interim responses', () => {
  it('relays 102 and 103 to the client and stores only the final response', async () => {
    origin = await startOrigin((_req, res) => {
      res.writeProcessing();
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style', 'x-hint': 'early' });
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=60');
        res.end('final');
      }, 20);
    });
    proxy = await startLarder(origin.url);
    const http = await import('node:http');
    const fetchWithInfo = () =>
      new Promise<{ info: { statusCode: number; headers: Record<string, unknown> }[]; status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const info: { statusCode: number; headers: Record<string, unknown> }[] = [];
        const req = http.get(proxy.url + '/interim', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ info, status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('information', (i) => info.push({ statusCode: i.statusCode, headers: i.headers }));
        req.on('error', reject);
      });
    const first = await fetchWithInfo();
    expect(first.info.map((i) => i.statusCode)).toEqual([102, 103]);
    expect(first.info[1]!.headers['link']).toBe('</style.css>; rel=preload; as=style');
    expect([first.status, first.body]).toEqual([200, 'final']);
    const second = await fetchWithInfo();
    expect(second.info).toEqual([]);
    expect([second.status, second.body, second.headers['x-cache']]).toEqual([200, 'final', 'HIT']);
    expect(second.headers['link']).toBeUndefined();
    expect(second.headers['x-hint']).toBeUndefined();
  });
});
