import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';

/**
 * Hostile request framing, as raw bytes over a real socket. Each bad request must get one
 * 4xx/5xx, the connection must close, the origin must see nothing, and a request pipelined
 * behind it must not be served.
 */

let origin: Origin;
let proxy: Running;
let port: number;
/** Bodies the origin received, by URL. */
const bodies: Array<{ method: string; url: string; body: string; headers: Record<string, unknown> }> = [];

beforeAll(async () => {
  origin = await startOrigin((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      bodies.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
      res.setHeader('cache-control', 'max-age=60');
      res.end(`origin saw ${req.method} ${req.url}`);
    });
  });
  proxy = await startLarder(origin.url, {
    routes: [{ name: 'pass', match: '/pass/**', cache: false }],
    security: { maxHeaders: 50, maxHeaderSize: '8kb', maxRequestBodySize: '1mb' },
  });
  port = Number(new URL(proxy.url).port);
});
afterAll(async () => {
  await proxy?.close();
  await origin?.close();
});

interface Exchange {
  /** Status codes of every response on the connection, in order. */
  statuses: number[];
  text: string;
  /** The server closed the connection (rather than the test's own timer). */
  closedByServer: boolean;
}

/** Writes `bytes` (in pieces, if given an array), reads until the server closes or `ms` pass. */
export function exchange(bytes: string | string[], ms = 1_500): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let byServer = true;
    const timer = setTimeout(() => {
      byServer = false;
      sock.destroy();
    }, ms);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ statuses: [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), text, closedByServer: byServer });
    });
    sock.on('connect', () => {
      for (const piece of Array.isArray(bytes) ? bytes : [bytes]) sock.write(piece, 'latin1');
    });
  });
}

const PIPELINED = 'GET /pipelined HTTP/1.1\r\nHost: shop.test\r\n\r\n';
const H = 'Host: shop.test\r\n';

/**
 * 'body': the fault lies in the body, which llhttp reads after the headers, so the request
 * has already been handed to the pass-through; the origin may see its start but never a
 * complete request.
 */
