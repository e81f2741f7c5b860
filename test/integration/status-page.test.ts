/**
 * The status page in a real browser: larder serves it, traffic goes through, headless Chromium
 * renders it, and the numbers it shows are those of /status and /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { createLarder, type Larder } from '../../src/app.js';
import type { StatusSnapshot } from '../../src/ops/status.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { get } from '../helpers/client.js';
import { decode, findChromium, INSTALL_BROWSER, renderedDom, textOf } from '../helpers/browser.js';

const chromium = findChromium();
const skip = chromium === undefined && process.env['LARDER_SKIP_BROWSER'] === '1';
if (chromium === undefined) process.stderr.write(`${skip ? 'SKIPPED' : 'FAILING'}: ${INSTALL_BROWSER}\n`);

let origin: Origin;
let larder: Larder;
let url: string;
let admin: string;

beforeAll(async () => {
  origin = await startOrigin((req, res) => {
    if (req.url?.startsWith('/api/private')) res.setHeader('cache-control', 'private');
    else if (req.url?.startsWith('/api/')) res.setHeader('cache-control', 'max-age=300');
    res.end(`body of ${req.url}`);
  });
  const config = buildConfig(
    {
      listen: '127.0.0.1:0',
      origin: origin.url,
      admin: { listen: '127.0.0.1:0' },
      routes: [
        { name: 'api', match: '/api/**' },
        { name: 'static', match: '/static/**', ttl: '1h' },
      ],
    },
    {},
  );
  larder = createLarder(config, { defaultMetrics: false });
  url = `http://127.0.0.1:${(await larder.listen(0, '127.0.0.1')).port}`;
  admin = `http://127.0.0.1:${(await larder.listenAdmin(0, '127.0.0.1'))!.port}`;
});

afterAll(async () => {
  await larder?.close(500);
  await origin?.close();
});

/** Requests per route: api 20 (4 keys, 16 hits) + 3 private, static 10 (1 key, 9 hits), a hostile key 2. */
async function drive(): Promise<void> {
  for (let i = 0; i < 20; i++) await get(url, `/api/item/${i % 4}`);
  for (let i = 0; i < 3; i++) await get(url, '/api/private');
  for (let i = 0; i < 10; i++) await get(url, '/static/app.js?token=hunter2');
  for (let i = 0; i < 2; i++) await get(url, `/x/${encodeURIComponent('<img src=x onerror=alert(1)>')}?q=%3Cb%3E`);
}

function sum(metrics: string, name: string, labels: Record<string, string>): number {
  let n = 0;
  for (const m of metrics.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    const got = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) n += Number(m[2]);
  }
  return n;
}

const pct = (part: number, whole: number) => (whole > 0 ? ((100 * part) / whole).toFixed(1) + '%' : '–');

describe.skipIf(skip)('the status page in Chromium', () => {
  it('shows the numbers of /status and /metrics, and renders client data as text', async () => {
    if (chromium === undefined) throw new Error(INSTALL_BROWSER);
    await drive();
    const dom = await renderedDom(chromium, admin + '/');
    const status = (await (await fetch(admin + '/status')).json()) as StatusSnapshot;
    const metrics = await (await fetch(admin + '/metrics')).text();

    expect(dom).toContain('data-ready="1"');
    expect(textOf(dom, 'state')).toBe('live');
    // Totals: the page, /status and /metrics agree.
    const requests = sum(metrics, 'larder_requests_total', {});
    const hits = sum(metrics, 'larder_requests_total', { cache: 'hit' }) + sum(metrics, 'larder_requests_total', { cache: 'stale' });
    expect(requests).toBe(35);
    expect(status.totals.requests).toBe(requests);
    expect(status.totals.hits).toBe(hits);
    expect(textOf(dom, 'total-requests')).toBe(String(requests));
    expect(textOf(dom, 'total-hits')).toBe(String(hits));
    expect(textOf(dom, 'hit-ratio')).toBe(pct(hits, requests));
    expect(textOf(dom, 'origin-saved')).toBe(String(status.totals.originSaved));
    expect(dom).toContain(`id="bytes-cache" data-value="${status.totals.bytesCache}"`);
    expect(dom).toContain(`id="bytes-fetched" data-value="${status.totals.bytesFetched}"`);
    expect(status.totals.bytesCache).toBeGreaterThan(0);

    // Per route.
    for (const route of ['api', 'static', 'default']) {
      const row = new RegExp(`<tr data-route="${route}">([\\s\\S]*?)</tr>`).exec(dom)?.[1];
      expect(row, `the row of route ${route}`).toBeDefined();
      const cells = [...row!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => decode((m[1] as string).replace(/<[^>]*>/g, '')));
      const r = status.totals.routes[route]!;
      const routeHits = sum(metrics, 'larder_requests_total', { route, cache: 'hit' });
      expect(cells.slice(0, 4), route).toEqual([route, String(sum(metrics, 'larder_requests_total', { route })), String(routeHits), pct(routeHits, r.requests)]);
      expect(r.hits).toBe(routeHits);
    }
    expect(status.totals.routes['api']).toMatchObject({ requests: 23, hits: 16 });
    expect(status.totals.routes['static']).toMatchObject({ requests: 10, hits: 9 });

    // Tiers.
    expect(textOf(dom, 'memory-entries')).toBe(String(status.memory.entries));
    expect(status.memory.entries).toBe(sum(metrics, 'larder_memory_entries', {}));
    expect(textOf(dom, 'evictions')).toBe(String(sum(metrics, 'larder_memory_evictions_total', {})));
    expect(textOf(dom, 'redis')).toBe('not configured');
    expect(textOf(dom, 'upstreams')).toMatch(/^none/);

    // Keys and reasons: redacted, and a hostile path shown as text, never as markup.
    const keys = textOf(dom, 'keys');
    expect(keys).toContain('/static/app.js?token=REDACTED');
    expect(dom).not.toContain('hunter2');
    expect(dom).not.toMatch(/<img[^>]*onerror/i);
    expect(dom).not.toContain('<b>');
    expect(status.window.missReasons).toEqual([
      { reason: 'uri-miss', count: 5 },
      { reason: 'private', count: 3 },
      { reason: 'no-freshness', count: 2 },
    ]);
    expect(textOf(dom, 'reasons').replace(/\s+/g, '')).toBe('reasonrequests' + status.window.missReasons.map((r) => r.reason + r.count).join(''));
    // A key with markup in it arrives percent-encoded (as sent) and is shown as the text it is.
    expect(keys).toContain('/x/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E?q=%3Cb%3E');
  });
});
