// TLS and HTTP/2 listeners: the same cache behaviour as plain HTTP/1.1, seen through node:http2,
// curl --http2 and HTTPS/1.1 over ALPN; HTTP/2 abuse bounded; certificates reloaded.
import { execFile } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { buildConfig, parseConfig } from '../../src/config/load.js';
import { createLarder, type Larder } from '../../src/app.js';
import type { Outcome } from '../../src/http/handler.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { get } from '../helpers/client.js';
import { makeCert, type TestCert } from '../helpers/tls.js';

const run = promisify(execFile);
let cert: TestCert;
let origin: Origin | undefined;
let larder: Larder | undefined;

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

interface Started {
  tlsPort: number;
  plainPort: number;
  outcomes: Outcome[];
}

async function start(rules: Record<string, unknown> = {}, tlsFiles = { cert: cert.cert, key: cert.key }): Promise<Started> {
  const config = buildConfig(
    {
      listen: [{ address: '127.0.0.1:0', tls: tlsFiles, http2: true }, '127.0.0.1:0'],
      origin: origin!.url,
      ...rules,
    },
    {},
  );
  const outcomes: Outcome[] = [];
  larder = createLarder(config, { defaultMetrics: false, onOutcome: (o) => outcomes.push(o) });
  await larder.listen();
  const [a, b] = larder.addresses();
  return { tlsPort: a!.port, plainPort: b!.port, outcomes };
}

function cacheableOrigin(): Promise<Origin> {
  return startOrigin((req, res) => {
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(`got ${n}`));
      return;
    }
    res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"v1"', 'content-type': 'text/plain', connection: 'keep-alive' });
    res.end('0123456789');
  });
}

/** Frames of HTTP/2 written by hand. */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

const AUTHORITY = Buffer.from('localhost');
/** :method GET, :scheme https, :path / (static table), :authority as a literal. */
const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, AUTHORITY.length]), AUTHORITY]);

function frames(buf: Buffer): { type: number; stream: number; payload: Buffer }[] {
  const out: { type: number; stream: number; payload: Buffer }[] = [];
  for (let at = 0; at + 9 <= buf.length; ) {
    const len = buf.readUIntBE(at, 3);
    out.push({ type: buf[at + 3]!, stream: buf.readUInt32BE(at + 5) & 0x7fffffff, payload: buf.subarray(at + 9, at + 9 + len) });
    at += 9 + len;
  }
  return out;
}

/** A TLS connection speaking HTTP/2 by hand: preface and SETTINGS sent. */
async function rawH2(port: number): Promise<{ sock: tls.TLSSocket; closed: Promise<void>; received: () => Buffer }> {
  const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  expect(sock.alpnProtocol).toBe('h2');
  let received = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))]));
  return { sock, closed, received: () => received };
}

interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

function h2connect(port: number): http2.ClientHttp2Session {
  return http2.connect(`https://127.0.0.1:${port}`, { ca: undefined, rejectUnauthorized: false });
}

function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, body === undefined ? { endStream: true } : {});
    let out = '';
    let head: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (out += c));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: out }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