const cases: Array<[string, string, number, 'body'?]> = [
  // Body framing (on a pass-through route: these would otherwise be forwarded)
  ['Content-Length with Transfer-Encoding', `POST /pass/a HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['two equal Content-Lengths', `POST /pass/a HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`, 400],
  ['two different Content-Lengths', `POST /pass/a HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx`, 400],
  ['a Content-Length list', `POST /pass/a HTTP/1.1\r\n${H}Content-Length: 1, 1\r\n\r\nx`, 400],
  ['a signed Content-Length', `POST /pass/a HTTP/1.1\r\n${H}Content-Length: +1\r\n\r\nx`, 400],
  ['a negative Content-Length', `POST /pass/a HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
  ['Transfer-Encoding: gzip (chunked not last)', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nxx`, 400],
  ['Transfer-Encoding: chunked, gzip', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, 400],
  ['Transfer-Encoding: identity', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, 400],
  ['Transfer-Encoding: xchunked', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 400],
  ['Transfer-Encoding twice', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['Transfer-Encoding: gzip, chunked (unsupported coding)', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
  ['Transfer-Encoding in HTTP/1.0', `POST /pass/a HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['a space before the colon', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, 400],
  ['a vertical tab in Transfer-Encoding', `POST /pass/a HTTP/1.1\r\n${H}Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n`, 400],
  ['a chunk size that is not hex', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, 400, 'body'],
  ['an overflowing chunk size', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n0\r\n\r\n`, 400, 'body'],
  // llhttp takes any 64-bit chunk size and would wait for that many bytes (until the request timeout).
  ['a chunk size of FFFFFFFFFFFFFFED', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFED\r\nabc`, 400, 'body'],
  ['a chunk size of FFFFFFFFFFFFFFFF', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nFFFFFFFFFFFFFFFF\r\nabc`, 400, 'body'],
  ['a chunk size with leading zeros, then FFFFFFFFFFFFFFF0', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0000FFFFFFFFFFFFFFF0;x=1\r\nabc`, 400, 'body'],
  ['a chunk size over maxRequestBodySize (1mb)', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n100001\r\nabc`, 400, 'body'],
  ['a GET with a chunk size over the limit', `GET /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc`, 400, 'body'],
  ['chunks adding up to more than maxRequestBodySize', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n80000\r\n${'a'.repeat(0x80000)}\r\n80001\r\nabc`, 413, 'body'],
  ['a Content-Length over maxRequestBodySize', `POST /pass/a HTTP/1.1\r\n${H}Content-Length: 1048577\r\n\r\nabc`, 413],
  ['a negative chunk size', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n`, 400, 'body'],
  ['chunk data longer than its size', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n`, 400, 'body'],
  ['bare LF in chunked framing', `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`, 400, 'body'],
  // Header syntax (on the cached path)
  ['obs-fold', `GET /c HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n`, 400],
  ['a control character in a value', `GET /c HTTP/1.1\r\n${H}X-A: b\x01c\r\n\r\n`, 400],
  ['NUL in a value', `GET /c HTTP/1.1\r\n${H}X-A: b\x00c\r\n\r\n`, 400],
  ['a bare CR in a value', `GET /c HTTP/1.1\r\n${H}X-A: b\rc\r\n\r\n`, 400],
  ['a bare LF in a value', `GET /c HTTP/1.1\r\n${H}X-A: b\nc\r\n\r\n`, 400],
  ['a space in a name', `GET /c HTTP/1.1\r\n${H}X A: b\r\n\r\n`, 400],
  ['a control character in a name', `GET /c HTTP/1.1\r\n${H}X\x01A: b\r\n\r\n`, 400],
  ['an empty name', `GET /c HTTP/1.1\r\n${H}: b\r\n\r\n`, 400],
  ['a line without a colon', `GET /c HTTP/1.1\r\n${H}XA\r\n\r\n`, 400],
  ['whitespace before the first field', `GET /c HTTP/1.1\r\n Host: shop.test\r\n\r\n`, 400],
  ['bare LF line endings', `GET /c HTTP/1.1\nHost: shop.test\n\n`, 400],
  // Request line
  ['an invalid method', `G(T /c HTTP/1.1\r\n${H}\r\n`, 400],
  ['a space in the target', `GET /c d HTTP/1.1\r\n${H}\r\n`, 400],
  ['a control character in the target', `GET /c\x01d HTTP/1.1\r\n${H}\r\n`, 400],
  ['a fragment in the target', `GET /c#frag HTTP/1.1\r\n${H}\r\n`, 400],
  ['a backslash in the target', `GET /c\\..\\d HTTP/1.1\r\n${H}\r\n`, 400],
  ['a broken percent escape', `GET /c%zz HTTP/1.1\r\n${H}\r\n`, 400],
  ['a target that is not a path', `GET c HTTP/1.1\r\n${H}\r\n`, 400],
  ['an HTTP/0.9 request line', `GET /c\r\n${H}\r\n`, 505],
  ['HTTP/2.0 in the request line', `GET /c HTTP/2.0\r\n${H}\r\n`, 505],
  ['HTTP/1.2', `GET /c HTTP/1.2\r\n${H}\r\n`, 505],
  ['HTTP/9.9', `GET /c HTTP/9.9\r\n${H}\r\n`, 505],
  ['a misspelt protocol', `GET /c HTTX/1.1\r\n${H}\r\n`, 400],
  // Host
  ['no Host in HTTP/1.1', 'GET /c HTTP/1.1\r\nX-A: b\r\n\r\n', 400],
  ['two Host fields', `GET /c HTTP/1.1\r\n${H}Host: other.test\r\n\r\n`, 400],
  ['a Host with a path in it', `GET /c HTTP/1.1\r\nHost: shop.test/admin\r\n\r\n`, 400],
  ['a Host with userinfo', `GET /c HTTP/1.1\r\nHost: user@shop.test\r\n\r\n`, 400],
  ['a Host with a space', `GET /c HTTP/1.1\r\nHost: shop .test\r\n\r\n`, 400],
  // Sizes
  ['a header section over maxHeaderSize', `GET /c HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(9_000)}\r\n\r\n`, 431],
  ['a request line over maxHeaderSize', `GET /c?${'a'.repeat(9_000)} HTTP/1.1\r\n${H}\r\n`, 431],
  ['more header fields than maxHeaders', `GET /c HTTP/1.1\r\n${H}${Array.from({ length: 60 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`, 431],
];

describe('requests with ambiguous or illegal framing', () => {
  it.each(cases)('%s: one error response, connection closed, nothing forwarded or pipelined', async (_name, bytes, status, stage) => {
    const before = origin.count();
    const r = await exchange(bytes + PIPELINED);
    expect(r.statuses).toEqual([status]);
    expect(r.closedByServer).toBe(true);
    expect(r.text.toLowerCase()).toContain('connection: close');
    if (stage === 'body') {
      await new Promise((res) => setTimeout(res, 50));
      expect(bodies.some((b) => b.url === '/pass/partial')).toBe(false);
    } else {
      expect(origin.count()).toBe(before);
    }
    expect(origin.requests.some((q) => q.url === '/pipelined')).toBe(false);
  });

  it.each([
    ['the chunk size in a later read than the head', [`POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`, 'FFFFFFFFFFFFFFED\r\nabc']],
    ['the head split across reads', [`POST /pass/partial HTTP/1.1\r\n${H}Transfer`, '-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFED\r\nabc']],
    ['a second request on the connection', [`POST /pass/ok2 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`, 'FFFFFFFFFFFFFFFF\r\nabc']],
    ['a chunked request after a plain one', [`GET /c HTTP/1.1\r\n${H}\r\n`, `POST /pass/partial HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`, '100001\r\nabc']],
  ])('an overflowing chunk size gets 400 at once when %s', async (_name, pieces) => {
    const t0 = performance.now();
    const text = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      let got = '';
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => (got += d));
      sock.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      sock.on('close', () => resolve(got));
      // Each piece in its own read: the server sees them apart.
      sock.on('connect', async () => {
        for (const piece of pieces) {
          sock.write(piece, 'latin1');
          await new Promise((r) => setTimeout(r, 40));
        }
      });
    });
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(statuses[statuses.length - 1]).toBe(400);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(bodies.some((b) => b.url === '/pass/partial')).toBe(false);
  });

  it('still serves well-formed requests, pipelined ones included (the checks do not over-reject)', async () => {
    const before = origin.count();
    const r = await exchange([
      `GET /ok?a=1 HTTP/1.1\r\n${H}X-Tab:\tv\r\n\r\n`,
      `POST /pass/ok HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n`,
      `GET http://shop.test/abs HTTP/1.1\r\n${H}\r\n`,
      `GET /ok HTTP/1.0\r\n\r\n`,
    ]);
    expect(r.statuses).toEqual([200, 200, 200, 200]);
    expect(origin.count()).toBe(before + 4);
    expect(bodies.find((b) => b.url === '/pass/ok')?.body).toBe('abc');
  });
});

