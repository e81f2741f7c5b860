// trustedProxies: X-Forwarded-For, -Proto and -Host from a listed peer are kept and extended;
// from anyone else they never reach the origin. Asserted on what a real origin receives.
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { createLarder, type Larder } from '../../src/app.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';

let origin: Origin | undefined;
let proxy: Running | undefined;
let other: Larder | undefined;

afterEach(async () => {
  await proxy?.close();
  await other?.close(500);
  await origin?.close();
  proxy = undefined;
  other = undefined;
  origin = undefined;
});

const FORGED = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' };

async function cachedOrigin(): Promise<Origin> {
  return startOrigin((req, res) => {
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => res.end('posted'));
      return;
    }
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
    res.end('body');
  });
}

describe('trustedProxies', () => {
  it('an untrusted peer: forged X-Forwarded-* never reach the origin, on a fill, a relay and a pass-through', async () => {
    origin = await cachedOrigin();
    proxy = await startLarder(origin.url, { trustedProxies: ['10.0.0.0/8'], routes: [{ name: 'off', match: '/off/**', cache: false }] });
    expect((await get(proxy.url, '/a', FORGED)).h('x-cache')).toBe('MISS');
    expect((await get(proxy.url, '/off/b', FORGED)).status).toBe(200);
    expect((await get(proxy.url, '/c', FORGED, 'POST')).body).toBe('posted');
    expect(origin.count()).toBe(3);
    for (const seen of origin.requests) {
      expect(seen.headers['x-forwarded-for'], seen.url).toBe('127.0.0.1');
      expect(seen.headers['x-forwarded-proto'], seen.url).toBe('http');
      expect(seen.headers['x-forwarded-host'], seen.url).toBe(proxy.url.slice('http://'.length));
      expect(JSON.stringify(seen.headers)).not.toContain('6.6.6.6');
      expect(JSON.stringify(seen.headers)).not.toContain('evil.example');
    }
  });

  it('a trusted peer: X-Forwarded-For is extended with the peer, -Proto and -Host are kept', async () => {
    origin = await cachedOrigin();
    proxy = await startLarder(origin.url, { trustedProxies: ['10.0.0.0/8', '127.0.0.1'], routes: [{ name: 'off', match: '/off/**', cache: false }] });
    expect((await get(proxy.url, '/a', FORGED)).h('x-cache')).toBe('MISS');
    expect((await get(proxy.url, '/off/b', FORGED)).status).toBe(200);
    expect((await get(proxy.url, '/c', FORGED, 'POST')).body).toBe('posted');
    expect(origin.count()).toBe(3);
    for (const seen of origin.requests) {
      expect(seen.headers['x-forwarded-for'], seen.url).toBe('6.6.6.6, 127.0.0.1');
      expect(seen.headers['x-forwarded-proto'], seen.url).toBe('https');
      expect(seen.headers['x-forwarded-host'], seen.url).toBe('evil.example');
      // The authority stays the Host header: X-Forwarded-Host neither routes nor keys.
      expect(seen.headers['host'], seen.url).toBe(proxy.url.slice('http://'.length));
    }
    // Same key whatever X-Forwarded-Host says: a hit.
    const hit = await get(proxy.url, '/a', { ...FORGED, 'x-forwarded-host': 'other.example' });
    expect(hit.h('x-cache')).toBe('HIT');
    expect(origin.count()).toBe(3);
  });

  it('a trusted peer without forwarding fields: the chain starts with it, the scheme is the listener\'s', async () => {
    origin = await cachedOrigin();
    proxy = await startLarder(origin.url, { trustedProxies: ['127.0.0.0/8'] });
    await get(proxy.url, '/a', { 'x-forwarded-proto': 'gopher' });
    const seen = origin.requests[0]!;
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
  });

  it('IPv4-mapped IPv6 peers match IPv4 blocks (a dual-stack listener)', async () => {
    origin = await cachedOrigin();
    const config = buildConfig({ listen: '[::]:0', origin: origin.url, trustedProxies: ['127.0.0.0/8'] }, {});
    other = createLarder(config, { defaultMetrics: false });
    const addr = await other.listen();
    await get(`http://127.0.0.1:${addr.port}`, '/a', FORGED);
    const seen = origin.requests[0]!;
    expect(seen.headers['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
  });

  it('IPv6 peers and blocks', async () => {
    origin = await cachedOrigin();
    const config = buildConfig({ listen: '[::1]:0', origin: origin.url, trustedProxies: ['::1/128'] }, {});
    other = createLarder(config, { defaultMetrics: false });
    const addr = await other.listen();
    await get(`http://[::1]:${addr.port}`, '/a', FORGED);
    expect(origin.requests[0]!.headers['x-forwarded-for']).toBe('6.6.6.6, ::1');
  });

  it('rejects entries that are not addresses or blocks, with their place', () => {
    expect(() => buildConfig({ trustedProxies: ['10.0.0.0/33', 'example.com', '::1'] }, {})).toThrow(/trustedProxies\[0\].*\n.*trustedProxies\[1\]/);
  });
});
