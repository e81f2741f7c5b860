import http from 'node:http';
import https from 'node:https';
import type { UpstreamTls } from '../config/types.js';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { ErrorCodes, LarderError } from '../errors.js';
import { appendVia } from '../rfc9111/fields.js';
import { forwardedFields } from '../http/trusted-proxies.js';

/** What the caller learns about a passed-through response, before it is written. */
export interface PassResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
}

export interface PassOptions {
  /** Upstream base URL. */
  target: string;
  /** TLS settings of the upstream (an https target): CA, client certificate, server name, verification. */
  tls?: UpstreamTls | undefined;
  /** Headers to set on the response (X-Cache, Cache-Status), given the upstream answer. */
  responseHeaders: (res: PassResponse) => Record<string, string>;
  /** Upstream response fields (lower-case names) removed before the response is relayed. */
  drop?: (name: string) => boolean;
  /** Called once the upstream status is known (for invalidation after unsafe methods). */
  onResponse?: (res: PassResponse) => void;
  /**
   * Called when the request failed (origin unreachable, timed out, reset): the caller answers
   * with `failure`, or aborts the response if it had started. Nothing is written here.
   */
  onError: (failure: LarderError, cause: Error) => void;
}

/**
 * Streams the requests with a body (methods other than GET and HEAD, on any route) and
 * protocol upgrades (WebSocket) to the origin through http-proxy-3. Nothing is buffered in
 * either direction. GET and HEAD that the cache does not handle are relayed by the handler.
 */
export class PassThrough {
  private readonly proxy;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  /** One keep-alive agent per https target and its TLS settings (upstreams are few, and fixed by config). */
  private readonly tlsAgents = new Map<string, { tls: UpstreamTls | undefined; agent: https.Agent }>();
  private readonly pending = new WeakMap<http.IncomingMessage, PassOptions>();

  constructor(opts: { timeout: number; via: string }) {
    this.proxy = createProxyServer({ xfwd: true, ws: true, agent: this.agent, proxyTimeout: opts.timeout });
    this.proxy.on('proxyReq', (proxyReq, req) => {
      proxyReq.setHeader('via', appendVia(proxyReq.getHeader('via'), opts.via));
      // The same X-Forwarded-For, -Proto and -Host as a cached request's (xfwd's own only add the port).
      const sent = this.forwardedFor.get(req);
      for (const [name, value] of Object.entries(forwardedFields(req, req.headers.host ?? '', sent))) proxyReq.setHeader(name, value);
    });
    this.proxy.on('proxyReqWs', (proxyReq, req) => {
      const sent = this.forwardedFor.get(req);
      for (const [name, value] of Object.entries(forwardedFields(req, req.headers.host ?? '', sent))) proxyReq.setHeader(name, value);
    });
    this.proxy.on('proxyRes', (proxyRes, req) => {
      const o = this.pending.get(req);
      if (o === undefined) return;
      const info = { status: proxyRes.statusCode ?? 502, headers: proxyRes.headers };
      // http-proxy-3 copies proxyRes.headers onto the client response after this event.
      if (o.drop !== undefined) for (const name of Object.keys(proxyRes.headers)) if (o.drop(name)) delete proxyRes.headers[name];
      Object.assign(proxyRes.headers, o.responseHeaders(info));
      o.onResponse?.(info);
    });
    // Without an error listener http-proxy-3 throws; every failure must become a response.
    this.proxy.on('error', (err, req, res) => {
      const o = this.pending.get(req);
      // An upgrade's socket has no response to answer on: closing it is the answer.
      if (o === undefined || !(res instanceof http.ServerResponse)) return void res.destroy();
      o.onError(passFailure(err), err);
    });
  }

  /** A client's X-Forwarded-For as it arrived (xfwd appends to it before proxyReq). */
  private readonly forwardedFor = new WeakMap<http.IncomingMessage, string>();

  web(req: http.IncomingMessage, res: http.ServerResponse, opts: PassOptions): void {
    this.pending.set(req, opts);
    this.rememberForwardedFor(req);
    this.proxy.web(req, res, { target: opts.target, ...this.transport(opts.target, opts.tls) });
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: string, tls?: UpstreamTls): void {
    socket.on('error', () => socket.destroy());
    this.rememberForwardedFor(req);
    this.proxy.ws(req, socket, head, { target, ...this.transport(target, tls) });
  }

  /**
   * The agent for a target: http targets share the plain keep-alive agent; an https target
   * gets an https agent carrying the upstream's CA, client certificate and server name, and
   * certificate verification unless the upstream says verify: false. A reload that changes the
   * settings gets a new agent; the old one is closed.
   */
  private transport(target: string, tls: UpstreamTls | undefined): { agent: http.Agent; secure?: boolean } {
    if (!target.startsWith('https:')) return { agent: this.agent };
    const known = this.tlsAgents.get(target);
    if (known !== undefined && known.tls === tls) return { agent: known.agent, secure: tls?.verify ?? true };
    known?.agent.destroy();
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets: 256,
      ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls?.key === undefined ? {} : { key: tls.key }),
      ...(tls?.serverName === undefined ? {} : { servername: tls.serverName }),
      rejectUnauthorized: tls?.verify ?? true,
    });
    this.tlsAgents.set(target, { tls, agent });
    return { agent, secure: tls?.verify ?? true };
  }

  private rememberForwardedFor(req: http.IncomingMessage): void {
    const xff = req.headers['x-forwarded-for'];
    if (xff !== undefined) this.forwardedFor.set(req, Array.isArray(xff) ? xff.join(', ') : xff);
  }

  close(): void {
    this.proxy.close();
    this.agent.destroy();
    for (const { agent } of this.tlsAgents.values()) agent.destroy();
    this.tlsAgents.clear();
  }
}

/** What a client is told when the pass-through fails: a timeout (proxyTimeout) is a 504. */
function passFailure(err: Error): LarderError {
  const code = (err as NodeJS.ErrnoException).code;
  const timeout = (code === 'ECONNRESET' && /timeout/i.test(err.message)) || code === 'ETIMEDOUT';
  return new LarderError(timeout ? ErrorCodes.ORIGIN_TIMEOUT : ErrorCodes.PROXY_FAILED, undefined, { cause: err });
}
