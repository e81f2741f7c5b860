/**
 * HTTP/2 on a TLS listener (ALPN "h2"): node:http2 sessions whose requests go through the same
 * checks, stripping and handler as HTTP/1.1, with HTTP/2's own abuse bounded.
 *
 * The compatibility objects node gives (Http2ServerRequest/Response) are adapted once, here:
 * the pseudo-header fields leave `headers` (`:authority` becomes Host), and connection-specific
 * response fields, which HTTP/2 forbids (RFC 9113 §8.2.2), are dropped instead of throwing.
 */
import http2, { type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config, SecuritySettings } from '../config/types.js';
import type { Handler } from './handler.js';
import { ErrorCodes, LarderError } from '../errors.js';
import { HOST } from './target.js';
import { TARGET_BAD, stripRequestHeaders } from './server.js';
import { decideForwarding } from './trusted-proxies.js';

/** Streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
export const H2_MAX_CONCURRENT_STREAMS = 100;
/** Streams reset (by either side) before their response ended, per connection and window: past it, GOAWAY. */
export const H2_MAX_RESETS = 200;
/** The window H2_MAX_RESETS counts over (ms). */
export const H2_RESET_WINDOW = 1_000;
/** Memory one session may hold in node:http2's buffers (MB). */
export const H2_MAX_SESSION_MEMORY = 10;

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** Response fields that are HTTP/1.1 connection management and must not appear on HTTP/2. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

export interface H2Edge {
  /** Takes a TLS socket that negotiated "h2". */
  accept(socket: Duplex): void;
  /** GOAWAY to every session: streams in flight finish, no new ones start. */
  close(): void;
  /** Cuts every session. */
  destroy(): void;
  readonly sessions: ReadonlySet<ServerHttp2Session>;
}

export function createH2Edge(handler: Handler, getConfig: () => Config): H2Edge {
  const security = (): SecuritySettings => getConfig().security;
  const s0 = security();
  const server = http2.createServer({
    maxSessionMemory: H2_MAX_SESSION_MEMORY,
    // Pseudo-header fields count too (at most 5 on a request).
    maxHeaderListPairs: s0.maxHeaders + 5,
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 100,
    settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: s0.maxHeaderSize, enablePush: false },
  });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => session.destroy());
    const s = security();
    // Limits follow a reload for new connections.
    session.settings({ maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: s.maxHeaderSize, enablePush: false });
    // A connection with no frames at all for this long is closed.
    session.setTimeout(s.clientTimeouts.request, () => session.destroy());
    guardResets(session);
  });
  server.on('stream', (stream) => {
    stream.on('error', () => stream.destroy());
    // A stream that goes silent (a request body that never ends) is cancelled.
    stream.setTimeout(security().clientTimeouts.request, () => stream.close(NGHTTP2_CANCEL));
  });
  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const s = security();
    adaptResponse(res);
    const problem = checkRequest(req, s);
    const msg = req as unknown as IncomingMessage;
    const out = res as unknown as ServerResponse;
    if (problem !== undefined) {
      adaptRequest(req);
      return handler.refuse(msg, out, problem);
    }
    adaptRequest(req);
    limitBody(req, s.maxRequestBodySize);
    decideForwarding(msg, getConfig().trustedProxies);
    stripRequestHeaders(msg, s.stripRequestHeaders);
    handler.handle(msg, out);
  });
  return {
    sessions,
    accept: (socket) => server.emit('connection', socket),
    close: () => {
      for (const session of sessions) session.close();
    },
    destroy: () => {
      for (const session of sessions) session.destroy();
    },
  };
}

/**
 * Rapid reset (CVE-2023-44487): a client that opens streams and resets them at once makes the
 * server start work it never finishes. Streams that close with an error code before their
 * response ended are counted per session; past H2_MAX_RESETS in H2_RESET_WINDOW the session is
 * told to calm down (GOAWAY ENHANCE_YOUR_CALM) and cut.
 */
function guardResets(session: ServerHttp2Session): void {
  let windowStart = Date.now();
  let resets = 0;
  session.on('stream', (stream) => {
    stream.on('close', () => {
      if (stream.rstCode === NGHTTP2_NO_ERROR || stream.rstCode === undefined) return;
      const now = Date.now();
      if (now - windowStart > H2_RESET_WINDOW) {
        windowStart = now;
        resets = 0;
      }
      if (++resets > H2_MAX_RESETS && !session.destroyed) {
        session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      }
    });
  });
}

function bad(message: string, status: 400 | 431 = 400): LarderError {
  return new LarderError(ErrorCodes.BAD_REQUEST, message, { status, close: true });
}

