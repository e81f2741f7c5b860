import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config, SecuritySettings } from '../config/types.js';
import type { Handler } from './handler.js';
import { HOST } from './target.js';
import { connectionOptions, HOP_BY_HOP } from '../rfc9111/hop-by-hop.js';
import { ErrorCodes, LarderError } from '../errors.js';
import { errorBytes } from './respond.js';
import { RequestFramingScanner, type Violation } from './body-framing.js';
import { decideForwarding } from './trusted-proxies.js';

export interface ServerLimits {
  /** Idle time allowed between requests on a keep-alive connection (ms). */
  keepAliveTimeout: number;
  /** Time allowed to receive a request's headers (ms); bounds slowloris clients. */
  headersTimeout: number;
  /** Time allowed to receive a whole request (ms). */
  requestTimeout: number;
  /** Largest request line + header section (bytes). */
  maxHeaderSize: number;
  /** Most header field lines in one request. */
  maxHeaders: number;
}

/** What the server reads from `security:` (config/schema.ts). */
export function serverLimits(s: SecuritySettings): ServerLimits {
  return {
    keepAliveTimeout: s.clientTimeouts.keepAlive,
    headersTimeout: s.clientTimeouts.headers,
    requestTimeout: s.clientTimeouts.request,
    maxHeaderSize: s.maxHeaderSize,
    maxHeaders: s.maxHeaders,
  };
}

/**
 * The proxy listener: node:http in front of the handler, upgrades to the pass-through.
 *
 * `getConfig` gives the live config: limits follow a reload for new connections, the stripped
 * fields and the GET-body policy for new requests.
 */
export function createProxyServer(handler: Handler, getConfig: () => Config): http.Server {
  const limits = (): ServerLimits => serverLimits(getConfig().security);
  const security = (): SecuritySettings => getConfig().security;
  const initial = limits();
  /** Sockets that sent a request larder refused: nothing more is read from them. */
  const refused = new WeakSet<Socket>();
  /** Sockets whose request framing is followed (see watchFraming). */
  const watched = new WeakSet<Socket>();

  const server = http.createServer(serverOptions(initial), (req, res) => {
    const socket = req.socket;
    if (refused.has(socket)) return; // pipelined behind a refused request: never served
    const s = getConfig().security;
    const problem = checkRequest(req, s, s.maxHeaders);
    if (problem !== undefined) {
      refused.add(socket);
      return handler.refuse(req, res, problem);
    }
    if (req.headers['transfer-encoding'] !== undefined && !watched.has(socket)) {
      watched.add(socket);
      const framing = watchFraming(req, s.maxRequestBodySize, limits().maxHeaderSize + 1024, (p) => closeWith(socket, refused, p.status, p));
      if (framing !== undefined) {
        refused.add(socket);
        return handler.refuse(req, res, framing);
      }
    }
    dropConnectionFields(req);
    decideForwarding(req, getConfig().trustedProxies);
    stripRequestHeaders(req, s.stripRequestHeaders);
    handler.handle(req, res);
  });
  followLimits(server, initial, limits);
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const problem = checkRequest(req, security(), limits().maxHeaders);
    if (problem !== undefined) {
      socket.on('error', () => socket.destroy());
      socket.end(errorBytes(problem.status, problem));
      return;
    }
    dropConnectionFields(req);
    decideForwarding(req, getConfig().trustedProxies);
    stripRequestHeaders(req, security().stripRequestHeaders);
    handler.upgrade(req, socket, head);
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    closeWith(socket, refused, clientErrorStatus(err.code, err.rawPacket));
  });
  return server;
}

/**
 * Follows a connection's request framing from its first request with a chunked body on
 * (body-framing.ts). Only such connections are followed: a 'data' listener makes node read
 * the socket through JS events instead of natively, which costs every request on the
 * connection. The bytes of the current read were parsed natively already, so they are taken
 * from the parser and the scanner is aligned on this request's request line. Returns a
 * violation found in them at once; later ones go to `refuse`.
 */
function watchFraming(req: http.IncomingMessage, limit: number, maxHead: number, refuse: (p: LarderError) => void): LarderError | undefined {
  const socket = req.socket;
  const scanner = new RequestFramingScanner(limit, maxHead);
  const rest = alignedBytes(req, scanner);
  // Not aligned (a head split across reads at its blank line): the request timeout bounds it.
  if (rest === undefined) return undefined;
  const first = scanner.feed(rest);
  if (first !== undefined) return framingProblem(first);
  if (!scanner.active) return undefined;
  const watch = (data: Buffer): void => {
    const v = scanner.feed(data);
    if (v === undefined) {
      if (!scanner.active) socket.removeListener('data', watch);
      return;
    }
    socket.removeListener('data', watch);
    refuse(framingProblem(v));
  };
  // Before node's own listener: a violation is answered before the parser acts on the bytes.
  socket.prependListener('data', watch);
  return undefined;
}

function framingProblem(v: Violation): LarderError {
  return v.kind === 'chunk-size' ? bad('a chunk size over the request body limit (security.maxRequestBodySize)') : tooLarge();
}

