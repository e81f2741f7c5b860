import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { ErrorCodes, LarderError } from '../errors.js';

/** What POST /purge accepts. */
export interface PurgeRequest {
  urls: string[];
  prefixes: string[];
  tags: string[];
  soft: boolean;
}

export interface PurgeAnswer {
  /** Entries removed (or marked stale) in this instance's memory and, for URL purges, in Redis. */
  purged: number;
  soft: boolean;
  urls: number;
  prefixes: number;
  tags: number;
}

/** An asset of the status page, read once from the package. */
export interface PageAsset {
  contentType: string;
  body: Buffer;
}

export interface AdminDeps {
  /** Bearer token the endpoints require (except `open` ones); undefined: GETs open, POSTs off. */
  token: string | undefined;
  /** GET endpoints open without the token: metrics, healthz, readyz, status (with the page), explain. */
  open?: readonly string[];
  /** What GET /status answers; undefined: the status page and /status are off (admin.status: false). */
  status?: () => Promise<unknown>;
  /** The status page's files by path (/, /page.css, /page.js). */
  page?: ReadonlyMap<string, PageAsset>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  ready: () => Promise<{ ready: boolean; [k: string]: unknown }>;
  purge: (p: PurgeRequest) => Promise<PurgeAnswer>;
  explain: (url: string, headers: Record<string, string>) => Promise<unknown>;
  /** Runs the warming job on demand (POST /warm, token required). */
  warm?: () => Promise<unknown>;
  onError?: (err: unknown) => void;
}

/** Longest purge body accepted; bigger purges are split by the caller. */
const MAX_BODY = 1024 * 1024;
/**
 * How much of an oversized body is read and thrown away before answering 413. Closing a
 * connection with unread bytes makes the kernel send a reset, which can destroy the answer
 * before the client reads it; past this, larder answers at once and closes anyway.
 */
const DRAIN_LIMIT = 8 * MAX_BODY;
/** Most items in one purge list. */
const MAX_ITEMS = 10_000;

/**
 * The admin listener: the status page (GET /, its assets and GET /status), GET /metrics,
 * /healthz, /readyz, /explain and POST /purge, /warm. Without admin.token the GETs are open
 * (keep the listener on a private interface) and the POSTs are off; with it every endpoint
 * needs the token except the GETs that admin.public lists.
 */
