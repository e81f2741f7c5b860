/**
 * A stand-in for the origin server of the HTTP caching conformance suite (cache-tests.fyi),
 * written for larder from the suite's documented behaviour. It serves three kinds of path:
 *
 *   PUT /config/<uuid>   stores the JSON list of request definitions of one test (201; 409 if known)
 *   ANY /test/<uuid>...  answers request number N (header Req-Num, else arrival order) as
 *                        definition N describes, and records what it saw
 *   GET /state/<uuid>    the JSON list of what /test/<uuid> saw (404 if nothing yet)
 *
 * Definitions are plain data from the test files; see `RequestDef` in client.ts for the fields.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A header as the definitions write it: [name, value] or [name, value, checkIt]. */
export type HeaderDef = [string, unknown] | [string, unknown, boolean];

/** What the origin reads of one request definition (the client reads more). */
export interface OriginRequestDef {
  response_status?: [number, string];
  response_headers?: HeaderDef[];
  response_body?: string | null;
  response_pause?: number;
  disconnect?: boolean;
  expected_type?: string;
  magic_locations?: boolean;
  rfc850date?: string[];
  interim_responses?: [number, [string, string][]?][];
  [other: string]: unknown;
}

/** One request as the origin recorded it; GET /state returns a list of these. */
export interface SeenRequest {
  request_num: number;
  request_method: string;
  request_headers: http.IncomingHttpHeaders;
  /** The headers the definition asked to be checked, with the values actually sent. */
  response_headers: [string, string | number | string[]][];
}

export interface ConformanceOrigin {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly server: http.Server;
  close(): Promise<void>;
}

const DATE_HEADERS = new Set(['date', 'expires', 'last-modified', 'if-modified-since', 'if-unmodified-since']);
const LOCATION_HEADERS = new Set(['location', 'content-location']);
const NO_BODY_STATUSES = new Set([204, 304]);
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => String(n).padStart(2, '0');

/** An HTTP date `offsetSeconds` from `nowMs`: IMF-fixdate, or the obsolete RFC 850 form. */
export function formatHttpDate(nowMs: number, offsetSeconds: number, rfc850 = false): string {
  const d = new Date(nowMs + offsetSeconds * 1000);
  if (!rfc850) return d.toUTCString();
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const year = two(d.getUTCFullYear() % 100);
  return `${WEEKDAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${year} ${time} GMT`;
}

/**
 * Resolves the two kinds of "magic" header value of the definitions: an integer in a date
 * header means "now plus that many seconds", and with `magic_locations` a Location or
 * Content-Location is made relative to the path the request was sent to.
 * `serverNow` is the origin's clock (ms) and `basePath` the request path, as the origin
 * reported them in its Server-Now and Server-Base-Url headers.
 */
export function resolveHeaderValue(
  name: string,
  value: unknown,
  def: { rfc850date?: string[]; magic_locations?: boolean },
  serverNow: number,
  basePath: string | undefined,
): unknown {
  const lower = name.toLowerCase();
  let out = value;
  if (DATE_HEADERS.has(lower) && Number.isInteger(out)) {
    out = formatHttpDate(serverNow, out as number, def.rfc850date?.includes(lower) ?? false);
  }
  if (LOCATION_HEADERS.has(lower) && def.magic_locations === true) {
    out = out ? `${basePath}/${String(out)}` : `${basePath}`;
  }
  return out;
}

function headerValue(headers: HeaderDef[] | undefined, name: string): unknown {
  let found: unknown;
  for (const h of headers ?? []) if (h[0].toLowerCase() === name.toLowerCase()) found = h[1];
  return found;
}

function plain(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(`${text}\n`);
}

