/**
 * The client listeners (`listen`): each is a node:http server bound to its address. A plain
 * listener is exactly that. A TLS listener takes the raw connections itself, runs TLS, and hands
 * each one to its http server (HTTP/1.1) or to the HTTP/2 sessions (ALPN "h2"): HTTP/1.1 over
 * TLS goes through the very same server, limits and checks as plain HTTP/1.1. A listener with
 * `proxyProtocol` first reads the PROXY header (before TLS) and records its source address.
 */
import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Config, ListenerSettings, ListenerTls } from '../config/types.js';
import type { Handler } from './handler.js';
import { createH2Edge, type H2Edge } from './h2.js';
import { parseProxyHeader, V2_MAX } from './proxy-protocol.js';
import { isTrusted, plainAddress, setConnectionInfo, type ConnectionInfo } from './trusted-proxies.js';

/** One bound listener. */
interface Bound {
  settings: ListenerSettings;
  server: http.Server;
  tls?: tls.Server;
  /** The certificate new connections get (kept in step with `tls` on reload). */
  context?: tls.SecureContext;
}

export interface Edge {
  /** Binds every listener; `first` replaces the first one's address. Resolves to the first's. */
  listen(first?: { port: number; host: string }): Promise<AddressInfo>;
  /** The bound addresses, in `listen` order. */
  addresses(): AddressInfo[];
  /** Every listener's http server (the first is the instance's `server`). */
  servers(): http.Server[];
  /** The first listener without TLS or PROXY protocol (warming goes through it), if any. */
  plainServer(): http.Server | undefined;
  /** Serves the certificates of `next` to new connections (a reload). */
  reloadCertificates(next: Config): void;
  /** Stops accepting on the listeners other than the first, GOAWAY to HTTP/2 sessions. */
  close(): void;
  /** Cuts the connections still open on those listeners and sessions. */
  closeAll(): void;
}

export function createEdge(primary: http.Server, make: () => http.Server, handler: Handler, getConfig: () => Config): Edge {
  const settings = getConfig().listeners;
  let h2: H2Edge | undefined;
  const h2Edge = (): H2Edge => (h2 ??= createH2Edge(handler, getConfig));
  const bound: Bound[] = settings.map((s, i) => {
    const server = i === 0 ? primary : make();
    const b: Bound = { settings: s, server };
    if (s.tls !== undefined || s.proxyProtocol) {
      if (s.tls !== undefined) {
        b.tls = tlsServer(s, s.tls, server, h2Edge, getConfig);
        b.context = tls.createSecureContext({ cert: s.tls.cert, key: s.tls.key });
      }
      intercept(b, getConfig);
    }
    return b;
  });
  const addresses: AddressInfo[] = [];
  return {
    async listen(first) {
      addresses.length = 0;
      for (const [i, b] of bound.entries()) {
        const port = i === 0 && first !== undefined ? first.port : b.settings.port;
        const host = i === 0 && first !== undefined ? first.host : b.settings.host;
        addresses.push(await bind(b.server, port, host));
      }
      return addresses[0]!;
    },
    addresses: () => [...addresses],
    servers: () => bound.map((b) => b.server),
    plainServer: () => bound.find((b) => b.settings.tls === undefined && !b.settings.proxyProtocol)?.server,
    reloadCertificates(next) {
      for (const [i, b] of bound.entries()) {
        const t = next.listeners[i]?.tls;
        // A listener whose address or kind changed needs a restart (ops/reload.ts says so).
        if (b.tls !== undefined && t !== undefined) {
          b.tls.setSecureContext({ cert: t.cert, key: t.key });
          b.context = tls.createSecureContext({ cert: t.cert, key: t.key });
        }
      }
    },
    close() {
      for (const b of bound.slice(1)) {
        b.server.close();
        b.server.closeIdleConnections();
      }
      h2?.close();
    },
    closeAll() {
      for (const b of bound.slice(1)) b.server.closeAllConnections();
      h2?.destroy();
    },
  };
}

