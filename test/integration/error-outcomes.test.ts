import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';
import type { CacheResult } from '../../src/types.js';

/** Sends raw bytes and reads until the server closes: status line, headers and body. */
function exchange(base: string, bytes: string): Promise<{ status: number; head: string; body: string }> {
  const port = Number(new URL(base).port);
  return new Promise((resolve, reject) => {
    let text = '';
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', reject);
    sock.on('close', () => {
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.slice(9, 12)), head: text.slice(0, split).toLowerCase(), body: text.slice(split + 4) });
    });
  });
}

/**
 * A clock that throws once, when armed, as the origin client reads it: a bug on the request
 * path, after the request was routed and before anything was answered.
 */
function trapClock(): { now(): number; arm(): void } {
  let armed = false;
  return {
    now(): number {
      if (armed && /OriginClient\.fetch/.test(new Error().stack ?? '')) {
        armed = false;
        throw new Error('planted');
      }
      return Date.now();
    },
    arm: () => (armed = true),
  };
}

let down: string;
let proxy: Running;
const clock = trapClock();
const bugs: unknown[] = [];

beforeAll(async () => {
  // An origin that refuses connections: every request that reaches it fails.
  const o = await startOrigin();
  down = o.url;
  await o.close();
  proxy = await startLarder(
    down,
    { routes: [{ name: 'off', match: '/off/**', cache: false }], security: { maxRequestBodySize: '1kb' } },
    { clock, onError: (err) => bugs.push(err) },
  );
});

afterAll(async () => {
  await proxy?.close();
});

interface Case {
  send: () => Promise<{ status: number; body: string; xCache: string }>;
  status: number;
  code: string;
  result: CacheResult;
  route: string;
  method: string;
}

const raw = async (bytes: string): Promise<{ status: number; body: string; xCache: string }> => {
  const r = await exchange(proxy.url, bytes);
  return { status: r.status, body: r.body, xCache: /\r\nx-cache: ([a-z]+)/.exec(r.head)?.[1]?.toUpperCase() ?? '' };
};
const request = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; xCache: string }> => {
  const r = await get(proxy.url, path, headers, method);
  return { status: r.status, body: r.body, xCache: r.h('x-cache') };
};

const cases: Array<[string, Case]> = [
  [
    'a request the server refuses before routing (two Host fields)',
    { send: () => raw('GET /a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n'), status: 400, code: 'LARDER_BAD_REQUEST', result: 'BYPASS', route: 'default', method: 'GET' },
  ],
  [
    'a request body over security.maxRequestBodySize',
    { send: () => raw('POST /off/a HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5000\r\n\r\n'), status: 413, code: 'LARDER_TOO_LARGE', result: 'BYPASS', route: 'default', method: 'POST' },
  ],
  [
    'an HTTP version larder does not speak',
    { send: () => raw('GET /a HTTP/2.0\r\nHost: a.test\r\n\r\n'), status: 505, code: 'LARDER_BAD_REQUEST', result: 'BYPASS', route: 'default', method: 'GET' },
  ],
  [
    'a target the resolver refuses',
    { send: () => request('/a/..;/b'), status: 400, code: 'LARDER_BAD_REQUEST', result: 'BYPASS', route: 'default', method: 'GET' },
  ],
  [
    'only-if-cached with nothing stored',
    { send: () => request('/a', { 'cache-control': 'only-if-cached' }), status: 504, code: 'LARDER_NOT_CACHED', result: 'MISS', route: 'default', method: 'GET' },
  ],
  ['a miss the origin does not answer', { send: () => request('/a'), status: 502, code: 'LARDER_ORIGIN_UNREACHABLE', result: 'MISS', route: 'default', method: 'GET' }],
  [
    'a GET on a route that does not cache, the origin down',
    { send: () => request('/off/a'), status: 502, code: 'LARDER_ORIGIN_UNREACHABLE', result: 'BYPASS', route: 'off', method: 'GET' },
  ],
  [
    'a POST passed through, the origin down',
    { send: () => request('/off/a', {}, 'POST'), status: 502, code: 'LARDER_PROXY_FAILED', result: 'BYPASS', route: 'off', method: 'POST' },
  ],
  [
    'a bug on the request path',
    {
      send: () => {
        clock.arm();
        return request('/bug');
      },
      status: 502,
      code: 'LARDER_INTERNAL',
      result: 'MISS',
      route: 'default',
      method: 'GET',
    },
  ],
];

describe('every error answer on the proxy listener', () => {
  it.each(cases)('%s: a plain-text CODE: message body, and exactly one Outcome', async (_name, c) => {
    proxy.outcomes.length = 0;
    const r = await c.send();
    expect([r.status, r.body.split(':')[0], r.xCache]).toEqual([c.status, c.code, c.result]);
    expect(r.body).toMatch(/^LARDER_[A-Z_]+: .+\n$/);
    // A later request is counted after it: nothing more arrives for the first.
    await request('/later', { 'cache-control': 'only-if-cached' });
    expect(proxy.outcomes.map((o) => [o.route, o.result, o.status, o.method])).toEqual([
      [c.route, c.result, c.status, c.method],
      ['default', 'MISS', 504, 'GET'],
    ]);
  });

  it('counts each of them in larder_requests_total, and reports the bug to onError', async () => {
    const counted = (await proxy.larder.recorder.metrics.requests.get()).values.reduce((n, v) => n + v.value, 0);
    expect(counted).toBe(cases.length * 2);
    expect(bugs.map((e) => (e as Error).message)).toEqual(['planted']);
  });
});
