/**
 * TLS to an upstream: a CA, a server certificate and a client certificate made with openssl
 * when the test runs (nothing is committed), and an https origin that requires the client
 * certificate. The rules file names the PEM files relative to itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLarder, type Larder } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { get } from '../helpers/client.js';
import { problemsOf } from '../unit/config/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'larder-tls-'));
const pem = (name: string) => readFileSync(join(dir, name), 'utf8');

function openssl(...args: string[]): void {
  execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** ca.pem; server.pem for api.internal (and 127.0.0.1); client.pem for "larder"; each with its key. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=larder test CA');
  const sign = (name: string, subject: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
  };
  sign('server', '/CN=api.internal', 'subjectAltName=DNS:api.internal,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sign('client', '/CN=larder', 'extendedKeyUsage=clientAuth\n');
}

let origin: https.Server;
let port: number;
const seen: Array<{ host: string | undefined; client: unknown; sni: unknown }> = [];

beforeAll(async () => {
  makeCertificates();
  origin = https.createServer(
    { key: pem('server-key.pem'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      seen.push({ host: req.headers.host, client: socket.getPeerCertificate().subject?.CN, sni: socket.servername });
      res.setHeader('cache-control', 'max-age=60');
      res.end(`secure ${req.url}`);
    },
  );
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  port = (origin.address() as AddressInfo).port;
});

afterAll(async () => {
  origin.closeAllConnections();
  await new Promise<void>((r) => origin.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function rules(tls: string): string {
  const file = join(dir, 'rules.yaml');
  writeFileSync(
    file,
    ['listen: 127.0.0.1:0', 'origin: api', 'upstreams:', '  api:', `    servers: [https://127.0.0.1:${port}]`, `    tls: ${tls}`, ''].join('\n'),
  );
  return file;
}

async function start(tls: string): Promise<{ larder: Larder; url: string }> {
  const larder = createLarder(loadConfig(rules(tls), {}), { defaultMetrics: false });
  const addr = await larder.listen(0, '127.0.0.1');
  return { larder, url: `http://127.0.0.1:${addr.port}` };
}

describe('TLS to an upstream', () => {
  it('presents the client certificate, verifies the server against the CA and sends the server name', async () => {
    const { larder, url } = await start('{ ca: ca.pem, cert: client.pem, key: client-key.pem, serverName: api.internal }');
    try {
      const r = await get(url, '/t', { host: 'shop.example' });
      expect(r.status).toBe(200);
      expect(r.body).toBe('secure /t');
      expect(seen.at(-1)).toEqual({ host: 'shop.example', client: 'larder', sni: 'api.internal' });
    } finally {
      await larder.close(500);
    }
  });

  it('a request with a body (relayed by the pass-through) uses the same TLS settings', async () => {
    const { larder, url } = await start('{ ca: ca.pem, cert: client.pem, key: client-key.pem, serverName: api.internal }');
    try {
      const r = await get(url, '/p', { host: 'shop.example', 'content-type': 'text/plain' }, 'POST');
      expect(r.status).toBe(200);
      expect(r.body).toBe('secure /p');
      expect(r.h('x-cache')).toBe('BYPASS');
      expect(seen.at(-1)).toEqual({ host: 'shop.example', client: 'larder', sni: 'api.internal' });
    } finally {
      await larder.close(500);
    }
  });

  it('without the client certificate the origin refuses, and the client gets 502', async () => {
    const before = seen.length;
    const { larder, url } = await start('{ ca: ca.pem, serverName: api.internal }');
    try {
      const r = await get(url, '/n');
      expect(r.status).toBe(502);
      expect(seen.length).toBe(before);
    } finally {
      await larder.close(500);
    }
  });

  it('without the CA the server certificate is refused; verify: false accepts it', async () => {
    const refused = await start('{ cert: client.pem, key: client-key.pem, serverName: api.internal }');
    try {
      expect((await get(refused.url, '/v')).status).toBe(502);
    } finally {
      await refused.larder.close(500);
    }
    const blind = await start('{ cert: client.pem, key: client-key.pem, verify: false }');
    try {
      expect((await get(blind.url, '/v')).body).toBe('secure /v');
    } finally {
      await blind.larder.close(500);
    }
  });

  it('a missing or unreadable file is a configuration problem with its place', () => {
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
    // An absolute path is read as it is; a relative one from the rules file's folder (here the working directory).
    const text = ['upstreams:', '  api:', '    servers: [https://127.0.0.1:1]', `    tls: { ca: nowhere.pem, cert: ${join(dir, 'not-pem.txt')} }`, ''].join('\n');
    const problems = problemsOf(text);
    expect(problems).toHaveLength(3);
    expect(problems.some((p) => /^rules\.yaml:4:\d+ upstreams\.api\.tls\.cert: a client certificate needs both cert and key$/.test(p))).toBe(true);
    expect(problems.some((p) => /upstreams\.api\.tls\.ca: cannot read .*nowhere\.pem \(no such file\)/.test(p))).toBe(true);
    expect(problems.some((p) => /upstreams\.api\.tls\.cert: cannot read .*not-pem\.txt \(not a PEM file\)/.test(p))).toBe(true);
  });
});
