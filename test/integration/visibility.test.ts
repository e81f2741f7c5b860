/**
 * What operators see: access lines, GET /status against a known request mix, the admin token
 * rules per endpoint, and the metric label sets present from the start.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { createLarder, type Larder } from '../../src/app.js';
import { AccessLog, keyDigest, parseCombined, type AccessSettings } from '../../src/ops/access-log.js';
import type { StatusSnapshot } from '../../src/ops/status.js';
import { PAGE_CSP } from '../../src/http/admin.js';
import { ManualClock } from '../../src/clock.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { raw } from '../helpers/client.js';
import { freePort } from '../helpers/redis.js';
import { runStatus } from '../../src/cli/status.js';

let origin: Origin | undefined;
const open: Larder[] = [];

afterEach(async () => {
  for (const l of open.splice(0)) await l.close(500);
  await origin?.close();
  origin = undefined;
});

const TOKEN = 'vis-token-42';

const ROUTES = [
  { name: 'api', match: '/api/**', ttl: '1h' },
  { name: 'off', match: '/off/**', cache: false },
];

async function start(rules: Record<string, unknown>, access?: { settings: () => AccessSettings; lines: string[] }, clock = new ManualClock(Date.UTC(2026, 11, 1, 17, 20, 0))) {
  const config = buildConfig({ listen: '127.0.0.1:0', origin: origin!.url, routes: ROUTES, ...rules }, {});
  let larder!: Larder;
  const log = access
    ? new AccessLog({ settings: access.settings, config: () => larder.config(), now: () => clock.now(), write: (l) => access.lines.push(l) })
    : undefined;
  larder = createLarder(config, { clock, defaultMetrics: false, ...(log ? { access: log } : {}) });
  open.push(larder);
  const addr = await larder.listen(0, '127.0.0.1');
  const admin = await larder.listenAdmin(0, '127.0.0.1');
  return { larder, clock, url: `http://127.0.0.1:${addr.port}`, admin: admin ? `http://127.0.0.1:${admin.port}` : '' };
}

/** One request on its own connection; the bytes the client received, as the server counts them. */
async function send(url: string, path: string): Promise<{ status: number; bytes: number; xcache: string }> {
  const r = await raw(url, `GET ${path} HTTP/1.1`, [`Host: ${new URL(url).host}`, 'User-Agent: vis-test/1']);
  return { status: r.status, bytes: Buffer.byteLength(r.head + '\r\n\r\n' + r.body, 'latin1'), xcache: r.h('x-cache') };
}

const exampleOrigin = () =>
  startOrigin((req, res) => {
    if (req.url?.startsWith('/priv')) res.setHeader('cache-control', 'private, max-age=60');
    else res.setHeader('cache-control', 'max-age=60');
    res.end(`body of ${req.url}`);
  });

/** The known mix: 9 requests, 3 hits. */
const MIX = ['/api/a', '/api/a', '/api/a', '/api/b', '/api/b', '/off/x', '/off/x', '/priv', '/api/a?token=s3cret&x=1'];

