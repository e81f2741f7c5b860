import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get, raw } from '../helpers/client.js';
import { buildConfig } from '../../src/config/load.js';
import { resolveRequest } from '../../src/http/target.js';

/**
 * Key integrity: the route, the cache key, the Vary values and the request the origin
 * receives always agree. Each case is an attack: the second client must never get the
 * answer made for another request.
 */

let origin: Origin | undefined;
let proxy: Running | undefined;
const extra: Running[] = [];
afterEach(async () => {
  for (const r of extra.splice(0)) await r.close();
  await proxy?.close();
  await origin?.close();
  proxy = origin = undefined;
});

describe('fields named in Connection are removed at the door', () => {
  it('a Connection that names Host is refused, so no other site is stored under the victim host', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`site=${req.headers.host}`);
    });
    proxy = await startLarder(origin.url);
    const attack = await raw(proxy.url, 'GET /home HTTP/1.1', ['Host: victim.example', 'Connection: close, host']);
    expect(attack.status).toBe(400);
    expect(attack.body).toContain('LARDER_BAD_REQUEST');
    for (const named of ['Content-Length', 'transfer-encoding']) {
      expect((await raw(proxy.url, 'GET /home HTTP/1.1', ['Host: victim.example', `Connection: close, ${named}`])).status).toBe(400);
    }
    expect(origin.count()).toBe(0);
    const victim = await raw(proxy.url, 'GET /home HTTP/1.1', ['Host: victim.example']);
    expect([victim.status, victim.body, victim.h('x-cache')]).toEqual([200, 'site=victim.example', 'MISS']);
  });

  it('a Vary field named in Connection cannot poison that field value\'s variant', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'Accept-Language');
      res.end(`lang=${req.headers['accept-language'] ?? 'default'}`);
    });
    proxy = await startLarder(origin.url);
    const attack = await raw(proxy.url, 'GET /page HTTP/1.1', ['Host: shop.test', 'Accept-Language: fr', 'Connection: close, Accept-Language']);
    // The origin answered a request without Accept-Language, and that is what the key says.
    expect(attack.body).toBe('lang=default');
    expect(origin.requests[0]!.headers['accept-language']).toBeUndefined();
    const fr = await raw(proxy.url, 'GET /page HTTP/1.1', ['Host: shop.test', 'Accept-Language: fr']);
    expect([fr.body, fr.h('x-cache')]).toEqual(['lang=fr', 'MISS']);
    const none = await raw(proxy.url, 'GET /page HTTP/1.1', ['Host: shop.test']);
    expect([none.body, none.h('x-cache')]).toEqual(['lang=default', 'HIT']);
    expect(origin.count()).toBe(2);
  });

  it('hop-by-hop fields larder reads stay: TE: trailers listed in Connection still gets the trailers', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'no-store');
      res.setHeader('trailer', 'x-checksum');
      res.write('hello');
      res.addTrailers({ 'x-checksum': req.headers.te === 'trailers' ? 'abc' : 'none' });
      res.end();
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'off', match: '/off/**', cache: false }] });
    const r = await raw(proxy.url, 'GET /off/t HTTP/1.1', ['Host: h', 'TE: trailers', 'Connection: TE, close']);
    expect(r.body).toContain('x-checksum: abc');
  });

  it('the same holds for Vary: Accept and for a route key header', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      if (req.url === '/a') res.setHeader('vary', 'Accept');
      res.end(`accept=${req.headers.accept ?? '-'} tenant=${req.headers['x-tenant'] ?? '-'}`);
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 't', match: '/t', key: { headers: ['x-tenant'] } }] });
    await raw(proxy.url, 'GET /a HTTP/1.1', ['Host: h', 'Accept: text/csv', 'Connection: close, accept']);
    const csv = await raw(proxy.url, 'GET /a HTTP/1.1', ['Host: h', 'Accept: text/csv']);
    expect([csv.body, csv.h('x-cache')]).toEqual(['accept=text/csv tenant=-', 'MISS']);
    await raw(proxy.url, 'GET /t HTTP/1.1', ['Host: h', 'X-Tenant: acme', 'Connection: x-tenant, close']);
    const acme = await raw(proxy.url, 'GET /t HTTP/1.1', ['Host: h', 'X-Tenant: acme']);
    expect([acme.body, acme.h('x-cache')]).toEqual(['accept=- tenant=acme', 'MISS']);
    expect(origin.count()).toBe(4);
  });
});