export function createAdminServer(d: AdminDeps): http.Server {
  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    route(d, req, res).catch((err: unknown) => {
      if (!(err instanceof LarderError)) d.onError?.(err);
      answerError(res, err instanceof LarderError ? err : new LarderError(ErrorCodes.INTERNAL, 'the admin request failed inside larder', { status: 500 }));
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

async function route(d: AdminDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const method = req.method ?? 'GET';
  const guard = (name: string): void => {
    if (d.token !== undefined && !(d.open ?? []).includes(name)) authorise(d.token, req.headers.authorization, 'read');
  };
  const asset = d.page?.get(url.pathname);
  if (asset !== undefined && d.status !== undefined) {
    guard('status');
    return page(res, asset);
  }
  switch (url.pathname) {
    case '/healthz':
      guard('healthz');
      return json(res, 200, { status: 'ok' });
    case '/readyz': {
      guard('readyz');
      const r = await d.ready();
      return json(res, r.ready ? 200 : 503, r);
    }
    case '/status': {
      if (d.status === undefined) throw new LarderError(ErrorCodes.NOT_FOUND, 'the status page is off (admin.status: false)');
      guard('status');
      return json(res, 200, await d.status());
    }
    case '/metrics': {
      guard('metrics');
      const m = await d.metrics();
      res.writeHead(200, { 'content-type': m.contentType, 'cache-control': 'no-store' });
      return void res.end(m.body);
    }
    case '/explain': {
      guard('explain');
      const target = url.searchParams.get('url');
      if (target === null || target === '') throw new LarderError(ErrorCodes.BAD_REQUEST, 'give ?url=http://host/path or ?url=/path');
      const headers: Record<string, string> = {};
      for (const h of url.searchParams.getAll('header')) {
        const colon = h.indexOf(':');
        if (colon > 0) headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
      }
      return json(res, 200, await d.explain(target, headers));
    }
    case '/warm': {
      if (method !== 'POST') throw new LarderError(ErrorCodes.METHOD, 'use POST /warm');
      authorise(d.token, req.headers.authorization, 'warm');
      if (d.warm === undefined) throw new LarderError(ErrorCodes.NOT_FOUND, 'warming is not available here');
      return json(res, 200, await d.warm());
    }
    case '/purge': {
      if (method !== 'POST') throw new LarderError(ErrorCodes.METHOD, 'use POST /purge with a JSON body');
      authorise(d.token, req.headers.authorization, 'purge');
      const body = parsePurge(await readBody(req));
      return json(res, 200, await d.purge(body));
    }
    default:
      throw new LarderError(ErrorCodes.NOT_FOUND);
  }
}

function authorise(token: string | undefined, header: string | undefined, what: 'purge' | 'warm' | 'read'): void {
  if (token === undefined) {
    if (what === 'read') return;
    throw new LarderError(what === 'purge' ? ErrorCodes.PURGE_DISABLED : ErrorCodes.WARM_DISABLED);
  }
  const given = presented(header);
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(token);
  // Constant-time comparison: the token must not leak through response timing.
  if (given === undefined || a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new LarderError(ErrorCodes.UNAUTHORIZED);
  }
}

/**
 * The token a request presents: `Bearer <token>`, or Basic credentials whose password is the
 * token (any user name), which is what a browser sends for the status page after asking.
 */
function presented(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

/**
 * Reads a purge body of at most MAX_BODY bytes. A larger one gets 413 and a closed
 * connection, after the rest of it (up to DRAIN_LIMIT) has been read and dropped, so the
 * answer reaches the client instead of a reset.
 */
function readBody(req: http.IncomingMessage): Promise<string> {
  const tooLarge = (): LarderError => new LarderError(ErrorCodes.TOO_LARGE, `a purge body is at most ${MAX_BODY} bytes; split the purge`, { close: true });
  const declared = Number(req.headers['content-length']);
  if (declared > DRAIN_LIMIT) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > DRAIN_LIMIT) {
        req.removeAllListeners('data');
        reject(tooLarge());
        return;
      }
      if (size > MAX_BODY) chunks.length = 0;
      else chunks.push(c);
    });
    req.on('end', () => (size > MAX_BODY ? reject(tooLarge()) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/** Validates the purge body; every problem becomes a 400 naming the field. */
export function parsePurge(text: string): PurgeRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badPurge();
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badPurge('the body must be a JSON object with urls, prefixes and/or tags');
  }
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['urls', 'prefixes', 'tags', 'soft'].includes(k)) throw badPurge(`unknown field "${k}"; expected urls, prefixes, tags, soft`);
  }
  const list = (name: string, check: (s: string) => string | undefined): string[] => {
    const v = o[name];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
      throw badPurge(`${name} must be a list of non-empty strings`);
    }
    if (v.length > MAX_ITEMS) throw badPurge(`${name} has more than ${MAX_ITEMS} items; split the purge`);
    for (const s of v as string[]) {
      const problem = check(s);
      if (problem !== undefined) throw badPurge(`${name}: ${JSON.stringify(s)} ${problem}`);
    }
    return v as string[];
  };
  const urls = list('urls', (s) => (s.startsWith('/') || /^https?:\/\/[^/]+/i.test(s) ? undefined : 'must be a path (/a?b) or an http(s):// URL'));
  const prefixes = list('prefixes', (s) => (s.startsWith('/') ? undefined : 'must be a path prefix starting with /'));
  const tags = list('tags', () => undefined);
  if (o['soft'] !== undefined && typeof o['soft'] !== 'boolean') throw badPurge('soft must be true or false');
  if (urls.length + prefixes.length + tags.length === 0) throw badPurge('nothing to purge: give urls, prefixes or tags');
  return { urls, prefixes, tags, soft: o['soft'] === true };
}

function badPurge(message?: string): LarderError {
  return new LarderError(ErrorCodes.BAD_PURGE, message);
}

/** The admin listener's one error answer: `{"error": message, "code": CODE}`. */
function answerError(res: http.ServerResponse, e: LarderError): void {
  // A browser asks for the token (as the password) and sends it with the page's requests.
  if (e.code === ErrorCodes.UNAUTHORIZED && !res.headersSent) res.setHeader('www-authenticate', 'Basic realm="larder admin", charset="UTF-8"');
  json(res, e.status, { error: e.message, code: e.code }, e.close);
}

/**
 * The status page reads nothing but its own files and /status: a strict Content-Security-Policy
 * (no inline script or style, nothing from elsewhere, no framing) so that data a client sent
 * (keys, reasons) can never run as code even if it were rendered unescaped.
 */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function page(res: http.ServerResponse, a: PageAsset): void {
  res.writeHead(200, {
    'content-type': a.contentType,
    'content-length': a.body.length,
    'cache-control': 'no-store',
    'content-security-policy': PAGE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(a.body);
}

function json(res: http.ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify(body, null, 2) + '\n';
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' };
  // node ends the connection once an answer with Connection: close is written.
  if (close) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(text);
}