describe('a TLS + HTTP/2 listener', () => {
  it('answers HTTP/2 with the same cache results as HTTP/1.1: MISS, HIT, HEAD, 304, 206', async () => {
    origin = await cacheableOrigin();
    const { tlsPort, plainPort } = await start();
    const s = h2connect(tlsPort);
    try {
      const authority = `localhost:${tlsPort}`;
      const miss = await h2request(s, { ':path': '/a', ':authority': authority });
      expect(miss.status).toBe(200);
      expect(miss.body).toBe('0123456789');
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(String(miss.headers['cache-status'])).toMatch(/^larder; fwd=uri-miss; fwd-status=200; stored/);
      // No connection-specific field reaches an HTTP/2 client (node's client would fail the stream).
      expect(miss.headers['connection']).toBeUndefined();
      const hit = await h2request(s, { ':path': '/a', ':authority': authority });
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(String(hit.headers['cache-status'])).toMatch(/^larder; hit; ttl=/);
      expect(hit.body).toBe('0123456789');
      const head = await h2request(s, { ':path': '/a', ':authority': authority, ':method': 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers['x-cache']).toBe('HIT');
      expect(head.headers['content-length']).toBe('10');
      expect(head.body).toBe('');
      const inm = await h2request(s, { ':path': '/a', ':authority': authority, 'if-none-match': '"v1"' });
      expect(inm.status).toBe(304);
      expect(inm.body).toBe('');
      const range = await h2request(s, { ':path': '/a', ':authority': authority, range: 'bytes=2-4' });
      expect(range.status).toBe(206);
      expect(range.headers['content-range']).toBe('bytes 2-4/10');
      expect(range.body).toBe('234');
      expect(origin.count('/a')).toBe(1);
      // The same sequence on the plain HTTP/1.1 listener gives the same answers (another key: another host).
      const base = `http://127.0.0.1:${plainPort}`;
      expect((await get(base, '/b')).h('x-cache')).toBe('MISS');
      expect((await get(base, '/b')).h('x-cache')).toBe('HIT');
      expect((await get(base, '/b', { 'if-none-match': '"v1"' })).status).toBe(304);
      expect((await get(base, '/b', { range: 'bytes=2-4' })).body).toBe('234');
      expect(origin.count('/b')).toBe(1);
      // The origin was told the client spoke https on the TLS listener, http on the other.
      expect(origin.requests.find((r) => r.url === '/a')!.headers['x-forwarded-proto']).toBe('https');
      expect(origin.requests.find((r) => r.url === '/a')!.headers['host']).toBe(authority);
      expect(origin.requests.find((r) => r.url === '/b')!.headers['x-forwarded-proto']).toBe('http');
    } finally {
      s.close();
    }
  });

  it('passes a POST with a body through on HTTP/2, and refuses :authority and Host that differ', async () => {
    origin = await cacheableOrigin();
    const { tlsPort } = await start();
    const s = h2connect(tlsPort);
    try {
      const post = await h2request(s, { ':path': '/p', ':method': 'POST', ':authority': `localhost:${tlsPort}` }, 'x'.repeat(5000));
      expect(post.status).toBe(200);
      expect(post.body).toBe('got 5000');
      expect(origin.requests[0]!.headers['x-forwarded-proto']).toBe('https');
      const differ = await h2request(s, { ':path': '/a', ':authority': 'a.example', host: 'b.example' });
      expect(differ.status).toBe(400);
      expect(origin.count('/a')).toBe(0);
      // The session survives a refused stream.
      expect((await h2request(s, { ':path': '/a', ':authority': `localhost:${tlsPort}` })).status).toBe(200);
    } finally {
      s.close();
    }
  });

  it('X-Forwarded-Proto on HTTP/2: https from anyone, a trusted peer\'s own value kept', async () => {
    origin = await cacheableOrigin();
    const untrusted = await start({ trustedProxies: ['10.0.0.0/8'] });
    let s = h2connect(untrusted.tlsPort);
    await h2request(s, { ':path': '/u', ':authority': 'localhost', 'x-forwarded-proto': 'http', 'x-forwarded-for': '6.6.6.6' });
    s.close();
    expect(origin.requests[0]!.headers['x-forwarded-proto']).toBe('https');
    expect(origin.requests[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
    await larder!.close(500);
    const trusted = await start({ trustedProxies: ['127.0.0.1'] });
    s = h2connect(trusted.tlsPort);
    await h2request(s, { ':path': '/t', ':authority': 'localhost', 'x-forwarded-proto': 'http', 'x-forwarded-for': '6.6.6.6' });
    s.close();
    expect(origin.requests[1]!.headers['x-forwarded-proto']).toBe('http');
    expect(origin.requests[1]!.headers['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.1');
  });

  it('falls back to HTTP/1.1 over TLS (ALPN http/1.1) through the same server', async () => {
    origin = await cacheableOrigin();
    const { tlsPort } = await start();
    const get1 = (path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string; alpn: string | false | null }> =>
      new Promise((resolve, reject) => {
        const options = { host: '127.0.0.1', port: tlsPort, path, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], agent: false } as https.RequestOptions;
        const req = https.get(options, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, alpn: (res.socket as tls.TLSSocket).alpnProtocol }));
        });
        req.on('error', reject);
      });
    const miss = await get1('/a');
    expect(miss.alpn).toBe('http/1.1');
    expect(miss.headers['x-cache']).toBe('MISS');
    expect((await get1('/a')).headers['x-cache']).toBe('HIT');
    expect(origin.count()).toBe(1);
    expect(origin.requests[0]!.headers['x-forwarded-proto']).toBe('https');
  });

  it('works with curl --http2', async () => {
    const { stdout: version } = await run('curl', ['-V']);
    expect(version).toMatch(/HTTP2/);
    origin = await cacheableOrigin();
    const { tlsPort } = await start();
    const url = `https://localhost:${tlsPort}/c`;
    const args = ['-sS', '--http2', '--cacert', cert.cert, '-D', '-', '--resolve', `localhost:${tlsPort}:127.0.0.1`, url];
    const first = (await run('curl', args)).stdout;
    expect(first).toMatch(/^HTTP\/2 200/);
    expect(first).toMatch(/x-cache: MISS/i);
    const second = (await run('curl', args)).stdout;
    expect(second).toMatch(/^HTTP\/2 200/);
    expect(second).toMatch(/x-cache: HIT/i);
    expect(second).toContain('0123456789');
    const head = (await run('curl', [...args.slice(0, -1), '-I', url])).stdout;
    expect(head).toMatch(/^HTTP\/2 200/);
    const ranged = (await run('curl', [...args.slice(0, -1), '-r', '0-3', url])).stdout;
    expect(ranged).toMatch(/^HTTP\/2 206/);
    expect(ranged).toMatch(/0123$/);
    expect(origin.count()).toBe(1);
  });

  it('bounds HTTP/2 abuse: concurrent streams and header list size advertised and enforced', async () => {
    origin = await cacheableOrigin();
    const { tlsPort } = await start({ security: { maxHeaderSize: '4kb' } });
    const s = h2connect(tlsPort);
    try {
      await new Promise<void>((r) => s.once('remoteSettings', () => r()));
      expect(s.remoteSettings.maxConcurrentStreams).toBe(100);
      expect(s.remoteSettings.maxHeaderListSize).toBe(4096);
      // A header list over the limit is never handed to the cache.
      const big = await h2request(s, { ':path': '/big', ':authority': `localhost:${tlsPort}`, 'x-big': 'y'.repeat(6000) }).catch((e: Error) => e);
      // nghttp2 resets such a stream before node sees its headers.
      expect(big).toBeInstanceOf(Error);
      expect((big as Error).message).toMatch(/NGHTTP2_ENHANCE_YOUR_CALM/);
      expect(origin.count('/big')).toBe(0);
    } finally {
      s.destroy();
    }
    // The server itself refuses streams past 100 open at once, whatever the client does: 150
    // requests whose bodies never come (HEADERS without END_STREAM), by hand.
    const { sock } = await rawH2(tlsPort);
    const opened: Buffer[] = [];
    for (let i = 0; i < 150; i++) opened.push(frame(1, 0x4, 2 * i + 1, block));
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    sock.write(Buffer.concat(opened));
    await new Promise((r) => setTimeout(r, 500));
    const refused = frames(got).filter((f) => f.type === 3 && f.payload.readUInt32BE(0) === http2.constants.NGHTTP2_REFUSED_STREAM);
    const goaway = frames(got).some((f) => f.type === 7);
    // Each stream past the limit is refused; the connection stays.
    expect(goaway).toBe(false);
    expect(refused).toHaveLength(50);
    expect(refused.every((f) => f.stream > 2 * 100)).toBe(true);
    sock.destroy();
  });

  it('closes a connection that opens and resets streams rapidly, and keeps serving others', async () => {
    origin = await startOrigin((_req, res) => {
      // A slow origin: each reset stream would have cost a fill.
      setTimeout(() => {
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.end('slow');
      }, 200);
    });
    const { tlsPort, plainPort } = await start();
    // Raw frames, as an attacker sends them: HEADERS and RST_STREAM back to back, no waiting.
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
    const { sock, closed, received } = await rawH2(tlsPort);
    let sent = 0;
    for (let batch = 0; batch < 50 && !sock.destroyed; batch++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 100; i++, sent++) {
        const id = 2 * sent + 1;
        frames.push(frame(1, 0x5, id, block), frame(3, 0, id, cancel));
      }
      sock.write(Buffer.concat(frames));
      await new Promise((r) => setTimeout(r, 5));
    }
    const how = await Promise.race([closed.then(() => 'closed'), new Promise<string>((r) => setTimeout(() => r('still open'), 5_000))]);
    expect(how).toBe('closed');
    // A GOAWAY frame (type 7) came before the close.
    expect(frames(received()).some((f) => f.type === 7)).toBe(true);
    sock.destroy();
    // Others are served.
    const other = h2connect(tlsPort);
    try {
      const r = await h2request(other, { ':path': '/fine', ':authority': `localhost:${tlsPort}` });
      expect(r.status).toBe(200);
      expect((await get(`http://127.0.0.1:${plainPort}`, '/fine2')).status).toBe(200);
    } finally {
      other.close();
    }
  });

  it('serves a new certificate to new connections after a reload', async () => {
    origin = await cacheableOrigin();
    const work = makeCert('first.test');
    const second = makeCert('second.test', work.dir, 'next');
    try {
      const { tlsPort } = await start({}, { cert: work.cert, key: work.key });
      const subject = (): Promise<string> =>
        new Promise((resolve, reject) => {
          const c = tls.connect({ host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false, servername: 'localhost' }, () => {
            resolve(c.getPeerCertificate().subject.CN as string);
            c.end();
          });
          c.on('error', reject);
        });
      expect(await subject()).toBe('first.test');
      copyFileSync(second.cert, work.cert);
      copyFileSync(second.key, work.key);
      const next = buildConfig({ listen: [{ address: '127.0.0.1:0', tls: { cert: work.cert, key: work.key }, http2: true }, '127.0.0.1:0'], origin: origin.url }, {});
      const result = larder!.reload(next);
      expect(result.needsRestart).toEqual([]);
      expect(await subject()).toBe('second.test');
    } finally {
      work.remove();
    }
  });
});

