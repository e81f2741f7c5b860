import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, raw } from '../helpers/client.js';
import { DEFAULT_STRIP_REQUEST_HEADERS } from '../../src/config/schema.js';

/** Cache poisoning: what reaches the origin must be exactly what the key describes. */

let origin: Origin | undefined;
let proxy: Running | undefined;
afterEach(async () => {
  await proxy?.close();
  await origin?.close();
  proxy = origin = undefined;
});

const HOST = 'shop.test';

/** Headers an origin (or a framework in front of it) may act on, none of which is in the key. */
const UNKEYED: Record<string, string> = {
  'x-forwarded-host': 'evil.example',
  'x-forwarded-server': 'evil.example',
  'x-forwarded-proto': 'https',
  'x-forwarded-port': '8443',
  'x-forwarded-prefix': '/evil',
  'x-forwarded-scheme': 'javascript',
  'x-forwarded-for': '6.6.6.6',
  forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
  'x-original-url': '/admin',
  'x-original-uri': '/admin',
  'x-rewrite-url': '/admin',
  'x-override-url': '/admin',
  'x-http-method-override': 'DELETE',
  'x-http-method': 'DELETE',
  'x-method-override': 'DELETE',
  'x-host': 'evil.example',
  'x-http-host-override': 'evil.example',
  'x-original-host': 'evil.example',
  'x-real-ip': '6.6.6.6',
  'true-client-ip': '6.6.6.6',
  'x-client-ip': '6.6.6.6',
  'x-originating-ip': '6.6.6.6',
  // CGI-style servers read "_" as "-": X_Forwarded_Host reaches them as HTTP_X_FORWARDED_HOST.
  x_forwarded_host: 'evil.example',
};

/** An origin that builds links from the forwarded host, the way many frameworks do. */
function linkOrigin(): Promise<Origin> {
  return startOrigin((req, res) => {
    const h = req.headers;
    const host = (h['x-forwarded-host'] as string | undefined) ?? h['x-host'] ?? h.host;
    const path = (h['x-original-url'] as string | undefined) ?? req.url;
    const method = (h['x-http-method-override'] as string | undefined) ?? req.method;
    res.setHeader('cache-control', 'max-age=60');
    res.end(`${method} https://${String(host)}${path}`);
  });
}