/** An origin that resolves paths as WHATWG URL does (dot-segments, %2e) and serves per cookie. */
function resolvingOrigin(): Promise<Origin> {
  return startOrigin((req, res) => {
    const path = new URL(req.url!, 'http://o').pathname;
    const user = /user=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
    if (path === '/api/me') return res.end(`me=${user ?? 'anonymous'}`);
    if (path.startsWith('/api/auth/')) return res.end(`login=${user ?? 'anonymous'}`);
    res.end(`file ${path}`);
  });
}

describe('dot-segments never split the route from the resource', () => {
  it('an encoded ".." cannot borrow a static route\'s ttl to store another user\'s data', async () => {
    origin = await resolvingOrigin();
    proxy = await startLarder(origin.url, { routes: [{ name: 'static', match: '/static/**', ttl: '5m' }] });
    for (const t of ['/static/%2e%2e/api/me', '/static/%2E%2E/api/me', '/static/.%2e/api/me', '/static/%2e./api/me', '/static/x/../../api/me']) {
      const victim = await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test', 'Cookie: user=alice']);
      expect([t, victim.body]).toEqual([t, 'me=alice']);
      const attacker = await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test']);
      expect([t, attacker.body]).toEqual([t, 'me=anonymous']);
    }
    // Every request reached the origin at the resolved path; nothing was stored.
    expect(origin.requests.every((r) => r.url === '/api/me')).toBe(true);
    expect(origin.count()).toBe(10);
  });

  it('an encoded ".." cannot escape a cache: false route', async () => {
    origin = await resolvingOrigin();
    proxy = await startLarder(origin.url, {
      routes: [
        { name: 'auth', match: '/api/auth/**', cache: false },
        { name: 'x', match: '/x/**', ttl: '5m' },
      ],
    });
    const a = await raw(proxy.url, 'GET /x/%2e%2e/api/auth/login HTTP/1.1', ['Host: shop.test', 'Cookie: user=alice']);
    expect([a.body, a.h('x-cache')]).toEqual(['login=alice', 'BYPASS']);
    const b = await raw(proxy.url, 'GET /x/%2e%2e/api/auth/login HTTP/1.1', ['Host: shop.test']);
    expect([b.body, b.h('x-cache')]).toEqual(['login=anonymous', 'BYPASS']);
    expect(proxy.outcomes.map((o) => o.route)).toEqual(['auth', 'auth']);
  });

  it('encoded slashes and backslashes are refused by default, and checked against the route when kept', async () => {
    origin = await resolvingOrigin();
    const routes = [
      { name: 'auth', match: '/api/auth/**', cache: false },
      { name: 'static', match: '/static/**', ttl: '5m' },
    ];
    proxy = await startLarder(origin.url, { routes });
    for (const t of ['/static/..%2fapi/me', '/static/..%2Fapi/me', '/static/..%5capi/me', '/static/a%2Fb']) {
      const r = await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test']);
      expect([t, r.status]).toEqual([t, 400]);
    }
    expect(origin.count()).toBe(0);
    const keep = await startLarder(origin.url, { routes, security: { encodedSlashes: 'keep' } });
    extra.push(keep);
    expect((await raw(keep.url, 'GET /static/..%2fapi/me HTTP/1.1', ['Host: shop.test'])).status).toBe(400);
    expect((await raw(keep.url, 'GET /static/..%2f..%2fapi/auth/x HTTP/1.1', ['Host: shop.test'])).status).toBe(400);
    const same = await raw(keep.url, 'GET /static/a%2Fb HTTP/1.1', ['Host: shop.test']);
    expect([same.status, same.body]).toEqual([200, 'file /static/a%2Fb']);
    expect(origin.requests.map((r) => r.url)).toEqual(['/static/a%2Fb']);
  });

  it('a dot-segment with path parameters ("..;/") is refused', async () => {
    origin = await resolvingOrigin();
    proxy = await startLarder(origin.url, { routes: [{ name: 'static', match: '/static/**', ttl: '5m' }] });
    expect((await raw(proxy.url, 'GET /static/..;/api/me HTTP/1.1', ['Host: shop.test'])).status).toBe(400);
    expect((await raw(proxy.url, 'GET /static/%2e%2e;x=1/api/me HTTP/1.1', ['Host: shop.test'])).status).toBe(400);
    expect(origin.count()).toBe(0);
  });
});