describe('access lines', () => {
  it('name the server of an upstream that answered each request that went there', async () => {
    origin = await exampleOrigin();
    const second = await exampleOrigin();
    try {
      const lines: string[] = [];
      const settings: AccessSettings = { format: 'json', sample: 1, redactQuery: [] };
      const s = await start({ origin: 'api', upstreams: { api: { servers: [origin.url, second.url] } } }, { settings: () => settings, lines });
      for (const p of ['/api/1', '/api/2', '/api/3', '/api/4', '/api/1']) await send(s.url, p);
      const json = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const misses = json.filter((j) => j['cache'] === 'MISS');
      expect(misses).toHaveLength(4);
      // Each MISS names the server that received it; round-robin uses both.
      for (const j of misses) {
        const at = j['upstream'] === origin.url ? origin : second;
        expect(at.requests.some((r) => r.url === j['path'])).toBe(true);
      }
      expect(new Set(misses.map((j) => j['upstream']))).toEqual(new Set([origin.url, second.url]));
      // A hit went nowhere: it names the route's upstream.
      expect(json.at(-1)).toMatchObject({ cache: 'HIT', upstream: 'api' });
    } finally {
      await second.close();
    }
  });

  it('JSON and combined lines say what happened to each request, with the bytes sent and query values redacted', async () => {
    origin = await exampleOrigin();
    let settings: AccessSettings = { format: 'json', sample: 1, redactQuery: ['token', 'api_key'] };
    const lines: string[] = [];
    const s = await start({}, { settings: () => settings, lines });
    const sent: Array<{ status: number; bytes: number; xcache: string }> = [];
    for (const p of MIX) sent.push(await send(s.url, p));
    const host = new URL(s.url).host;
    const json = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json).toHaveLength(MIX.length);
    expect(json.map((j) => j['cache'])).toEqual(['MISS', 'HIT', 'HIT', 'MISS', 'HIT', 'BYPASS', 'BYPASS', 'MISS', 'MISS']);
    expect(json.map((j) => j['bytes'])).toEqual(sent.map((x) => x.bytes));
    expect(json.map((j) => j['route'])).toEqual(['api', 'api', 'api', 'api', 'api', 'off', 'off', 'default', 'api']);
    expect(json[0]).toMatchObject({ time: '2026-12-01T17:20:00.000Z', type: 'access', client: '127.0.0.1', method: 'GET', path: '/api/a', http: '1.1', status: 200, detail: 'uri-miss', tier: null, upstream: origin.url, key: keyDigest(`${host}/api/a`), user_agent: 'vis-test/1' });
    expect(json[1]).toMatchObject({ cache: 'HIT', tier: 'memory', detail: null, key: keyDigest(`${host}/api/a`) });
    expect(json[5]).toMatchObject({ cache: 'BYPASS', detail: 'route-off' });
    expect(json[7]).toMatchObject({ cache: 'MISS', detail: 'private' });
    expect(json[8]!['path']).toBe('/api/a?token=REDACTED&x=1');
    expect(lines.join('\n')).not.toContain('s3cret');
    for (const j of json) expect(typeof j['ms']).toBe('number');
    // The origin's time for the requests that went there (misses and pass-through), none for hits.
    expect(json.map((j) => typeof j['upstream_ms'])).toEqual(['number', 'object', 'object', 'number', 'object', 'number', 'number', 'number', 'number']);
    for (const j of json) if (typeof j['upstream_ms'] === 'number') expect(j['upstream_ms']).toBeLessThanOrEqual(j['ms'] as number);

    settings = { format: 'combined', sample: 1, redactQuery: ['TOKEN'] };
    lines.length = 0;
    const again = await send(s.url, '/api/a?token=s3cret&x=1');
    expect(lines).toHaveLength(1);
    const c = parseCombined(lines[0]!);
    expect(c).toMatchObject({
      client: '127.0.0.1',
      time: '01/Dec/2026:17:20:00 +0000',
      request: 'GET /api/a?token=REDACTED&x=1 HTTP/1.1',
      status: '200',
      bytes: String(again.bytes),
      referer: '-',
      userAgent: 'vis-test/1',
      cache: 'HIT',
      detail: '-',
      route: 'api',
      tier: 'memory',
      upstreamMs: '-',
      upstream: origin.url,
      key: keyDigest(`${host}/api/a?token=s3cret&x=1`),
    });

    settings = { format: 'json', sample: 0, redactQuery: [] };
    lines.length = 0;
    await send(s.url, '/api/a');
    expect(lines).toEqual([]);
  });
});