describe('unkeyed request headers', () => {
  it('never reach the origin on the cacheable path, and cannot poison the stored response', async () => {
    origin = await linkOrigin();
    proxy = await startLarder(origin.url);
    const attack = await get(proxy.url, '/page', { host: HOST, ...UNKEYED });
    const victim = await get(proxy.url, '/page', { host: HOST });
    expect(victim.h('x-cache')).toBe('HIT');
    expect(attack.body).toBe(`GET https://${HOST}/page`);
    expect(victim.body).toBe(`GET https://${HOST}/page`);
    const seen = origin.requests[0]!.headers;
    for (const name of Object.keys(UNKEYED)) {
      if (name === 'x-forwarded-for' || name === 'x-forwarded-proto' || name === 'x-forwarded-host') continue;
      expect(seen[name], name).toBeUndefined();
    }
    expect(seen['x_forwarded_host']).toBeUndefined();
    // larder's own values, not the client's
    expect(seen['x-forwarded-host']).toBe(HOST);
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('are stripped on pass-through routes and methods too; larder sets X-Forwarded-* itself', async () => {
    origin = await linkOrigin();
    proxy = await startLarder(origin.url, { routes: [{ name: 'auth', match: '/auth/**', cache: false }] });
    await get(proxy.url, '/auth/reset', { host: HOST, ...UNKEYED });
    await get(proxy.url, '/anything', { host: HOST, ...UNKEYED }, 'POST');
    expect(origin.requests).toHaveLength(2);
    for (const r of origin.requests) {
      for (const name of Object.keys(UNKEYED)) {
        if (name.startsWith('x-forwarded-') && ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port'].includes(name)) continue;
        expect(r.headers[name], `${r.method} ${name}`).toBeUndefined();
      }
      expect(r.headers['x-forwarded-host']).toBe(HOST);
      expect(r.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(r.headers['x-forwarded-proto']).toBe('http');
    }
  });

  it('follow security.stripRequestHeaders: a custom list replaces the default', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('x');
    });
    proxy = await startLarder(origin.url, { security: { stripRequestHeaders: ['x-tenant', 'x-debug-*'] } });
    await get(proxy.url, '/c', { host: HOST, 'x-tenant': 'a', 'x-debug-level': '9', 'x-original-url': '/kept', 'x-forwarded-for': '10.0.0.1' });
    const seen = origin.requests[0]!.headers;
    expect(seen['x-tenant']).toBeUndefined();
    expect(seen['x-debug-level']).toBeUndefined();
    expect(seen['x-original-url']).toBe('/kept');
    // Not stripped: the chain is kept and larder's peer appended.
    expect(seen['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
  });

  it('the default list is the documented one', () => {
    expect(DEFAULT_STRIP_REQUEST_HEADERS).toContain('x-forwarded-*');
    expect(DEFAULT_STRIP_REQUEST_HEADERS).toContain('forwarded');
    expect(DEFAULT_STRIP_REQUEST_HEADERS).toContain('x-http-method-override');
  });
});

/** One GET on a connection of its own, the target sent exactly as written. */
async function rawGet(base: string, target: string): Promise<{ status: number; body: string; xcache: string }> {
  const r = await raw(base, `GET ${target} HTTP/1.1`, [`Host: ${HOST}`]);
  return { status: r.status, body: r.body, xcache: r.h('x-cache') };
}

describe('path and query: one key, one upstream request', () => {
  // Each target, and what the origin must receive for it (undefined: refused with 400).
  // RFC 3986 §6.2.2 syntax normalisation and §5.2.4 dot-segment removal happen in larder, and
  // the normalised path is what is forwarded: an origin never resolves what routing did not see.
  const targets: [string, string | undefined][] = [
    ['/p/b', '/p/b'],
    ['/p/a/..%2fb', undefined],
    ['/p/a/%2e%2e/b', '/p/b'],
    ['/p/a/.%2E/b', '/p/b'],
    ['/p/a/../b', '/p/b'],
    ['/p/./b', '/p/b'],
    ['/p/a/..;/b', undefined],
    ['/p/a%5cb', undefined],
    ['/p/a;b', '/p/a;b'],
    ['/p/a', '/p/a'],
    ['/p/a;', '/p/a;'],
    ['/p/a%00', '/p/a%00'],
    ['/p/a%2500', '/p/a%2500'],
    ['//p/a', '/p/a'],
    ['/p//a', '/p/a'],
    ['/p/a/', '/p/a/'],
    ['/p/%61', '/p/a'],
    ['/p/A', '/p/A'],
    ['/p/a%3fx=1', '/p/a%3Fx=1'],
    ['/p/a?x=1', '/p/a?x=1'],
    ['/p/a?x=1;y=2', '/p/a?x=1;y=2'],
    ['/p/a?x=1&x=2', '/p/a?x=1&x=2'],
    ['/p/a?x=2&x=1', '/p/a?x=2&x=1'],
    ['/p/a?x=%31', '/p/a?x=%31'],
    ['/p/a?x=1%26y=2', '/p/a?x=1%26y=2'],
    ['/p/a/%2e%2e?x=%2e%2e', '/p/?x=%2e%2e'],
  ];

  it('forwards exactly the target the key was built from, so no two distinct upstream requests share an entry', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`upstream=${req.url}`);
    });
    proxy = await startLarder(origin.url);
    for (const round of [1, 2]) {
      for (const [t, upstream] of targets) {
        const r = await rawGet(proxy.url, t);
        if (upstream === undefined) {
          expect([t, r.status], 'refused').toEqual([t, 400]);
          continue;
        }
        // Every answer is the origin's answer to the request the key names.
        expect([t, r.status, r.body]).toEqual([t, 200, `upstream=${upstream}`]);
        if (round === 2) expect([t, r.xcache]).toEqual([t, 'HIT']);
      }
    }
    // One origin request per distinct forwarded target, each received as larder keyed it.
    const distinct = [...new Set(targets.map(([, u]) => u).filter((u) => u !== undefined))];
    expect(origin.requests.map((r) => r.url).sort()).toEqual(distinct.sort());
  });

  it('shares an entry only between targets that are forwarded identically (sorted query, empty "?")', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`upstream=${req.url}`);
    });
    proxy = await startLarder(origin.url);
    expect((await rawGet(proxy.url, '/q?b=2&a=1')).body).toBe('upstream=/q?a=1&b=2');
    const same = await rawGet(proxy.url, '/q?a=1&b=2');
    expect([same.xcache, same.body]).toEqual(['HIT', 'upstream=/q?a=1&b=2']);
    expect((await rawGet(proxy.url, '/q?')).body).toBe('upstream=/q');
    expect((await rawGet(proxy.url, '/q')).xcache).toBe('HIT');
    expect(origin.requests.map((r) => r.url)).toEqual(['/q?a=1&b=2', '/q']);
  });
});