/** The HTTP/1.1 door's checks that apply to an HTTP/2 request (framing is HTTP/2's own). */
function checkRequest(req: Http2ServerRequest, s: SecuritySettings): LarderError | undefined {
  const h = req.headers;
  let fields = 0;
  for (const name of Object.keys(h)) if (!name.startsWith(':')) fields += Array.isArray(h[name]) ? (h[name] as string[]).length : 1;
  if (fields > s.maxHeaders) return bad(`more than ${s.maxHeaders} header fields`, 431);
  const authority = h[':authority'];
  const host = h['host'];
  if (Array.isArray(host)) return bad('more than one Host header field');
  if (authority !== undefined && host !== undefined && authority !== host) return bad(':authority and Host differ');
  const target = host ?? authority;
  if (target === undefined || target === '') return bad('an HTTP/2 request needs :authority or Host');
  if (!HOST.test(target)) return bad('invalid :authority or Host');
  const method = req.method;
  const url = h[':path'];
  if (method === 'CONNECT' || typeof url !== 'string') return bad('CONNECT is not supported');
  if (!(url.startsWith('/') || (url === '*' && method === 'OPTIONS'))) return bad('the request target must be a path');
  if (TARGET_BAD.test(url)) return bad('invalid character or escape in the request target');
  const cl = h['content-length'];
  if (cl !== undefined && Number(cl) > s.maxRequestBodySize) {
    return new LarderError(ErrorCodes.TOO_LARGE, `the request body is over the limit of ${s.maxRequestBodySize} bytes (security.maxRequestBodySize)`, { close: true });
  }
  const withBody = !req.stream.endAfterHeaders;
  if (s.getWithBody === 'reject' && (method === 'GET' || method === 'HEAD') && withBody && cl !== '0') {
    return bad(`a ${method} request must not carry a body`);
  }
  return undefined;
}

/**
 * Gives the request the shape the handler reads from HTTP/1.1: plain fields only in
 * `headers`, Host from `:authority`, and a method and URL that the pass-through may rewrite.
 */
function adaptRequest(req: Http2ServerRequest): void {
  const h = req.headers;
  const method = req.method;
  const url = h[':path'] ?? '/';
  const headers: Record<string, string | string[] | undefined> = {};
  const raw: string[] = [];
  for (const name of Object.keys(h)) {
    if (name.startsWith(':')) continue;
    const v = h[name];
    if (v === undefined) continue;
    headers[name] = v;
    for (const x of Array.isArray(v) ? v : [v]) raw.push(name, x);
  }
  const authority = h[':authority'];
  if (headers['host'] === undefined && typeof authority === 'string') {
    headers['host'] = authority;
    raw.unshift('host', authority);
  }
  const own = (name: string, value: unknown): void => void Object.defineProperty(req, name, { value, writable: true, configurable: true, enumerable: true });
  own('headers', headers);
  own('rawHeaders', raw);
  own('method', method);
  own('url', url);
}

/** A request body without Content-Length is counted: past the limit the stream is reset. */
function limitBody(req: Http2ServerRequest, limit: number): void {
  if (req.stream.endAfterHeaders) return;
  let seen = 0;
  const count = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen > limit) {
      req.stream.off('data', count);
      req.stream.close(NGHTTP2_CANCEL);
    }
  };
  req.stream.on('data', count);
}

type Fields = Record<string, unknown> | readonly unknown[] | undefined;

function withoutConnectionFields(fields: Fields): Fields {
  if (fields === undefined) return undefined;
  if (Array.isArray(fields)) {
    const out: unknown[] = [];
    for (let i = 0; i < fields.length; i += 2) {
      if (!CONNECTION_SPECIFIC.has(String(fields[i]).toLowerCase())) out.push(fields[i], fields[i + 1]);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) out[name] = value;
  return out;
}

/**
 * writeHead and setHeader as the handler, respond.ts and the pass-through call them on
 * HTTP/1.1: a status message is not sent (HTTP/2 has none), and connection-specific fields are
 * dropped (`connection: close` on an error answer ends the stream, not the connection).
 */
function adaptResponse(res: Http2ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: unknown) => unknown;
  const setHeader = res.setHeader.bind(res);
  const patched = res as unknown as {
    writeHead: (status: number, message?: unknown, headers?: unknown) => unknown;
    setHeader: (name: string, value: unknown) => unknown;
  };
  patched.writeHead = (status, message, headers) => {
    const fields = (typeof message === 'string' ? headers : message) as Fields;
    writeHead(status, withoutConnectionFields(fields));
    return res;
  };
  patched.setHeader = (name, value) => {
    if (CONNECTION_SPECIFIC.has(name.toLowerCase())) return res;
    return setHeader(name, value as string);
  };
}