describe("a route's default ttl and credentials", () => {
  it('is not applied to a request with Cookie or Authorization', async () => {
    origin = await startOrigin((req, res) => res.end(`user=${req.headers.cookie ?? req.headers.authorization ?? 'none'}`));
    proxy = await startLarder(origin.url, { routes: [{ name: 'r', match: '/r/**', ttl: '5m' }] });
    await get(proxy.url, '/r/a', { cookie: 'sid=alice' });
    const anon = await get(proxy.url, '/r/a');
    expect([anon.body, anon.h('x-cache')]).toEqual(['user=none', 'MISS']);
    await get(proxy.url, '/r/b', { authorization: 'Bearer alice' });
    expect((await get(proxy.url, '/r/b')).body).toBe('user=none');
    expect(origin.count()).toBe(4);
    // Without credentials the route default still applies (once the key's hit-for-pass mark,
    // left by the credentialed answer, has been cleared by an answer that could be stored).
    await get(proxy.url, '/r/a');
    expect((await get(proxy.url, '/r/a')).h('x-cache')).toBe('HIT');
  });

  it('origin-declared freshness still works with a Cookie', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'public, max-age=60');
      res.end('shared');
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'r', match: '/r/**', ttl: '5m' }] });
    await get(proxy.url, '/r/a', { cookie: 'sid=alice' });
    expect((await get(proxy.url, '/r/a')).h('x-cache')).toBe('HIT');
    expect(origin.count()).toBe(1);
  });
});

describe('variant selection', () => {
  it('keeps the order of Accept-Language: "en, fr" and "fr, en" are different variants', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'Accept-Language');
      res.end(`lang=${(req.headers['accept-language'] ?? '').split(',')[0]!.trim()}`);
    });
    proxy = await startLarder(origin.url);
    expect((await get(proxy.url, '/p', { 'accept-language': 'en, fr' })).body).toBe('lang=en');
    const fr = await get(proxy.url, '/p', { 'accept-language': 'fr, en' });
    expect([fr.body, fr.h('x-cache')]).toEqual(['lang=fr', 'MISS']);
    const en = await get(proxy.url, '/p', { 'accept-language': 'EN,FR' });
    expect([en.body, en.h('x-cache')]).toEqual(['lang=en', 'HIT']);
    expect(origin.count()).toBe(2);
  });
});