describe('error statuses', () => {
  const statuses = [400, 403, 404, 405, 410, 414, 429, 431, 500, 501, 502, 503, 504];
  it('are never stored through a route default ttl', async () => {
    origin = await startOrigin((req, res) => {
      res.statusCode = Number(req.url!.slice(3));
      res.end(`status ${res.statusCode}`);
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'r', match: '/s/**', ttl: '1h', staleIfError: '1h' }] });
    for (const s of statuses) {
      const a = await get(proxy.url, `/s/${s}`, { host: HOST });
      const b = await get(proxy.url, `/s/${s}`, { host: HOST });
      expect([a.status, b.status, b.h('x-cache')], String(s)).toEqual([s, s, 'MISS']);
    }
    expect(origin.count()).toBe(statuses.length * 2);
  });

  it('a 5xx never replaces a good entry, even one the origin marks cacheable', async () => {
    let fail = false;
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=0, stale-if-error=60');
      res.setHeader('etag', '"v1"');
      if (fail) {
        res.statusCode = 503;
        res.setHeader('cache-control', 'max-age=60');
        res.end('maintenance');
        return;
      }
      res.end('good');
    });
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/g', { host: HOST })).body).toBe('good');
    fail = true;
    const during = await get(proxy.url, '/g', { host: HOST });
    expect([during.status, during.body, during.h('x-cache')]).toEqual([200, 'good', 'STALE']);
    const again = await get(proxy.url, '/g', { host: HOST });
    expect([again.status, again.body]).toEqual([200, 'good']);
  });
});

describe('coalesced requests never share a private answer', () => {
  it('Authorization: 40 concurrent users of one cold key each get their own response', async () => {
    origin = await startOrigin((req, res) => {
      setTimeout(() => {
        // max-age alone does not make an answer to an authorized request shareable (RFC 9111 §3.5).
        res.setHeader('cache-control', 'max-age=60');
        res.end(`for ${req.headers.authorization}`);
      }, 100);
    });
    proxy = await startLarder(origin.url);
    const users = Array.from({ length: 40 }, (_, i) => `Bearer user-${i}`);
    const replies = await Promise.all(users.map((u) => get(proxy!.url, '/me', { host: HOST, authorization: u })));
    expect(replies.map((r) => r.body)).toEqual(users.map((u) => `for ${u}`));
    expect(origin.count()).toBe(40);
  });

  it('Vary: concurrent requests in two languages each get their own language', async () => {
    origin = await startOrigin((req, res) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=60');
        res.setHeader('vary', 'Accept-Language');
        res.end(`lang=${req.headers['accept-language']}`);
      }, 100);
    });
    proxy = await startLarder(origin.url);
    const langs = Array.from({ length: 40 }, (_, i) => (i % 2 ? 'fr' : 'en'));
    const replies = await Promise.all(langs.map((l) => get(proxy!.url, '/home', { host: HOST, 'accept-language': l })));
    expect(replies.map((r) => r.body)).toEqual(langs.map((l) => `lang=${l}`));
    const later = await Promise.all(['en', 'fr', 'de'].map((l) => get(proxy!.url, '/home', { host: HOST, 'accept-language': l })));
    expect(later.map((r) => r.body)).toEqual(['lang=en', 'lang=fr', 'lang=de']);
  });
});
