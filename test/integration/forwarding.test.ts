// Responses larder relays as they stream, without storing them: GET and HEAD on a route with
// `cache: false`, HEAD misses, requests with no-store, and keys in their hit-for-pass window.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';

let origin: Origin | undefined;
let proxy: Running | undefined;
let raw: net.Server | undefined;

afterEach(async () => {
  await proxy?.close();
  await origin?.close();
  raw?.close();
  proxy = undefined;
  origin = undefined;
  raw = undefined;
});

/** Reads a response chunk by chunk; `onChunk` sees each one as it arrives. */
function stream(url: string, onChunk: (chunk: string, n: number) => void): Promise<{ status: number; headers: http.IncomingHttpHeaders; chunks: string[] }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: string[] = [];
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          chunks.push(c);
          onChunk(c, chunks.length);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Outcome of reading a whole response over a raw socket: complete, or cut off. */
function fetchRaw(base: string, path: string): Promise<{ complete: boolean; text: string }> {
  return new Promise((resolve) => {
    const req = http.get(base + path, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ complete: res.complete, text }));
      res.on('error', () => resolve({ complete: false, text }));
      res.on('aborted', () => resolve({ complete: false, text }));
    });
    req.on('error', () => resolve({ complete: false, text: '' }));
  });
}

describe('GET and HEAD on a cache: false route', () => {
  it('relays status, fields and body, adds Via both ways and X-Forwarded-*, and appends to Cache-Status', async () => {
    origin = await startOrigin((_req, res) => {
      res.writeHead(201, { 'content-length': '4', 'cache-control': 'max-age=60', 'cache-status': 'upstream; hit', 'x-app': 'yes', connection: 'keep-alive, x-app' });
      res.end('made');
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'off', match: '/off/**', cache: false }] });
    const r = await get(proxy.url, '/off/a?q=1', { 'x-forwarded-host': 'evil.example', via: '1.1 edge' });
    expect(r.status).toBe(201);
    expect(r.body).toBe('made');
    expect(r.h('content-length')).toBe('4');
    // x-app is named in Connection, so it is hop-by-hop and not relayed.
    expect(r.h('x-app')).toBe('');
    expect(r.h('x-cache')).toBe('BYPASS');
    expect(r.h('cache-status')).toBe('upstream; hit, larder; fwd=bypass; fwd-status=201; detail=route-off');
    expect(r.h('via')).toBe('1.1 larder');
    const seen = origin.requests[0]!;
    expect(seen.url).toBe('/off/a?q=1');
    expect(seen.headers['via']).toBe('1.1 edge, 1.1 larder');
    expect(seen.headers['x-forwarded-host']).not.toBe('evil.example');
    expect(seen.headers['x-forwarded-for']).toContain('127.0.0.1');
    const again = await get(proxy.url, '/off/a?q=1');
    expect(again.h('x-cache')).toBe('BYPASS');
    expect(origin.count()).toBe(2);
    expect(proxy.larder.memory.entries).toBe(0);
  });

  it('answers HEAD with the origin Content-Length and no body', async () => {
    origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'content-length': '5' });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'off', match: '/**', cache: false }] });
    const r = await get(proxy.url, '/h', {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.h('content-length')).toBe('5');
    expect(r.body).toBe('');
    expect(origin.requests[0]!.method).toBe('HEAD');
  });

  it('answers 502 with a stable code when the origin refuses, and stays up', async () => {
    const o = await startOrigin();
    const url = o.url;
    await o.close();
    proxy = await startLarder(url, { routes: [{ name: 'off', match: '/**', cache: false }] });
    const r = await get(proxy.url, '/gone');
    expect(r.status).toBe(502);
    expect(r.body).toBe('LARDER_ORIGIN_UNREACHABLE: the origin refused the connection\n');
    expect(r.h('x-cache')).toBe('BYPASS');
    expect(r.h('cache-status')).toBe('larder; fwd=bypass; detail=origin-error');
    expect((await get(proxy.url, '/gone')).status).toBe(502);
  });

  it('aborts the client connection when the origin dies half-way through the body', async () => {
    raw = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
        setTimeout(() => s.destroy(), 50);
      });
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    proxy = await startLarder(`http://127.0.0.1:${(raw.address() as net.AddressInfo).port}`, { routes: [{ name: 'off', match: '/**', cache: false }] });
    const r = await fetchRaw(proxy.url, '/cut');
    expect(r.complete).toBe(false);
    expect(r.text.length).toBeLessThan(100);
  });
});