describe('invalidation and purge find what requests stored', () => {
  const cached = (): Promise<Origin> =>
    startOrigin((req, res) => {
      if (req.method === 'POST') {
        const loc = req.headers['x-location'];
        if (typeof loc === 'string') res.setHeader('location', loc);
        res.statusCode = 201;
        return res.end('posted');
      }
      res.setHeader('cache-control', 'max-age=600');
      res.end(`v${origin!.count(req.url!)}`);
    });

  it("a POST invalidates a target with quotes, braces or escapes exactly as a GET keyed it", async () => {
    origin = await cached();
    proxy = await startLarder(origin.url);
    for (const t of ["/echo/inv?q='x'", '/items/{id}', '/p/%61b?x=%27', '/p/a/../c']) {
      await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test']);
      expect([t, (await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test'])).h('x-cache')]).toEqual([t, 'HIT']);
      expect((await raw(proxy.url, `POST ${t} HTTP/1.1`, ['Host: shop.test', 'Content-Length: 0'])).status).toBe(201);
      expect([t, (await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test'])).h('x-cache')]).toEqual([t, 'MISS']);
    }
  });

  it('a POST invalidates the key a GET stored even when the route is limited to GET and keys part of the query', async () => {
    origin = await cached();
    proxy = await startLarder(origin.url, { routes: [{ name: 'q', match: { path: '/q/**', methods: ['GET'] }, key: { query: ['a'] } }] });
    await raw(proxy.url, 'GET /q/x?a=1&b=2 HTTP/1.1', ['Host: shop.test']);
    expect((await raw(proxy.url, 'GET /q/x?a=1 HTTP/1.1', ['Host: shop.test'])).h('x-cache')).toBe('HIT');
    expect((await raw(proxy.url, 'POST /q/x?a=1&b=2 HTTP/1.1', ['Host: shop.test', 'Content-Length: 0'])).status).toBe(201);
    expect((await raw(proxy.url, 'GET /q/x?a=1 HTTP/1.1', ['Host: shop.test'])).h('x-cache')).toBe('MISS');
  });

  it('Location and Content-Location invalidate the entries they name', async () => {
    origin = await cached();
    proxy = await startLarder(origin.url);
    await raw(proxy.url, "GET /echo/inv?q='x' HTTP/1.1", ['Host: shop.test']);
    await raw(proxy.url, 'POST /create HTTP/1.1', ['Host: shop.test', 'Content-Length: 0', "X-Location: /echo/%69nv?q='x'"]);
    expect((await raw(proxy.url, "GET /echo/inv?q='x' HTTP/1.1", ['Host: shop.test'])).h('x-cache')).toBe('MISS');
  });

  it('a purge of a URL with encoded segments removes the entry a GET stored', async () => {
    origin = await cached();
    proxy = await startLarder(origin.url, { admin: { listen: '127.0.0.1:0', token: 't0ken' } });
    const addr = await proxy.larder.listenAdmin(0, '127.0.0.1');
    const purge = (urls: string[]) =>
      fetch(`http://127.0.0.1:${addr!.port}/purge`, {
        method: 'POST',
        headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' },
        body: JSON.stringify({ urls }),
      }).then((r) => r.json() as Promise<{ purged: number }>);
    const t = "/p/%61b/./c?q='x'";
    await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test']);
    expect((await purge(["http://shop.test/p/ab/c?q='x'"])).purged).toBe(1);
    expect((await raw(proxy.url, `GET ${t} HTTP/1.1`, ['Host: shop.test'])).h('x-cache')).toBe('MISS');
    expect((await purge([`http://shop.test${t}`])).purged).toBe(1);
    expect((await raw(proxy.url, 'GET /p/ab/c?q=\'x\' HTTP/1.1', ['Host: shop.test'])).h('x-cache')).toBe('MISS');
    const explained = (await fetch(`http://127.0.0.1:${addr!.port}/explain?url=${encodeURIComponent(`http://shop.test${t}`)}`, {
      headers: { authorization: 'Bearer t0ken' },
    }).then((r) => r.json())) as {
      key: { primary: string };
      wouldBe: string;
    };
    expect(explained.key.primary).toBe("shop.test/p/ab/c?q='x'");
    expect(explained.wouldBe).toBe('HIT (fresh)');
  });

  it('a method of unknown safety invalidates as RFC 9111 §4.4 requires, unless security.invalidateOnUnknownMethods is false', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=600');
      res.end('ok');
    });
    const send = async (p: Running, m: string) => (await raw(p.url, `${m} /x HTTP/1.1`, [`Host: ${new URL(p.url).host}`, 'Content-Length: 0'])).status;
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/x');
    expect(await send(proxy, 'OPTIONS')).toBe(200);
    expect((await get(proxy.url, '/x')).h('x-cache')).toBe('HIT');
    expect(await send(proxy, 'PURGE')).toBe(200);
    expect((await get(proxy.url, '/x')).h('x-cache')).toBe('MISS');

    const strict = await startLarder(origin.url, { security: { invalidateOnUnknownMethods: false } });
    extra.push(strict);
    await get(strict.url, '/x');
    // (node's parser knows PURGE, MKCOL, REPORT and other registered methods; not made-up ones.)
    for (const m of ['PURGE', 'MKCOL', 'REPORT', 'OPTIONS']) {
      expect(await send(strict, m)).toBe(200);
      expect([m, (await get(strict.url, '/x')).h('x-cache')]).toEqual([m, 'HIT']);
    }
    expect(await send(strict, 'PATCH')).toBe(200);
    expect((await get(strict.url, '/x')).h('x-cache')).toBe('MISS');
  });
});

describe('requests without Host', () => {
  it('an HTTP/1.0 request without Host reaches the origin with the origin\'s own Host, cached and passed through', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`site=${req.headers.host}`);
    });
    proxy = await startLarder(origin.url, { routes: [{ name: 'off', match: '/off/**', cache: false }] });
    const own = new URL(origin.url).host;
    for (const [line, fields] of [
      ['GET /a HTTP/1.0', []],
      ['GET /off/a HTTP/1.0', []],
      ['POST /off/b HTTP/1.0', ['Content-Length: 0']],
    ] as const) {
      const r = await raw(proxy.url, line, [...fields]);
      expect([line, r.status, r.body]).toEqual([line, 200, `site=${own}`]);
    }
  });
});