/**
 * The bytes of the read being parsed, from this request's request line on (the scanner then
 * reads its head and follows its body), or from the end of its head when the read began inside
 * the head. Undefined when they cannot be aligned. The request line is searched from the start
 * of the read: an earlier identical request in the same read only makes the scanner follow one
 * more message, and on a client's own connection a misreading can only refuse that client.
 */
function alignedBytes(req: http.IncomingMessage, scanner: RequestFramingScanner): Buffer | undefined {
  const parser = (req.socket as Socket & { parser?: { getCurrentBuffer?: () => Buffer } | null }).parser;
  const buf = parser?.getCurrentBuffer?.();
  if (buf === undefined || buf.length === 0) return undefined;
  const at = buf.indexOf(`${req.method} ${req.url} HTTP/1.${req.httpVersionMinor}\r\n`, 0, 'latin1');
  if (at !== -1) return buf.subarray(at);
  // The read began inside the head; its blank line may straddle the two reads.
  if (buf[0] === 0x0d || buf[0] === 0x0a) return undefined;
  const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
  if (end === -1) return undefined;
  scanner.startChunkedBody();
  return buf.subarray(end + 4);
}

function serverOptions(initial: ServerLimits): http.ServerOptions {
  return {
    keepAliveTimeout: initial.keepAliveTimeout,
    headersTimeout: initial.headersTimeout,
    requestTimeout: initial.requestTimeout,
    maxHeaderSize: initial.maxHeaderSize,
    // How often node looks for connections past headersTimeout / requestTimeout (default 30 s,
    // which would let a slowloris client hold a connection for up to 40 s).
    connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(initial.headersTimeout / 4))),
    // Lenient parsing accepts the framing ambiguities request smuggling is built on.
    insecureHTTPParser: false,
    // Checked in checkRequest instead: node's own check answers 400 but still serves a request
    // pipelined behind the bad one.
    requireHostHeader: false,
  };
}

/** Limits follow a reload for each new connection. */
function followLimits(server: http.Server, initial: ServerLimits, limits: () => ServerLimits): void {
  // One extra so that a request over the limit can be told from one at it (node drops the rest silently).
  server.maxHeadersCount = initial.maxHeaders + 1;
  // Runs before node's own connection listener, which reads maxHeaderSize for the new parser.
  server.prependListener('connection', () => {
    const l = limits();
    // Not in @types/node, but read by node for each new connection's parser.
    (server as unknown as { maxHeaderSize: number }).maxHeaderSize = l.maxHeaderSize;
    server.maxHeadersCount = l.maxHeaders + 1;
    server.headersTimeout = l.headersTimeout;
    server.requestTimeout = l.requestTimeout;
    server.keepAliveTimeout = l.keepAliveTimeout;
  });
}

/**
 * Answers a broken request on the socket itself and closes the connection: a request node's
 * parser rejected (no body), or a body found broken after the request was handed over.
 */
function closeWith(socket: Socket, refused: WeakSet<Socket>, status: number, problem?: LarderError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.on('error', () => socket.destroy());
  if (refused.has(socket)) {
    socket.end();
    return;
  }
  refused.add(socket);
  const bytes = errorBytes(status, problem);
  // A broken body is found after node handed the request over: its response may be under way.
  const current = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (current) {
    if (current.headersSent) {
      // Mid-response: the client must see an aborted connection, never a complete-looking answer.
      current.destroy();
      return;
    }
    // Answer for it, then abort whatever the handler or the pass-through still does with it.
    socket.end(bytes, () => current.destroy());
    return;
  }
  socket.end(bytes);
}

/** A request larder refuses before the handler sees it (RFC 9112 §3, §6): answered, then the connection closes. */
function bad(message: string, status: 400 | 431 | 501 | 505 = 400): LarderError {
  return new LarderError(ErrorCodes.BAD_REQUEST, message, { status, close: true });
}

/** A request body over security.maxRequestBodySize. */
function tooLarge(message?: string): LarderError {
  return new LarderError(ErrorCodes.TOO_LARGE, message, { close: true });
}

/** A well-formed request line (RFC 9112 §3) naming a version other than 1.0 / 1.1. */
const OTHER_VERSION = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \r\n]+ HTTP\/[0-9]\.[0-9]\r\n/;