describe('GET /status', () => {
  it('gives the numbers of a known request mix, overall, per route and per bucket', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0' } });
    const sent: Array<{ status: number; bytes: number; xcache: string }> = [];
    for (const p of MIX.slice(0, 5)) sent.push(await send(s.url, p));
    s.clock.advance(10_000); // the next bucket
    for (const p of MIX.slice(5)) sent.push(await send(s.url, p));
    const res = await fetch(s.admin + '/status');
    expect(res.status).toBe(200);
    const st = (await res.json()) as StatusSnapshot;
    const host = new URL(s.url).host;
    const hitBytes = [1, 2, 4].reduce((n, i) => n + sent[i]!.bytes, 0);
    const allBytes = sent.reduce((n, x) => n + x.bytes, 0);
    expect(st.totals).toEqual({
      requests: 9,
      hits: 3,
      collapsed: 0,
      bytesCache: hitBytes,
      bytesFetched: allBytes - hitBytes,
      originSaved: 3,
      routes: {
        api: { requests: 6, hits: 3, collapsed: 0, bytesCache: hitBytes, bytesFetched: sent[0]!.bytes + sent[3]!.bytes + sent[8]!.bytes },
        off: { requests: 2, hits: 0, collapsed: 0, bytesCache: 0, bytesFetched: sent[5]!.bytes + sent[6]!.bytes },
        default: { requests: 1, hits: 0, collapsed: 0, bytesCache: 0, bytesFetched: sent[7]!.bytes },
      },
    });
    expect(st.series.slice(-2).map((b) => [b.requests, b.hits])).toEqual([
      [5, 3],
      [4, 0],
    ]);
    expect(st.series.at(-1)!.routes['off']).toMatchObject({ requests: 2, hits: 0 });
    expect(st.window.keys[0]).toEqual({ key: `${host}/api/a`, requests: 3, misses: 1 });
    expect(st.window.keys.map((k) => k.key)).toContain(`${host}/api/a?token=REDACTED&x=1`);
    expect(JSON.stringify(st)).not.toContain('s3cret');
    expect(st.window.missReasons).toEqual([
      { reason: 'uri-miss', count: 3 },
      { reason: 'route-off', count: 2 },
      { reason: 'private', count: 1 },
    ]);
    expect(st.memory).toMatchObject({ entries: s.larder.memory.entries, bytes: s.larder.memory.bytes, maxSize: 256 * 1024 * 1024, evictions: 0 });
    expect(st.redis).toEqual({ configured: false });
    expect(st.upstreams).toEqual([]);
    expect(st.workers).toBe(1);

    // Purges and reloads are listed with their results.
    const purge = await fetch(s.admin + '/purge', { method: 'POST', body: '{"urls":["/api/a"]}' });
    expect(purge.status).toBe(403); // no token: the purge API is off
    s.larder.reload(s.larder.config());
    s.larder.reloadFailed('rules.yaml:3:1 bad');
    const events = ((await (await fetch(s.admin + '/status')).json()) as StatusSnapshot).events;
    expect(events.map((e) => [e.kind, e.result, e.detail])).toEqual([
      ['reload', 'ok', '2 routes'],
      ['reload', 'error', 'rules.yaml:3:1 bad'],
    ]);
  });

  it('shows each named upstream server and whether it takes traffic', async () => {
    origin = await exampleOrigin();
    // A second server where nothing listens: its first request fails to connect and marks it down.
    const dead = `http://127.0.0.1:${await freePort()}`;
    const s = await start({
      admin: { listen: '127.0.0.1:0' },
      origin: 'api',
      upstreams: { api: { servers: [origin.url, dead], retry: { attempts: 2, on: ['connect'] } } },
    });
    const before = ((await (await fetch(s.admin + '/status')).json()) as StatusSnapshot).upstreams;
    expect(before).toEqual([{ name: 'api', servers: [{ url: origin.url, up: true, inFlight: 0 }, { url: dead, up: true, inFlight: 0 }] }]);
    for (const p of ['/api/u1', '/api/u2', '/api/u3']) expect((await send(s.url, p)).status).toBe(200);
    const after = ((await (await fetch(s.admin + '/status')).json()) as StatusSnapshot).upstreams;
    expect(after).toEqual([{ name: 'api', servers: [{ url: origin.url, up: true, inFlight: 0 }, { url: dead, up: false, inFlight: 0 }] }]);
  });

  it('lists no upstream for a URL origin', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0' } });
    expect(((await (await fetch(s.admin + '/status')).json()) as StatusSnapshot).upstreams).toEqual([]);
  });

  it('is off, and collects nothing, with admin.status: false', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0', status: false } });
    await send(s.url, '/api/a');
    expect(s.larder.status()).toBeUndefined();
    expect((await fetch(s.admin + '/status')).status).toBe(404);
    expect((await fetch(s.admin + '/')).status).toBe(404);
    expect((await fetch(s.admin + '/metrics')).status).toBe(200);
  });
});

describe('admin token rules', () => {
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const basic = (t: string) => ({ authorization: `Basic ${Buffer.from(`any:${t}`).toString('base64')}` });
  const GETS = ['/', '/page.js', '/page.css', '/status', '/explain?url=/api/a', '/metrics', '/healthz', '/readyz'];

  async function statuses(admin: string, headers: Record<string, string> = {}): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const p of GETS) out[p] = (await fetch(admin + p, { headers })).status;
    out['POST /purge'] = (await fetch(admin + '/purge', { method: 'POST', headers, body: '{"urls":["/x"]}' })).status;
    return out;
  }

  it('with a token: everything needs it except admin.public (metrics, healthz, readyz by default)', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0', token: TOKEN } });
    const closed = { '/': 401, '/page.js': 401, '/page.css': 401, '/status': 401, '/explain?url=/api/a': 401, '/metrics': 200, '/healthz': 200, '/readyz': 200, 'POST /purge': 401 };
    expect(await statuses(s.admin)).toEqual(closed);
    expect(await statuses(s.admin, bearer('wrong-token!'))).toEqual(closed);
    const all = { '/': 200, '/page.js': 200, '/page.css': 200, '/status': 200, '/explain?url=/api/a': 200, '/metrics': 200, '/healthz': 200, '/readyz': 200, 'POST /purge': 200 };
    expect(await statuses(s.admin, bearer(TOKEN))).toEqual(all);
    // What a browser sends after the Basic prompt: the token as the password.
    expect(await statuses(s.admin, basic(TOKEN))).toEqual(all);
    const refused = await fetch(s.admin + '/');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm="larder admin"/);
    expect(await refused.text()).not.toContain('<html');
  });

  it('admin.public opens what it lists, and nothing else', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0', token: TOKEN, public: ['status', 'healthz'] } });
    expect(await statuses(s.admin)).toEqual({ '/': 200, '/page.js': 200, '/page.css': 200, '/status': 200, '/explain?url=/api/a': 401, '/metrics': 401, '/healthz': 200, '/readyz': 401, 'POST /purge': 401 });
  });

  it('without a token: the GETs are open and the purge API is off', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0' } });
    expect(await statuses(s.admin)).toEqual({ '/': 200, '/page.js': 200, '/page.css': 200, '/status': 200, '/explain?url=/api/a': 200, '/metrics': 200, '/healthz': 200, '/readyz': 200, 'POST /purge': 403 });
  });

  it('serves the page with a strict Content-Security-Policy and no caching', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0' } });
    const page = await fetch(s.admin + '/');
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(PAGE_CSP);
    expect(PAGE_CSP).toContain("script-src 'self'");
    expect(PAGE_CSP).not.toContain('unsafe');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<style>| style=|https?:\/\//);
    const js = await (await fetch(s.admin + '/page.js')).text();
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });
});

