import net from 'node:net';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, sleep } from '../helpers/client.js';
import { pathOf, rawOrigin, type RawOrigin } from '../helpers/raw-origin.js';

/**
 * Broken origins, played by raw TCP servers: the client gets the correct full body, a clean
 * error, or an aborted connection, never a complete-looking wrong answer, and nothing
 * partial is stored.
 */

let origin: RawOrigin | undefined;
let proxy: Running | undefined;
afterEach(async () => {
  await proxy?.close();
  await origin?.close();
  proxy = origin = undefined;
});

const OK = (body: string, extra = ''): string =>
  `HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('malformed origin responses', () => {
  it.each([
    ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!'],
    ['two equal Content-Lengths', 'HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\nbroken\r\ncontent-length: 5\r\n\r\nhello'],
    ['a garbage status line', 'HTTP/1.1 2OO OK\r\ncontent-length: 5\r\n\r\nhello'],
  ])('%s: 502, not stored, the connection is not reused', async (_name, bytes) => {
    origin = await rawOrigin((sock, head) => sock.write(pathOf(head) === '/good' ? OK('fine') : bytes));
    proxy = await startLarder(origin.url);
    const a = await get(proxy.url, '/bad');
    expect(a.status).toBe(502);
    expect(a.body).toMatch(/^LARDER_ORIGIN_/);
    const b = await get(proxy.url, '/bad');
    expect(b.status).toBe(502); // not stored: asked again
    expect(origin.requests.filter((r) => r.includes('/bad'))).toHaveLength(2);
    // Each broken answer cost its connection: the next request needs a fresh one.
    const before = origin.connections;
    expect((await get(proxy.url, '/good')).body).toBe('fine');
    expect(origin.connections).toBe(before + 1);
  });

  it('junk after a complete body (a smuggled second response) is never served to anyone', async () => {
    origin = await rawOrigin((sock, head) => {
      const p = pathOf(head);
      if (p === '/first') sock.write(OK('hello') + OK('POISON'));
      else sock.write(OK(`body of ${p}`));
    });
    proxy = await startLarder(origin.url);
    const first = await get(proxy.url, '/first');
    expect(first.body).toBe('hello');
    for (let i = 0; i < 5; i++) {
      const r = await get(proxy.url, `/next-${i}`);
      expect([r.status, r.body]).toEqual([200, `body of /next-${i}`]);
    }
  });

  it('a body shorter than its Content-Length: 502 and not stored; longer: the extra bytes are dropped', async () => {
    origin = await rawOrigin((sock, head) => {
      if (pathOf(head) === '/short') {
        sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 100\r\n\r\nonly ten b');
        setTimeout(() => sock.destroy(), 20);
      } else {
        sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 4\r\n\r\nlongGARBAGE');
      }
    });
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/short')).status).toBe(502);
    expect((await get(proxy.url, '/short')).status).toBe(502);
    expect(origin.requests.filter((r) => r.includes('/short'))).toHaveLength(2);
    const long = await get(proxy.url, '/long');
    expect([long.status, long.body]).toEqual([200, 'long']);
    expect((await get(proxy.url, '/long')).h('x-cache')).toBe('HIT');
  });

  it('a reset before any answer: 502; a reset in the middle of a chunked body: 502, not stored', async () => {
    origin = await rawOrigin((sock, head) => {
      if (pathOf(head) === '/reset') sock.resetAndDestroy();
      else {
        sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
        setTimeout(() => sock.resetAndDestroy(), 20);
      }
    });
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/reset')).status).toBe(502);
    const mid = await get(proxy.url, '/mid');
    expect(mid.status).toBe(502);
    expect((await get(proxy.url, '/mid')).status).toBe(502);
    expect(origin.requests.filter((r) => r.includes('/mid'))).toHaveLength(2);
  });

  it('a chunked body with trailers arrives whole and is stored', async () => {
    origin = await rawOrigin((sock) =>
      sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n'),
    );
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/t')).body).toBe('hello world');
    const again = await get(proxy.url, '/t');
    expect([again.body, again.h('x-cache')]).toEqual(['hello world', 'HIT']);
    expect(origin.requests).toHaveLength(1);
  });
});

describe('slow origins: separate header and body timeouts', () => {
  it('slow headers: 504 after timeouts.headers; a slow but steady body is not cut off; a stalled body is', async () => {
    origin = await rawOrigin((sock, head) => {
      const p = pathOf(head);
      if (p === '/slow-headers') setTimeout(() => sock.writable && sock.write(OK('late')), 1_500);
      else if (p === '/steady') {
        // 6 chunks, 150 ms apart: 750 ms in all, each gap under the 400 ms body timeout.
        sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\n');
        let i = 0;
        const t = setInterval(() => {
          if (i++ < 6) sock.write(`1\r\n${i}\r\n`);
          else {
            clearInterval(t);
            sock.write('0\r\n\r\n');
          }
        }, 150);
        sock.on('close', () => clearInterval(t));
      } else sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 10\r\n\r\nhalf'); // then nothing
    });
    proxy = await startLarder(origin.url, { timeouts: { connect: '1s', headers: '300ms', body: '400ms' } });
    let t = performance.now();
    const slow = await get(proxy.url, '/slow-headers');
    expect([slow.status, slow.body]).toEqual([504, 'LARDER_ORIGIN_TIMEOUT: timed out waiting for the origin\n']);
    // 300 ms, plus a loaded machine; well before the origin's 1.5 s (timing itself: untrusted-origin.test.ts).
    expect(performance.now() - t).toBeLessThan(1_200);
    const steady = await get(proxy.url, '/steady');
    expect([steady.status, steady.body]).toEqual([200, '123456']);
    t = performance.now();
    const stalled = await get(proxy.url, '/stalled');
    expect(stalled.status).toBe(504);
    expect(stalled.body).toContain('reading the body');
    // 400 ms after the last byte, plus a loaded machine.
    expect(performance.now() - t).toBeLessThan(1_500);
    expect((await get(proxy.url, '/stalled')).status).toBe(504); // not stored
  });
});

describe('bodies over maxEntrySize', () => {
  it('a 24 MB chunked body streams through whole with maxEntrySize 1mb, and is not stored', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'abcdefgh');
    const chunks = 384; // 24 MB
    const expected = createHash('sha256');
    for (let i = 0; i < chunks; i++) expected.update(chunk);
    origin = await rawOrigin((sock) => {
      sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\n');
      let i = 0;
      const pump = (): void => {
        while (i < chunks) {
          i++;
          sock.write(`${chunk.length.toString(16)}\r\n`);
          sock.write(chunk);
          if (!sock.write('\r\n')) return void sock.once('drain', pump);
        }
        sock.write('0\r\n\r\n');
      };
      pump();
    });
    proxy = await startLarder(origin.url, { cache: { memory: { maxSize: '8mb', maxEntrySize: '1mb' } } });
    const res = await request(`${proxy.url}/big`);
    const h = createHash('sha256');
    let size = 0;
    for await (const c of res.body) {
      h.update(c as Buffer);
      size += (c as Buffer).length;
    }
    expect(size).toBe(chunk.length * chunks);
    expect(h.digest('hex')).toBe(expected.digest('hex'));
    expect(proxy.larder.memory.bytes).toBeLessThan(1024 * 1024);
    await get(proxy.url, '/big');
    expect(origin.requests).toHaveLength(2);
  });

  it('an origin that dies half-way through a large body aborts the client connection (never a clean end)', async () => {
    origin = await rawOrigin((sock) => {
      sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\n');
      const big = Buffer.alloc(256 * 1024, 'x');
      sock.write(`${big.length.toString(16)}\r\n`);
      sock.write(big);
      sock.write('\r\n');
      setTimeout(() => sock.resetAndDestroy(), 100);
    });
    proxy = await startLarder(origin.url, { cache: { memory: { maxSize: '8mb', maxEntrySize: '64kb' } } });
    const res = await request(`${proxy.url}/dies`);
    expect(res.statusCode).toBe(200);
    await expect(res.body.arrayBuffer()).rejects.toThrow();
    await sleep(10);
    expect(origin.requests).toHaveLength(1);
  });
});

describe('a good entry is never replaced by a broken answer', () => {
  const GOOD = 'HTTP/1.1 200 OK\r\ncache-control: max-age=0, stale-if-error=60\r\netag: "v1"\r\ncontent-length: 4\r\n\r\ngood';
  it.each([
    ['a reset', (sock: net.Socket) => sock.resetAndDestroy()],
    ['a truncated body', (sock: net.Socket) => {
      sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 50\r\n\r\nbad');
      setTimeout(() => sock.destroy(), 20);
    }],
    ['Content-Length with Transfer-Encoding', (sock: net.Socket) =>
      sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nbad\r\n0\r\n\r\n')],
    ['a 503 marked cacheable', (sock: net.Socket) =>
      sock.write('HTTP/1.1 503 Service Unavailable\r\ncache-control: max-age=60\r\ncontent-length: 3\r\n\r\nbad')],
    ['a 500', (sock: net.Socket) => sock.write('HTTP/1.1 500 Internal Server Error\r\ncontent-length: 3\r\n\r\nbad')],
  ])('%s while revalidating: the stored response is served (stale-if-error) and kept', async (_name, broken) => {
    origin = await rawOrigin((sock, _head, n) => (n === 1 ? sock.write(GOOD) : broken(sock)));
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/e')).body).toBe('good');
    for (let i = 0; i < 2; i++) {
      const r = await get(proxy.url, '/e');
      expect([r.status, r.body, r.h('x-cache')]).toEqual([200, 'good', 'STALE']);
    }
    expect(origin.requests).toHaveLength(3);
  });
});
