import http from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { appendVia } from '../rfc9111/fields.js';

/** What the caller learns about a passed-through response, before it is written. */
export interface PassResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
}

export interface PassOptions {
  /** Upstream base URL. */
  target: string;
  /** Headers to set on the response (X-Cache, Cache-Status), given the upstream answer. */
  responseHeaders: (res: PassResponse) => Record<string, string>;
  /** Called once the upstream status is known (for invalidation after unsafe methods). */
  onResponse?: (res: PassResponse) => void;
  /** Called when the proxy could not reach the upstream, with the status written (if any). */
  onError?: (err: Error) => void;
}

/** Framing fields of a request body. */
const BODY_FIELDS = ['content-length', 'transfer-encoding', 'expect'];

/**
 * Streams requests that the cache does not handle (uncacheable routes, methods with a
 * body, WebSocket upgrades, event streams) to the origin through http-proxy-3. Nothing is
 * buffered in either direction.
 */
export class PassThrough {
  private readonly proxy;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly pending = new WeakMap<http.IncomingMessage, PassOptions>();

  constructor(opts: { timeout: number; via: string }) {
    this.proxy = createProxyServer({ xfwd: true, ws: true, agent: this.agent, proxyTimeout: opts.timeout });
    this.proxy.on('proxyReq', (proxyReq) => {
      proxyReq.setHeader('via', appendVia(proxyReq.getHeader('via'), opts.via));
    });
    this.proxy.on('proxyRes', (proxyRes, req) => {
      const o = this.pending.get(req);
      if (o === undefined) return;
      const info = { status: proxyRes.statusCode ?? 502, headers: proxyRes.headers };
      // http-proxy-3 copies proxyRes.headers onto the client response after this event.
      Object.assign(proxyRes.headers, o.responseHeaders(info));
      o.onResponse?.(info);
    });
    // Without an error listener http-proxy-3 throws; every failure must become a response.
    this.proxy.on('error', (err, req, res) => {
      this.pending.get(req)?.onError?.(err);
      failed(res, err);
    });
  }

  web(req: http.IncomingMessage, res: http.ServerResponse, opts: PassOptions): void {
    this.pending.set(req, opts);
    if (req.method === 'GET' || req.method === 'HEAD') {
      // A body on GET or HEAD is never forwarded: an origin that ignores it would read it as
      // the next request on the shared upstream connection (smuggling). node reads and
      // discards it from the client connection after the response.
      for (const name of BODY_FIELDS) delete req.headers[name];
      this.proxy.web(req, res, { target: opts.target, buffer: Readable.from([]) });
      return;
    }
    this.proxy.web(req, res, { target: opts.target });
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: string): void {
    socket.on('error', () => socket.destroy());
    this.proxy.ws(req, socket, head, { target });
  }

  close(): void {
    this.proxy.close();
    this.agent.destroy();
  }
}

function failed(res: http.ServerResponse | Duplex, err: Error): void {
  if (!(res instanceof http.ServerResponse)) {
    res.destroy();
    return;
  }
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const code = (err as NodeJS.ErrnoException).code;
  const timeout = code === 'ECONNRESET' && /timeout/i.test(err.message) || code === 'ETIMEDOUT';
  const body = timeout ? 'LARDER_ORIGIN_TIMEOUT: timed out waiting for the origin\n' : 'LARDER_PROXY_FAILED: the origin could not be reached\n';
  res.writeHead(timeout ? 504 : 502, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-cache': 'BYPASS',
    'cache-status': 'larder; fwd=bypass; detail=origin-error',
  });
  res.end(body);
}