describe('a GET or HEAD with a body', () => {
  const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;
  it.each([
    ['the cached path', '/get-body'],
    ['a pass-through route', '/pass/get-body'],
  ])('on %s: the body is read and dropped, never forwarded, never parsed as a request', async (_what, path) => {
    const r = await exchange([`GET ${path} HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, PIPELINED.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')]);
    expect(r.statuses).toEqual([200, 200]);
    const seen = bodies.filter((b) => b.url === path);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toBe('');
    expect(seen[0]!.headers['content-length']).toBeUndefined();
    expect(seen[0]!.headers['transfer-encoding']).toBeUndefined();
    expect(bodies.some((b) => b.url === '/smuggled')).toBe(false);
  });

  it('with a chunked body on a pass-through route: dropped too', async () => {
    const r = await exchange(`GET /pass/get-chunked HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`);
    expect(r.statuses).toEqual([200]);
    const seen = bodies.find((b) => b.url === '/pass/get-chunked');
    expect(seen?.body).toBe('');
    expect(seen?.headers['transfer-encoding']).toBeUndefined();
    expect(bodies.some((b) => b.url === '/smuggled')).toBe(false);
  });

  it('is answered 400 with security.getWithBody: reject', async () => {
    const strict = await startLarder(origin.url, { security: { getWithBody: 'reject' } });
    try {
      const p = Number(new URL(strict.url).port);
      const before = origin.count();
      const sock = net.connect(p, '127.0.0.1');
      const text = await new Promise<string>((resolve) => {
        let t = '';
        sock.setEncoding('latin1');
        sock.on('data', (d: string) => (t += d));
        sock.on('close', () => resolve(t));
        sock.write(`GET /strict HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc${PIPELINED}`);
      });
      expect([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([400]);
      expect(origin.count()).toBe(before);
    } finally {
      await strict.close();
    }
  });
});