describe('listen list: configuration', () => {
  it('reports a missing certificate, a key that does not match, and http2 without tls at their place', () => {
    const other = makeCert('other');
    try {
      const missing = join(cert.dir, 'nope.pem');
      writeFileSync(join(cert.dir, 'rules.yaml'), '');
      const text = [
        'listen:',
        '  - 127.0.0.1:8080',
        '  - address: 127.0.0.1:8443',
        `    tls: { cert: ${missing}, key: ${cert.key} }`,
        '  - address: 127.0.0.1:8444',
        `    tls: { cert: ${cert.cert}, key: ${other.key} }`,
        '  - address: 127.0.0.1:8445',
        '    http2: true',
      ].join('\n');
      let details: string[] = [];
      try {
        parseConfig(text, { file: join(cert.dir, 'rules.yaml'), env: {} });
      } catch (e) {
        details = (e as { details: string[] }).details;
      }
      expect(details).toHaveLength(3);
      expect(details[0]).toMatch(/rules\.yaml:4:\d+ listen\[1\]\.tls\.cert: cannot read .*nope\.pem \(no such file\)/);
      expect(details[1]).toMatch(/rules\.yaml:6:\d+ listen\[2\]\.tls: the certificate and key cannot be used together/);
      expect(details[2]).toMatch(/rules\.yaml:8:\d+ listen\[3\]\.http2: http2 needs tls/);
    } finally {
      other.remove();
    }
  });

  it('reads certificate paths relative to the rules file, and keeps listen: 8080 as it was', () => {
    copyFileSync(cert.cert, join(cert.dir, 'c.pem'));
    copyFileSync(cert.key, join(cert.dir, 'k.pem'));
    const c = parseConfig('listen:\n  - address: 8443\n    tls: { cert: c.pem, key: k.pem }\n', { file: join(cert.dir, 'rules.yaml'), env: {} });
    expect(c.listeners[0]!.tls!.certFile).toBe(join(cert.dir, 'c.pem'));
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8443 });
    const plain = parseConfig('listen: 8080\n', { env: {} });
    expect(plain.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(plain.listeners).toEqual([{ host: '127.0.0.1', port: 8080, http2: false, proxyProtocol: false }]);
  });
});
