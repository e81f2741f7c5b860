import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';

let origin: Origin | undefined;
let proxy: Running;
let raw: net.Server | undefined;

afterEach(async () => {
  await proxy?.close();
  await origin?.close();
  origin = undefined;
  raw?.close();
  raw = undefined;
});

/** A TCP server that answers every connection with the given bytes (then maybe hangs). */
async function rawOrigin(answer: string, end = true): Promise<string> {
  raw = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => {
      s.write(answer);
      if (end) s.end();
    });
  });
  await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(raw.address() as net.AddressInfo).port}`;
}

describe('origin failures', () => {
  it('answers 502 naming the cause when the origin refuses connections', async () => {
    const o = await startOrigin();
    const url = o.url;
    await o.close();
    proxy = await startLarder(url);
    const r = await get(proxy.url, '/x');
    expect(r.status).toBe(502);
    expect(r.body).toBe('LARDER_ORIGIN_UNREACHABLE: the origin refused the connection\n');
    expect(r.h('cache-control')).toBe('no-store');
  });

  it('answers 504 when the origin does not send headers in time', async () => {
    const url = await rawOrigin('', false);
    proxy = await startLarder(url, { timeouts: { connect: '1s', headers: '300ms', body: '1s' } });
    const r = await get(proxy.url, '/slow');
    expect(r.status).toBe(504);
    expect(r.body).toContain('LARDER_ORIGIN_TIMEOUT');
  });

  it('never stores a truncated body', async () => {
    const url = await rawOrigin('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 100\r\n\r\nonly this');
    proxy = await startLarder(url);
    const a = await get(proxy.url, '/t');
    expect(a.status).toBe(502);
    expect(a.body).toContain('LARDER_ORIGIN_INCOMPLETE');
    expect(proxy.larder.memory.entries).toBe(0);
  });

  it('streams a body over maxEntrySize to the client without storing it', async () => {
    const big = 'x'.repeat(5_000);
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end(big);
    });
    proxy = await startLarder(origin.url, { cache: { memory: { maxSize: '1mb', maxEntrySize: '1kb' } } });
    const a = await get(proxy.url, '/big');
    const b = await get(proxy.url, '/big');
    expect(a.body).toBe(big);
    expect(b.body).toBe(big);
    expect(b.h('x-cache')).toBe('MISS');
    expect(b.h('cache-status')).toContain('detail=too-large');
    expect(origin.count()).toBe(2);
    expect(proxy.larder.memory.entries).toBe(0);
  });

  it('streams a chunked body that grows past maxEntrySize without storing it', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      for (let i = 0; i < 10; i++) res.write('y'.repeat(500));
      res.end();
    });
    proxy = await startLarder(origin.url, { cache: { memory: { maxSize: '1mb', maxEntrySize: '1kb' } } });
    const a = await get(proxy.url, '/chunked');
    expect(a.body.length).toBe(5_000);
    expect(a.h('cache-status')).toContain('detail=too-large');
    expect(proxy.larder.memory.entries).toBe(0);
  });
});