describe('metrics from the start', () => {
  it('has every bounded label set at 0 before the first event', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0' } });
    const text = await (await fetch(s.admin + '/metrics')).text();
    expect(text).toContain('larder_config_reloads_total{result="ok"} 0');
    expect(text).toContain('larder_config_reloads_total{result="error"} 0');
    for (const route of ['api', 'off', 'default']) {
      for (const cache of ['hit', 'miss', 'stale', 'revalidated', 'bypass']) expect(text).toContain(`larder_requests_total{route="${route}",cache="${cache}"} 0`);
      expect(text).toContain(`larder_cache_hits_total{route="${route}",tier="memory"} 0`);
      expect(text).toContain(`larder_origin_requests_total{route="${route}",status_class="5xx"} 0`);
      expect(text).toContain(`larder_request_duration_seconds_count{route="${route}",cache="hit"} 0`);
    }
    for (const kind of ['url', 'path', 'prefix', 'tag']) expect(text).toContain(`larder_purges_total{kind="${kind}"} 0`);
    // Without Redis its gauges are absent, not 0.
    expect(text).not.toContain('larder_redis_up');
    // A route added by a reload gets its series at once.
    s.larder.reload(buildConfig({ listen: '127.0.0.1:0', origin: origin.url, routes: [...ROUTES, { name: 'late', match: '/late/**' }] }, {}));
    const after = await (await fetch(s.admin + '/metrics')).text();
    expect(after).toContain('larder_requests_total{route="late",cache="miss"} 0');
    expect(after).toContain('larder_config_reloads_total{result="ok"} 1');
  });
});

describe('larder status', () => {
  it('prints /status of a running instance as tables, with the token where one is set', async () => {
    origin = await exampleOrigin();
    const s = await start({ admin: { listen: '127.0.0.1:0', token: TOKEN } });
    for (const p of MIX) await send(s.url, p);
    await send(s.url, '/api/%1b%5b2J?token=x');
    const run = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await runStatus(['--config', '/nonexistent/rules.yaml', ...args], { out: (x) => (out += x), err: (x) => (err += x) });
      return { code, out, err };
    };
    const refused = await run('--admin', s.admin);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('answered 401 (give the admin token: --token or LARDER_ADMIN_TOKEN)');

    const shown = await run('--admin', s.admin, '--token', TOKEN);
    expect(shown.code).toBe(0);
    const lines = shown.out.split('\n');
    expect(lines[1]).toMatch(/^requests 10 {2}hits 3 \(30\.0%\) {2}origin requests saved 3 /);
    const row = (name: string) => lines.find((l) => l.startsWith(name + ' '))?.trim().split(/\s+/);
    expect(row('api')).toEqual(['api', '7', '3', '42.9%', expect.stringMatching(/^\d+\.\d$/)]);
    expect(row('off')).toEqual(['off', '2', '0', '0.0%', expect.stringMatching(/^\d+\.\d$/)]);
    expect(row('uri-miss')).toEqual(['uri-miss', '4']);
    expect(row('route-off')).toEqual(['route-off', '2']);
    expect(shown.out).toContain('redis    not configured');
    expect(shown.out).toContain('?token=REDACTED');
    // Control characters a client sent are shown escaped, never sent to the terminal.
    expect(shown.out).not.toMatch(/\x1b/);

    const json = await run('--admin', s.admin, '--token', TOKEN, '--json');
    expect((JSON.parse(json.out) as StatusSnapshot).totals.requests).toBe(10);
    expect((await run('--admin', 'http://127.0.0.1:1')).code).toBe(1);
    expect((await run('--bogus')).code).toBe(2);
  });
});