describe('misses relayed as they stream', () => {
  it('streams a no-store answer on a cacheable route once the key is in its hit-for-pass window', async () => {
    let finish: (() => void) | undefined;
    origin = await startOrigin((_req, res, n) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain' });
      if (n === 1) return void res.end('whole');
      res.write('first;');
      finish = () => res.end('second');
    });
    proxy = await startLarder(origin.url);
    const a = await get(proxy.url, '/live');
    expect(a.h('cache-status')).toBe('larder; fwd=uri-miss; fwd-status=200; detail=no-store');
    const b = await stream(proxy.url + '/live', (_c, n) => {
      // The first chunk reaches the client while the origin still holds the response open.
      if (n === 1) finish!();
    });
    expect(b.status).toBe(200);
    expect(b.chunks[0]).toBe('first;');
    expect(b.chunks.join('')).toBe('first;second');
    expect(b.headers['x-cache']).toBe('MISS');
    expect(b.headers['cache-status']).toBe('larder; fwd=uri-miss; fwd-status=200; detail=no-store');
    expect(origin.count('/live')).toBe(2);
    expect(proxy.larder.memory.entries).toBe(0);
  });

  it('a key whose origin turns cacheable is relayed once more, then stored and served from the cache', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', n === 1 ? 'private' : 'max-age=60');
      res.end(`v${n}`);
    });
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/flip')).h('cache-status')).toContain('detail=private');
    // In the hit-for-pass window: relayed and not stored, and the window closes.
    const second = await get(proxy.url, '/flip');
    expect(second.body).toBe('v2');
    expect(second.h('cache-status')).toBe('larder; fwd=uri-miss; fwd-status=200; detail=hit-for-pass');
    const third = await get(proxy.url, '/flip');
    expect(third.body).toBe('v3');
    expect(third.h('cache-status')).toContain('stored');
    const fourth = await get(proxy.url, '/flip');
    expect(fourth.h('x-cache')).toBe('HIT');
    expect(fourth.body).toBe('v3');
    expect(origin.count('/flip')).toBe(3);
  });

  it('an answer without freshness keeps the key in hit-for-pass with the same reason', async () => {
    origin = await startOrigin((_req, res) => res.end('plain'));
    proxy = await startLarder(origin.url);
    for (let i = 0; i < 3; i++) {
      const r = await get(proxy.url, '/plain');
      expect(r.h('cache-status')).toBe('larder; fwd=uri-miss; fwd-status=200; detail=no-freshness');
    }
    expect(origin.count('/plain')).toBe(3);
  });

  it('never completes a truncated streamed body, and stores nothing', async () => {
    let n = 0;
    raw = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', () => {
        n++;
        if (n === 1) s.write('HTTP/1.1 200 OK\r\ncache-control: no-store\r\ncontent-length: 4\r\n\r\nfull');
        else {
          s.write('HTTP/1.1 200 OK\r\ncache-control: no-store\r\ncontent-length: 100\r\n\r\nonly part');
          setTimeout(() => s.destroy(), 50);
        }
      });
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    proxy = await startLarder(`http://127.0.0.1:${(raw.address() as net.AddressInfo).port}`);
    expect((await get(proxy.url, '/t')).body).toBe('full');
    const r = await fetchRaw(proxy.url, '/t');
    expect(r.complete).toBe(false);
    expect(proxy.larder.memory.entries).toBe(0);
  });

  it('HEAD and request no-store go to the origin without being stored, and a later GET still fills', async () => {
    origin = await startOrigin((_req, res, n) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('content-length', '2');
      res.end(`n${n}`);
    });
    proxy = await startLarder(origin.url);
    const head = await get(proxy.url, '/r', {}, 'HEAD');
    expect(head.h('cache-status')).toBe('larder; fwd=uri-miss; fwd-status=200; detail=method');
    expect(head.h('content-length')).toBe('2');
    const ns = await get(proxy.url, '/r', { 'cache-control': 'no-store' });
    expect(ns.body).toBe('n2');
    expect(ns.h('cache-status')).toBe('larder; fwd=uri-miss; fwd-status=200; detail=request-no-store');
    expect(proxy.larder.memory.entries).toBe(0);
    expect((await get(proxy.url, '/r')).h('cache-status')).toContain('stored');
    const hit = await get(proxy.url, '/r');
    expect(hit.h('x-cache')).toBe('HIT');
    expect(hit.body).toBe('n3');
    expect(origin.count('/r')).toBe(3);
  });
});