/** llhttp error codes that mean something other than a plain 400. */
function clientErrorStatus(code: string | undefined, raw: Buffer | undefined): 400 | 408 | 431 | 505 {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_INVALID_VERSION':
      // Also raised for a request line ending in a bare LF: only a clean line is a version problem.
      return raw !== undefined && OTHER_VERSION.test(raw.toString('latin1', 0, Math.min(raw.length, 8192))) ? 505 : 400;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/**
 * RFC 9112 §3.2: origin-form, absolute-form, or "*". A fragment is never sent (RFC 9110
 * §7.1), "\" is read as "/" by some origins, and a "%" that does not start an escape is
 * decoded differently by different servers: each could make one key name two resources.
 */
export const TARGET_BAD = /[#\\\x80-\xff]|%(?![0-9A-Fa-f]{2})/;

/** Every check node's parser does not do itself. */
function checkRequest(req: http.IncomingMessage, s: SecuritySettings, maxHeaders: number): LarderError | undefined {
  // llhttp accepts "HTTP/2.0" and a bare HTTP/0.9 request line.
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) {
    return bad('only HTTP/1.0 and HTTP/1.1 are supported', 505);
  }
  const raw = req.rawHeaders;
  if (raw.length / 2 > maxHeaders) return bad(`more than ${maxHeaders} header fields`, 431);
  let hosts = 0;
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') {
      hosts++;
      host = raw[i + 1]!;
    }
  }
  // RFC 9112 §3.2: 400 for a missing Host in HTTP/1.1, more than one, or an invalid one.
  if (hosts > 1) return bad('more than one Host header field');
  if (hosts === 0 && req.httpVersionMinor === 1) return bad('HTTP/1.1 requires a Host header field');
  if (!HOST.test(host)) return bad('invalid Host header field');
  const url = req.url ?? '';
  if (!(url.startsWith('/') || /^https?:\/\//i.test(url) || (url === '*' && req.method === 'OPTIONS'))) {
    return bad('the request target must be a path or an absolute http URL');
  }
  if (TARGET_BAD.test(url)) return bad('invalid character or escape in the request target');
  const named = connectionNamesNeeded(req.headers.connection);
  if (named !== undefined) return bad(`Connection must not name ${named}`);
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing.
    if (req.httpVersionMinor === 0) return bad('Transfer-Encoding in an HTTP/1.0 request');
    const codings = te.toLowerCase().split(',').map((c) => c.trim());
    // RFC 9112 §6.3: chunked not last leaves the body length unknown: 400. (llhttp notices this
    // only once it reads the body, after the request has been handed over.)
    if (codings[codings.length - 1] !== 'chunked') return bad('chunked must be the last transfer coding');
    // RFC 9112 §6.1: a transfer coding larder does not implement: 501.
    if (codings.length > 1) return bad('only the chunked transfer coding is supported', 501);
  }
  const cl = req.headers['content-length'];
  if (cl !== undefined && Number(cl) > s.maxRequestBodySize) {
    return tooLarge(`the request body is over the limit of ${s.maxRequestBodySize} bytes (security.maxRequestBodySize)`);
  }
  if (s.getWithBody === 'reject' && (req.method === 'GET' || req.method === 'HEAD') && hasBody(req)) {
    return bad(`a ${req.method} request must not carry a body`);
  }
  return undefined;
}

/**
 * Fields larder needs from the client and that an intermediary cannot drop without changing
 * what the request means: its target host and its framing.
 */
const NEEDED = new Set(['host', 'content-length', 'transfer-encoding']);

/** The first field on NEEDED that Connection lists, if any. */
function connectionNamesNeeded(value: string | undefined): string | undefined {
  if (value === undefined || value === 'close' || value === 'keep-alive') return undefined;
  for (const name of connectionOptions(value)) if (NEEDED.has(name)) return name;
  return undefined;
}

/**
 * RFC 9110 §7.6.1: the fields a client lists in Connection apply to this hop only, and an
 * intermediary removes them before forwarding. They are removed here, at the door, so that
 * the route, the key and the Vary values are computed from the request the origin will
 * receive: a field named there can no longer reach the key while missing upstream.
 * The standard hop-by-hop fields stay for larder to read (TE: trailers, Upgrade for the
 * pass-through); they are never in a key and are removed from everything forwarded.
 */
export function dropConnectionFields(req: http.IncomingMessage): void {
  const value = req.headers.connection;
  if (value === undefined || value === 'close' || value === 'keep-alive') return;
  for (const name of connectionOptions(value)) {
    if (!HOP_BY_HOP.has(name)) delete req.headers[name];
  }
}

export function hasBody(req: http.IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/** A stripRequestHeaders list split once into exact names and prefixes. */
interface StripMatcher {
  exact: ReadonlySet<string>;
  prefixes: readonly string[];
}

const matchers = new WeakMap<readonly string[], StripMatcher>();

function matcher(list: readonly string[]): StripMatcher {
  let m = matchers.get(list);
  if (m === undefined) {
    m = {
      exact: new Set(list.filter((e) => !e.endsWith('*'))),
      prefixes: list.filter((e) => e.endsWith('*')).map((e) => e.slice(0, -1)),
    };
    matchers.set(list, m);
  }
  return m;
}

function matches(name: string, m: StripMatcher): boolean {
  const n = name.includes('_') ? name.replaceAll('_', '-') : name;
  if (m.exact.has(n)) return true;
  for (const p of m.prefixes) if (n.startsWith(p)) return true;
  return false;
}

/**
 * Removes the fields on `security.stripRequestHeaders` before anything reads the request:
 * the key, the Vary match, the fill and the pass-through all see the request without them.
 * The list is compiled once per config (a set and a few prefixes): this runs on every request.
 */
export function stripRequestHeaders(req: http.IncomingMessage, list: readonly string[]): void {
  if (list.length === 0) return;
  const headers = req.headers;
  const m = matcher(list);
  for (const name in headers) {
    if (matches(name, m)) delete headers[name];
  }
}
