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

describe('invalidation by unsafe methods', () => {
  it('drops the stored URL after a successful POST, and Location / Content-Location on the same host', async () => {
    origin = await startOrigin((req, res, n) => {
      if (req.method === 'POST') {
        req.resume();
        res.writeHead(201, { location: '/items/2', 'content-location': '/items/3' });
        return void res.end('created');
      }
      res.setHeader('cache-control', 'max-age=60');
      res.end(`${req.url} v${n}`);
    });
    proxy = await startLarder(origin.url);
    for (const p of ['/items', '/items/2', '/items/3', '/items/4']) await get(proxy.url, p);
    const post = await get(proxy.url, '/items', {}, 'POST');
    expect(post.status).toBe(201);
    expect(post.h('x-cache')).toBe('BYPASS');
    for (const p of ['/items', '/items/2', '/items/3']) {
      expect((await get(proxy.url, p)).h('x-cache'), p).toBe('MISS');
    }
    expect((await get(proxy.url, '/items/4')).h('x-cache')).toBe('HIT');
  });

  it('keeps the entry when the unsafe request fails', async () => {
    origin = await startOrigin((req, res) => {
      if (req.method === 'DELETE') {
        res.statusCode = 500;
        return void res.end('no');
      }
      res.setHeader('cache-control', 'max-age=60');
      res.end('kept');
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/k');
    await get(proxy.url, '/k', {}, 'DELETE');
    expect((await get(proxy.url, '/k')).h('x-cache')).toBe('HIT');
  });

  it('removes every Vary variant of the URL', async () => {
    origin = await startOrigin((req, res, n) => {
      if (req.method === 'PUT') {
        req.resume();
        return void res.end('ok');
      }
      res.setHeader('cache-control', 'max-age=60');
      res.setHeader('vary', 'accept-language');
      res.end(`v${n}`);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/vv', { 'accept-language': 'en' });
    await get(proxy.url, '/vv', { 'accept-language': 'de' });
    await get(proxy.url, '/vv', {}, 'PUT');
    expect((await get(proxy.url, '/vv', { 'accept-language': 'en' })).h('x-cache')).toBe('MISS');
    expect((await get(proxy.url, '/vv', { 'accept-language': 'de' })).h('x-cache')).toBe('MISS');
  });
});
