// PROXY protocol v1/v2 on a listener, over raw TCP sockets: the source address it names is the
// client address the origin hears about; a connection without a valid header is refused.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { createLarder, type Larder } from '../../src/app.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { get } from '../helpers/client.js';
import { makeCert, type TestCert } from '../helpers/tls.js';

let origin: Origin | undefined;
let larder: Larder | undefined;
let cert: TestCert;

beforeAll(() => {
  cert = makeCert();
});
afterAll(() => cert.remove());
afterEach(async () => {
  await larder?.close(500);
  await origin?.close();
  larder = undefined;
  origin = undefined;
});

async function start(rules: Record<string, unknown> = {}, listener: Record<string, unknown> = {}): Promise<{ port: number; plain: number }> {
  origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end('ok');
  });
  const config = buildConfig({ listen: [{ address: '127.0.0.1:0', proxyProtocol: true, ...listener }, '127.0.0.1:0'], origin: origin.url, ...rules }, {});
  larder = createLarder(config, { defaultMetrics: false });
  await larder.listen();
  const [a, b] = larder.addresses();
  return { port: a!.port, plain: b!.port };
}

/** Sends `bytes` on a raw socket and reads until the server closes (or 3 s pass). */
function exchange(port: number, bytes: Buffer | string, opts: { end?: boolean } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, 3_000);
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    s.write(bytes);
    if (opts.end === true) s.end();
  });
}

const REQUEST = 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';

function v2(src: number[], sport: number): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const h = Buffer.from([0x21, 0x11, 0x00, 0x0c]);
  const body = Buffer.alloc(12);
  Buffer.from(src).copy(body, 0);
  Buffer.from([127, 0, 0, 1]).copy(body, 4);
  body.writeUInt16BE(sport, 8);
  body.writeUInt16BE(8080, 10);
  return Buffer.concat([sig, h, body]);
}

describe('proxyProtocol: true', () => {
  it('v1: the source address is the client address; the header and request may come in one write', async () => {
    const { port } = await start();
    const r = await exchange(port, `PROXY TCP4 203.0.113.7 127.0.0.1 51234 8080\r\n${REQUEST}`);
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    // A forged X-Forwarded-For from an untrusted client never reaches the origin.
    expect(origin!.requests[0]!.headers['x-forwarded-for']).toBe('203.0.113.7');
  });

  it('v2: binary header, split across writes', async () => {
    const { port } = await start();
    const r = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.on('close', () => resolve(text));
      const h = v2([198, 51, 100, 9], 40000);
      s.write(h.subarray(0, 7));
      setTimeout(() => s.write(Buffer.concat([h.subarray(7), Buffer.from(REQUEST)])), 50);
    });
    expect(r).toMatch(/^HTTP\/1\.1 200/);
    expect(origin!.requests[0]!.headers['x-forwarded-for']).toBe('198.51.100.9');
  });

  it('with a trusted balancer: its chain is kept and the PROXY source appended', async () => {
    const { port } = await start({ trustedProxies: ['127.0.0.1'] });
    const r = await exchange(port, `PROXY TCP4 203.0.113.7 127.0.0.1 51234 8080\r\n${REQUEST}`);
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    expect(origin!.requests[0]!.headers['x-forwarded-for']).toBe('6.6.6.6, 203.0.113.7');
  });

  it('refuses a connection without a header, with a malformed one, or from a peer not on trustedProxies; stays up', async () => {
    const { port, plain } = await start();
    for (const bytes of [
      REQUEST,
      `PROXY TCP4 999.0.0.1 127.0.0.1 1 2\r\n${REQUEST}`,
      `PROXY ${'x'.repeat(200)}\r\n`,
      Buffer.concat([v2([1, 2, 3, 4], 1).subarray(0, 12), Buffer.from([0x21, 0x11, 0xff, 0xff]), Buffer.from(REQUEST)]),
    ]) {
      const r = await exchange(port, bytes);
      expect(r.closed).toBe(true);
      expect(r.text).toBe('');
    }
    expect(origin!.count()).toBe(0);
    // Still serving, on both listeners.
    expect((await exchange(port, `PROXY TCP4 203.0.113.7 127.0.0.1 1 2\r\n${REQUEST}`)).text).toMatch(/^HTTP\/1\.1 200/);
    expect((await get(`http://127.0.0.1:${plain}`, '/b')).status).toBe(200);
    await larder!.close(500);
    larder = undefined;
    const strict = await start({ trustedProxies: ['10.0.0.0/8'] });
    const r = await exchange(strict.port, `PROXY TCP4 203.0.113.7 127.0.0.1 1 2\r\n${REQUEST}`);
    expect(r).toEqual({ text: '', closed: true });
  });

  it('a header that never completes is cut after the headers timeout', async () => {
    const { port } = await start({ security: { clientTimeouts: { headers: '300ms', request: '1s' } } });
    const t0 = Date.now();
    const r = await exchange(port, 'PROXY TCP4 1.2.3.4');
    expect(r.closed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2_900);
  });

  it('comes before TLS on a TLS listener', async () => {
    const { port } = await start({}, { tls: { cert: cert.cert, key: cert.key } });
    const text = await new Promise<string>((resolve, reject) => {
      const raw = net.connect(port, '127.0.0.1', () => {
        raw.write('PROXY TCP6 2001:db8::7 ::1 5000 443\r\n');
        const s = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' }, () => s.write(REQUEST));
        let out = '';
        s.on('data', (d: Buffer) => (out += d.toString('latin1')));
        s.on('close', () => resolve(out));
        s.on('error', reject);
      });
    });
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    const seen = origin!.requests[0]!.headers;
    expect(seen['x-forwarded-for']).toBe('2001:db8::7');
    expect(seen['x-forwarded-proto']).toBe('https');
  });

  it('before TLS with HTTP/2 negotiated by ALPN', async () => {
    const { port } = await start({}, { tls: { cert: cert.cert, key: cert.key }, http2: true });
    const session = http2.connect(`https://localhost:${port}`, {
      createConnection: () => {
        const raw = net.connect(port, '127.0.0.1');
        raw.write('PROXY TCP4 192.0.2.55 127.0.0.1 5000 443\r\n');
        return tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost', ALPNProtocols: ['h2'] });
      },
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/a' });
        stream.on('response', (h) => resolve(Number(h[':status'])));
        stream.on('error', reject);
        stream.resume();
      });
      expect(status).toBe(200);
      expect(origin!.requests[0]!.headers['x-forwarded-for']).toBe('192.0.2.55');
      expect(origin!.requests[0]!.headers['x-forwarded-proto']).toBe('https');
    } finally {
      session.close();
    }
  });
});