describe('timeouts of a relayed response, with the same headers and body durations', () => {
  it('each wait is counted from the last thing the origin sent: a slow but steady answer completes, a stalled body is cut', async () => {
    raw = net.createServer((s) => {
      s.on('error', () => {});
      // One request at a time on each connection (larder keeps it open between them).
      s.on('data', (d) => {
        const stall = d.toString('latin1').startsWith('GET /stall');
        // 200 ms to the head, then a chunk every 200 ms: each gap is within the 300 ms timeouts.
        setTimeout(() => {
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n');
          let i = 0;
          const t = setInterval(() => {
            if (stall && i === 1) return clearInterval(t);
            s.write(String(i));
            if (++i === 4) clearInterval(t);
          }, 200);
          s.on('close', () => clearInterval(t));
        }, 200);
      });
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    proxy = await startLarder(`http://127.0.0.1:${(raw.address() as net.AddressInfo).port}`, {
      timeouts: { connect: '1s', headers: '300ms', body: '300ms' },
      routes: [{ name: 'off', match: '/**', cache: false }],
    });
    const steady = await fetchRaw(proxy.url, '/steady');
    expect(steady).toEqual({ complete: true, text: '0123' });
    const t = performance.now();
    const stalled = await fetchRaw(proxy.url, '/stall');
    expect(stalled).toEqual({ complete: false, text: '0' });
    // 200 ms to the head and 200 ms to the first byte, then 300 ms, plus a loaded machine.
    expect(performance.now() - t).toBeLessThan(1_500);
  });
});

describe('the fields of a relayed exchange, in order', () => {
  it('a hit-for-pass MISS and a pass-through GET: what the origin receives and what the client sees', async () => {
    const seen: string[][] = [];
    origin = await startOrigin((req, res) => {
      seen.push(req.rawHeaders.slice());
      // Raw list: order and repeats as the origin wrote them.
      res.writeHead(200, [
        'Cache-Control', 'no-store',
        'X-Cache', 'HIT',
        'Via', '1.1 backend',
        'Set-Cookie', 'a=1',
        'Keep-Alive', 'timeout=5',
        'X-Hop', 'h',
        'Connection', 'keep-alive, x-hop',
        'Surrogate-Key', 'k1',
        'Set-Cookie', 'b=2',
        'Content-Length', '2',
      ]);
      res.end('ok');
    });
    proxy = await startLarder(origin.url, { debugHeaders: 'never', routes: [{ name: 'off', match: '/off/**', cache: false }, { name: 'all', match: '/**', ttl: '1m' }] });
    const ask = (path: string): Promise<{ status: number; raw: string[]; body: string }> =>
      new Promise((resolve, reject) => {
        const req = http.request(proxy!.url + path, {
          agent: false,
          headers: { 'x-trace': 't1', te: 'trailers', 'x-gone': 'g', connection: 'x-gone', 'if-none-match': '"v"', accept: '*/*' },
        }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const names = (raw: string[]): string[] => raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    const expectedResponse = (r: { raw: string[] }): void => {
      const fields = names(r.raw).filter((n) => n !== 'date' && n !== 'connection' && n !== 'keep-alive');
      expect(fields).toEqual(['cache-control', 'via', 'set-cookie', 'set-cookie', 'content-length']);
      const value = (n: string): string[] => r.raw.filter((_, i) => i % 2 === 1 && r.raw[i - 1]!.toLowerCase() === n);
      expect(value('via')).toEqual(['1.1 backend, 1.1 larder']);
      expect(value('set-cookie')).toEqual(['a=1', 'b=2']);
    };
    // First: a fill that finds no-store (buffered); second: the key is hit-for-pass, relayed as it streams.
    for (const path of ['/c/1', '/c/1', '/off/1']) {
      const r = await ask(path);
      expect(r.status).toBe(200);
      expect(r.body).toBe('ok');
      expectedResponse(r);
    }
    expect(seen.length).toBe(3);
    const sent = seen.map((raw) => names(raw).filter((n) => n !== 'connection'));
    // A MISS (filled or relayed) asks without the client's condition; the pass-through forwards it.
    // A cacheable route's Accept-Encoding is normalised (it is keyed on), and so always sent.
    const fwd = ['te', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via'];
    expect(sent[0]).toEqual(['host', 'x-trace', 'accept', 'accept-encoding', ...fwd]);
    expect(sent[1]).toEqual(['host', 'x-trace', 'accept', 'accept-encoding', ...fwd]);
    expect(sent[2]).toEqual(['host', 'x-trace', 'if-none-match', 'accept', ...fwd]);
    for (const raw of seen) expect(raw[raw.findIndex((n) => n.toLowerCase() === 'te') + 1]).toBe('trailers');
  });
});