export async function startConformanceOrigin(host = '127.0.0.1', port = 0): Promise<ConformanceOrigin> {
  const configs = new Map<string, OriginRequestDef[]>();
  const seen = new Map<string, SeenRequest[]>();
  const timers = new Set<NodeJS.Timeout>();

  function answer(uuid: string, req: http.IncomingMessage, res: http.ServerResponse, defs: OriginRequestDef[]): void {
    const log = seen.get(uuid) ?? [];
    const serverCount = log.length + 1;
    const clientNum = Number.parseInt(String(req.headers['req-num']), 10);
    const num = clientNum || serverCount;
    const def = defs[num - 1];
    if (!def) {
      plain(res, 409, `no definition for request ${num} of ${uuid}`);
      return;
    }
    const now = Date.now();

    for (const [status, headers = []] of def.interim_responses ?? []) {
      if (status === 102) res.writeProcessing();
      else if (status === 103) res.writeEarlyHints(Object.fromEntries(headers));
    }

    let status: [number, string] = def.response_status ?? [200, 'OK'];
    if (typeof def.expected_type === 'string' && def.expected_type.endsWith('validated')) {
      // The previous definition's validators, as sent if that request reached us (values are
      // resolved in place below), otherwise as written.
      const previous = defs[num - 2];
      const lm = headerValue(previous?.response_headers, 'Last-Modified');
      const etag = headerValue(previous?.response_headers, 'ETag');
      const matches =
        (lm !== undefined && lm !== '' && req.headers['if-modified-since'] === lm) ||
        (etag !== undefined && etag !== '' && req.headers['if-none-match'] === etag);
      status = matches ? [304, 'Not Modified'] : [999, '304 Not Generated'];
    }
    res.statusCode = status[0];
    res.statusMessage = status[1];

    const basePath = req.url ?? '';
    res.setHeader('Server-Base-Url', basePath);
    res.setHeader('Server-Request-Count', serverCount);
    res.setHeader('Client-Request-Count', String(clientNum));
    res.setHeader('Server-Now', now);
    const checked = new Map<string, string | number | string[]>();
    for (const header of def.response_headers ?? []) {
      // Resolved in place, so that a later request's validation compares against what was sent.
      header[1] = resolveHeaderValue(header[0], header[1], def, now, basePath);
      const value = header[1] as string | number;
      const current = res.getHeader(header[0]);
      if (current === undefined) res.setHeader(header[0], value);
      else res.setHeader(header[0], [current, value].flat().map(String));
      if (header.length < 3 || header[2] === true) checked.set(header[0], res.getHeader(header[0]) as string | number | string[]);
    }
    if (!res.hasHeader('content-type')) res.setHeader('Content-Type', 'text/plain');

    log.push({
      request_num: clientNum,
      request_method: req.method ?? 'GET',
      request_headers: req.headers,
      response_headers: [...checked.entries()],
    });
    seen.set(uuid, log);
    res.setHeader('Request-Numbers', log.map((r) => r.request_num).join(' '));

    if (def.disconnect === true) {
      res.socket?.destroy();
    } else if (NO_BODY_STATUSES.has(res.statusCode)) {
      res.end();
    } else {
      res.end(def.response_body || uuid);
    }
  }

  function onTest(uuid: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!uuid) return plain(res, 404, 'no test id');
    const defs = configs.get(uuid);
    if (!defs) return plain(res, 409, `no configuration for ${uuid}`);
    const clientNum = Number.parseInt(String(req.headers['req-num']), 10);
    const def = defs[(clientNum || (seen.get(uuid)?.length ?? 0) + 1) - 1];
    // Drain any request body so the connection stays usable.
    req.resume();
    const pause = def?.response_pause;
    if (typeof pause === 'number' && pause > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        answer(uuid, req, res, defs);
      }, pause * 1000);
      timers.add(t);
    } else {
      answer(uuid, req, res, defs);
    }
  }

  function onConfig(uuid: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'PUT') return plain(res, 405, `${req.method} to /config`);
    if (!uuid) return plain(res, 404, 'no test id');
    if (configs.has(uuid)) return plain(res, 409, `configuration for ${uuid} exists`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const defs = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (!Array.isArray(defs)) throw new Error('not a list');
        configs.set(uuid, defs as OriginRequestDef[]);
        res.writeHead(201, { 'Content-Type': 'text/plain' });
        res.end('OK');
      } catch (err) {
        plain(res, 400, `bad configuration: ${(err as Error).message}`);
      }
    });
  }

  function onState(uuid: string | undefined, res: http.ServerResponse): void {
    const log = uuid === undefined ? undefined : seen.get(uuid);
    if (log === undefined) return plain(res, 404, `no state for ${uuid}`);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(JSON.stringify(log));
  }

  const server = http.createServer((req, res) => {
    try {
      const path = new URL(req.url ?? '/', 'http://origin.invalid').pathname;
      const [, kind, uuid] = path.split('/');
      if (kind === 'config') onConfig(uuid, req, res);
      else if (kind === 'test') onTest(uuid, req, res);
      else if (kind === 'state') onState(uuid, res);
      else plain(res, 404, 'not found');
    } catch (err) {
      if (!res.headersSent) plain(res, 500, `origin error: ${(err as Error).message}`);
      else res.destroy();
    }
  });
  // Node's default keep-alive timeout (5 s), as the suite's origin has: a response the test
  // makes unframed (a bogus Transfer-Encoding) ends only when the idle connection is closed.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