function bind(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** The TLS side of a listener: ALPN picks HTTP/2 or the listener's own HTTP/1.1 server. */
function tlsServer(s: ListenerSettings, files: ListenerTls, server: http.Server, h2: () => H2Edge, getConfig: () => Config): tls.Server {
  const t = tls.createServer({
    cert: files.cert,
    key: files.key,
    ALPNProtocols: s.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
    handshakeTimeout: getConfig().security.clientTimeouts.headers,
  });
  t.on('tlsClientError', (_err, socket) => socket.destroy());
  t.on('secureConnection', (socket: tls.TLSSocket) => {
    // The raw socket TLS runs over (node's _parent), or the socket itself after a PROXY header.
    const parent = (socket as unknown as { _parent?: object | null })._parent;
    const info = infoOf(socket) ?? infoOf(parent) ?? { peer: plainAddress(socket.remoteAddress ?? ''), secure: true };
    setConnectionInfo(socket, { ...info, secure: true });
    socket.on('error', () => socket.destroy());
    if (socket.alpnProtocol === 'h2') h2().accept(socket);
    else deliver(server, socket);
  });
  return t;
}

const INFO_OF = new WeakMap<object, ConnectionInfo>();

function infoOf(socket: object | null | undefined): ConnectionInfo | undefined {
  return socket == null ? undefined : INFO_OF.get(socket);
}

/** The http server's own connection listeners, taken off so that the listener runs first. */
const HTTP_LISTENERS = new WeakMap<http.Server, ((socket: Duplex) => void)[]>();

function deliver(server: http.Server, socket: Duplex): void {
  for (const l of HTTP_LISTENERS.get(server) ?? []) l.call(server, socket);
}

/** Takes the raw connections of a TLS or PROXY protocol listener. */
function intercept(b: Bound, getConfig: () => Config): void {
  const { server, settings } = b;
  HTTP_LISTENERS.set(server, server.listeners('connection') as ((socket: Duplex) => void)[]);
  server.removeAllListeners('connection');
  server.on('connection', (raw: Socket) => {
    raw.on('error', () => raw.destroy());
    const peer = plainAddress(raw.remoteAddress ?? '');
    const secure = settings.tls !== undefined;
    const onward = (info: ConnectionInfo, socket: Duplex): void => {
      INFO_OF.set(socket, info);
      setConnectionInfo(socket, info);
      if (b.tls !== undefined) b.tls.emit('connection', socket);
      else deliver(server, socket);
    };
    if (!settings.proxyProtocol) return onward({ peer, secure }, raw);
    const trusted = getConfig().trustedProxies;
    // With trustedProxies set, only those peers may name a client.
    if (trusted.length > 0 && !isTrusted(peer, trusted)) return void raw.destroy();
    readProxyHeader(raw, getConfig().security.clientTimeouts.headers, (source, rest) => {
      const info: ConnectionInfo = { peer, secure, ...(source === undefined ? {} : { source: plainAddress(source) }) };
      if (b.tls !== undefined) return secureAfterHeader(b, info, relay(raw, rest), getConfig().security.clientTimeouts.headers);
      // node's HTTP parser would read the socket natively and miss the bytes put back: the
      // socket is read through its stream instead, which sees them first.
      const handle = (raw as unknown as { _handle?: { _consumed?: boolean } | null })._handle;
      if (handle) handle._consumed = true;
      if (rest.length > 0) raw.unshift(rest);
      onward(info, raw);
      raw.resume();
    });
  });
}

/**
 * TLS over the bytes after a PROXY header. node's TLS server would wrap the raw socket's
 * handle and miss the bytes already read, so the TLS socket is made here, over a stream that
 * starts with them, and handed to the listener's TLS server once secure ('secureConnection').
 */
function secureAfterHeader(b: Bound, info: ConnectionInfo, stream: Duplex, handshake: number): void {
  const socket = new tls.TLSSocket(stream, {
    isServer: true,
    server: b.tls!,
    secureContext: b.context!,
    ALPNProtocols: b.settings.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
  });
  INFO_OF.set(socket, info);
  setConnectionInfo(socket, info);
  socket.on('error', () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), handshake);
  socket.once('secure', () => {
    clearTimeout(timer);
    // As node's TLS server does before it reports a connection: node:http2 waits for a
    // 'secureConnect' (a client's event) while the socket says it is still connecting.
    (socket as unknown as { secureConnecting: boolean }).secureConnecting = false;
    if (!socket.destroyed) b.tls!.emit('secureConnection', socket);
  });
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Reads the PROXY header; `done` gets its source (undefined for LOCAL / UNKNOWN) and the bytes
 * that followed it. A missing, malformed, oversized or late header closes the connection.
 */
function readProxyHeader(raw: Socket, timeout: number, done: (source: string | undefined, rest: Buffer) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const fail = (): void => {
    clearTimeout(timer);
    raw.off('data', onData);
    raw.destroy();
  };
  const timer = setTimeout(fail, timeout);
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const r = parseProxyHeader(buf);
    if (r.kind === 'more') {
      if (buf.length > V2_MAX) fail();
      return;
    }
    if (r.kind === 'bad') return fail();
    clearTimeout(timer);
    raw.off('data', onData);
    raw.pause();
    done(r.source, buf.subarray(r.length));
  };
  raw.on('data', onData);
  raw.on('close', () => clearTimeout(timer));
}

/** A stream over `raw` that starts with `rest`: what TLS reads after a PROXY header. */
function relay(raw: Socket, rest: Buffer): Duplex {
  const d = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end(cb);
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  if (rest.length > 0) d.push(rest);
  raw.on('data', (chunk: Buffer) => {
    if (!d.push(chunk)) raw.pause();
  });
  raw.on('end', () => d.push(null));
  raw.on('close', () => d.destroy());
  return d;
}