describe('request fields the origin may trust', () => {
  it('scheme claims are stripped by default', async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
    proxy = await startLarder(origin.url);
    const claims = ['X-Scheme', 'Front-End-Https', 'X-Url-Scheme', 'X-Forwarded-Scheme', 'X-Forwarded-Ssl'];
    await raw(proxy.url, 'GET /s HTTP/1.1', ['Host: shop.test', ...claims.map((c) => `${c}: https`)]);
    const seen = origin.requests[0]!.headers;
    for (const c of claims) expect([c, seen[c.toLowerCase()]]).toEqual([c, undefined]);
  });
});

describe('absolute-form targets', () => {
  it('take their authority from the URI, for the key and for the Host the origin receives', async () => {
    origin = await startOrigin((req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(`site=${req.headers.host}`);
    });
    proxy = await startLarder(origin.url);
    const a = await raw(proxy.url, 'GET http://Other.Example/x HTTP/1.1', ['Host: victim.example']);
    expect(a.body).toBe('site=other.example');
    const victim = await raw(proxy.url, 'GET /x HTTP/1.1', ['Host: victim.example']);
    expect([victim.body, victim.h('x-cache')]).toEqual(['site=victim.example', 'MISS']);
    const other = await raw(proxy.url, 'GET /x HTTP/1.1', ['Host: other.example']);
    expect([other.body, other.h('x-cache')]).toEqual(['site=other.example', 'HIT']);
    expect((await raw(proxy.url, 'GET http://user@victim.example/x HTTP/1.1', ['Host: victim.example'])).status).toBe(400);
    expect(origin.count()).toBe(2);
  });
});

describe('property: the resolver agrees with the request the origin received', () => {
  const segment = fc.constantFrom('a', 'B', '.', '..', '%2e', '%2E%2e', '.%2e', '', '%61', '%7e', '%7E', 'x;y', '%00', '%25', 'api', 'static', '%3F', '%20');
  const query = fc.array(fc.constantFrom('a=1', 'b=2', 'a=%2e%2e', "q='x'", 'z', '', 'c=%41'), { maxLength: 4 });
  const target = fc
    .tuple(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.option(query, { nil: undefined }))
    .map(([segs, q]) => '/' + segs.join('/') + (q === undefined ? '' : '?' + q.join('&')));
  const fields = fc.subarray(['accept-language', 'x-tenant', 'accept', 'cookie', 'authorization', 'x-other']);

  it('for random targets and Connection lists, route and key recomputed from what the origin saw are the ones used', async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
    const rules = {
      routes: [
        { name: 'static', match: '/static/**', ttl: '5m' },
        { name: 'api', match: '/api/**', cache: false },
        { name: 'keyed', match: '/a/**', key: { query: ['a', 'q'], headers: ['x-tenant'] } },
      ],
    };
    proxy = await startLarder(origin.url, rules);
    const config = buildConfig({ listen: '127.0.0.1:0', origin: origin.url, ...rules }, {});
    await fc.assert(
      fc.asyncProperty(target, fields, fc.constantFrom('shop.test', 'Shop.Test:8080'), async (t, named, host) => {
        const before = origin!.count();
        const values = ['accept-language: fr', 'x-tenant: acme', 'accept: text/csv', 'cookie: s=1', 'authorization: Basic eA==', 'x-other: 1'];
        const sent = [`Host: ${host}`, ...values, `Connection: close${named.map((n) => ', ' + n).join('')}`];
        const r = await raw(proxy!.url, `GET ${t} HTTP/1.1`, sent);
        const mine = resolveRequest(config, 'GET', host, t);
        if ('problem' in mine) {
          expect(r.status).toBe(400);
          expect(origin!.count()).toBe(before);
          return;
        }
        expect(r.status).toBe(200);
        if (origin!.count() === before) return; // answered from the cache
        const seen = origin!.requests[origin!.count() - 1]!;
        const theirs = resolveRequest(config, 'GET', String(seen.headers.host), seen.url);
        if ('problem' in theirs) throw new Error(`origin received an unresolvable request ${seen.url}`);
        expect(theirs.route.name).toBe(mine.route.name);
        expect(theirs.host).toBe(mine.host);
        expect(mine.route.cache ? theirs.key.primary : theirs.target).toBe(mine.route.cache ? mine.key.primary : mine.target);
        // What the origin saw is already normal: resolving it again changes nothing.
        expect(seen.url).toBe(mine.route.cache ? mine.key.target : mine.target);
        for (const n of named) expect([n, seen.headers[n]]).toEqual([n, undefined]);
      }),
      { numRuns: 150 },
    );
  });
});
