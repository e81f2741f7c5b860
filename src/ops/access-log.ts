import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/types.js';
import type { Outcome } from '../http/handler.js';
import { resolveRequest } from '../http/target.js';
import { clientAddress } from '../http/trusted-proxies.js';

/**
 * Access logs: one line per answered request (or a sample of them), in JSON or in the
 * Apache/nginx "combined" format with larder's cache result and time appended. The line is
 * written when the response has been handed to the socket, so it carries the bytes sent.
 */

export type AccessFormat = 'json' | 'combined';

export interface AccessSettings {
  format: AccessFormat;
  /** Share of requests logged, 0 to 1. */
  sample: number;
  /** Query parameter names whose values are replaced (compared case-insensitively). */
  redactQuery: readonly string[];
}

/** What one access line says. */
export interface AccessRecord {
  /** ISO 8601 time the response was finished. */
  time: string;
  /** The client's address (the socket peer). */
  client: string;
  method: string;
  /** Path and query as received, redacted parameters replaced. */
  path: string;
  /** HTTP version of the request, e.g. "1.1". */
  http: string;
  status: number;
  /** Bytes written to the socket for this response (status line, headers, body). */
  bytes: number;
  /** From arrival to the last byte handed to the socket, in ms. */
  ms: number;
  /** From sending to the origin until its response headers arrived, in ms; undefined when this request did not go there. */
  upstreamMs: number | undefined;
  /** X-Cache result. */
  cache: Outcome['result'];
  /** The Cache-Status detail (why it was not a plain hit), when there is one. */
  detail: string | undefined;
  route: string;
  tier: string | undefined;
  /** The upstream the request went to, or would have gone to. */
  upstream: string;
  /** First 12 hex digits of SHA-256 of the primary cache key. */
  key: string | undefined;
  referer: string | undefined;
  userAgent: string | undefined;
}

/** The value that replaces a redacted query parameter's. */
export const REDACTED = 'REDACTED';

/**
 * Replaces the values of the named query parameters (case-insensitive names) in a path with
 * a query. Parameters are kept in order and in their encoded form; only the values change.
 */
export function redactQuery(path: string, names: readonly string[] | ReadonlySet<string>): string {
  const q = path.indexOf('?');
  if (q === -1) return path;
  const set = names instanceof Set ? names : new Set([...(names as readonly string[])].map((n) => n.toLowerCase()));
  if (set.size === 0) return path;
  const parts = path.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    const eq = p.indexOf('=');
    const rawName = eq === -1 ? p : p.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replaceAll('+', ' ')).toLowerCase();
    } catch {
      name = rawName.toLowerCase();
    }
    if (set.has(name)) {
      parts[i] = rawName + '=' + REDACTED;
      changed = true;
    }
  }
  return changed ? path.slice(0, q + 1) + parts.join('&') : path;
}

/** The Cache-Status detail an outcome carries (why it went forward or was served stale). */
export function detailOf(o: Pick<Outcome, 'result' | 'reason' | 'stale'>): string | undefined {
  if (o.reason !== undefined) return o.reason;
  if (o.stale === 'revalidate') return 'stale-while-revalidate';
  if (o.stale === 'max-stale') return 'max-stale';
  if (o.stale === 'error') return 'stale-if-error';
  if (o.result === 'MISS') return 'uri-miss';
  if (o.result === 'REVALIDATED') return 'stale';
  return undefined;
}

/** First 12 hex digits of SHA-256 of a primary key: enough to tell keys apart in logs, nothing of the URL. */
export function keyDigest(primary: string): string {
  return createHash('sha256').update(primary).digest('hex').slice(0, 12);
}

/** One JSON line (without the newline). Field names are stable: operators parse them. */
export function formatJson(r: AccessRecord): string {
  // Built by hand (JSON.stringify of the whole object costs twice as much on every request);
  // every string is still quoted by JSON.stringify (through `jsonQuoted`), so escaping is JSON's own.
  const q = jsonQuoted;
  const opt = (v: string | undefined): string => (v === undefined ? 'null' : q(v));
  return (
    // An ISO 8601 time has nothing to escape.
    '{"time":"' + r.time +
    '","type":"access","client":' + q(r.client) +
    ',"method":' + q(r.method) +
    ',"path":' + q(r.path) +
    ',"http":' + q(r.http) +
    ',"status":' + r.status +
    ',"bytes":' + r.bytes +
    ',"ms":' + r.ms +
    ',"upstream_ms":' + (r.upstreamMs === undefined ? 'null' : r.upstreamMs) +
    ',"cache":' + q(r.cache) +
    ',"detail":' + opt(r.detail) +
    ',"route":' + q(r.route) +
    ',"tier":' + opt(r.tier) +
    ',"upstream":' + q(r.upstream) +
    ',"key":' + opt(r.key) +
    ',"referer":' + opt(r.referer) +
    ',"user_agent":' + opt(r.userAgent) +
    '}'
  );
}

/**
 * Recently quoted strings: most fields of an access line (route, upstream, method, client,
 * the hot paths, user agents) repeat from line to line, and a map lookup costs less than
 * JSON.stringify. Bounded in entries and in the length of what is kept.
 */
const QUOTED = new Map<string, string>();
const QUOTED_MAX = 2_048;
const QUOTED_LONGEST = 256;

function jsonQuoted(s: string): string {
  let v = QUOTED.get(s);
  if (v === undefined) {
    v = JSON.stringify(s);
    if (s.length <= QUOTED_LONGEST) {
      if (QUOTED.size >= QUOTED_MAX) QUOTED.clear();
      QUOTED.set(s, v);
    }
  }
  return v;
}

let isoSecond = NaN;
let isoPrefix = '';

/** `new Date(ms).toISOString()`, with the part up to the second worked out once per second. */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const frac = ms - second * 1000;
  return isoPrefix + (frac < 10 ? '00' : frac < 100 ? '0' : '') + Math.floor(frac) + 'Z';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "10/Oct/2000:13:55:36 +0000": the combined format's time, in UTC. */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
}

/** A quoted field of the combined format: `"` and `\` escaped, control bytes as \xHH, absent as "-". */
function quoted(s: string | undefined): string {
  if (s === undefined || s === '') return '"-"';
  // eslint-disable-next-line no-control-regex
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c).replace(/[\x00-\x1f\x7f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')) + '"';
}

/**
 * The combined format, then larder's own fields:
 * `client - - [time] "METHOD path HTTP/x" status bytes "referer" "user-agent" cache=HIT detail=- route="r" tier=memory ms=0.42 upstream_ms=- upstream=http://o key=ab12...`
 */
export function formatCombined(r: AccessRecord, epochMs: number): string {
  const request = quoted(`${r.method} ${r.path} HTTP/${r.http}`);
  return (
    `${r.client || '-'} - - [${clfTime(epochMs)}] ${request} ${r.status} ${r.bytes} ${quoted(r.referer)} ${quoted(r.userAgent)}` +
    ` cache=${r.cache} detail=${r.detail ?? '-'} route=${quoted(r.route)} tier=${r.tier ?? '-'} ms=${r.ms} upstream_ms=${r.upstreamMs ?? '-'} upstream=${r.upstream} key=${r.key ?? '-'}`
  );
}

/**
 * Parses a combined line back (for tests and tools): the classic fields and larder's.
 * Undefined when the line is not in that format.
 */
export function parseCombined(line: string): Record<string, string> | undefined {
  const m =
    /^(\S+) - - \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" cache=(\S+) detail=(\S+) route="((?:[^"\\]|\\.)*)" tier=(\S+) ms=(\S+) upstream_ms=(\S+) upstream=(\S+) key=(\S+)$/.exec(
      line,
    );
  if (m === null) return undefined;
  const [, client, time, request, status, bytes, referer, userAgent, cache, detail, route, tier, ms, upstreamMs, upstream, key] = m as unknown as string[];
  return { client, time, request, status, bytes, referer, userAgent, cache, detail, route, tier, ms, upstreamMs, upstream, key } as Record<string, string>;
}

export interface AccessLogDeps {
  settings: () => AccessSettings;
  config: () => Config;
  /** Epoch ms (the injected clock). */
  now: () => number;
  write: (line: string) => void;
  random?: () => number;
}

/** The access log: `take()` decides whether a request is sampled, `write` writes its line once it was sent. */
export class AccessLog {
  private names: ReadonlySet<string> = new Set();
  private namesFrom: readonly string[] | undefined;
  /** Per config: key digests and redacted paths by host and target, and routes' origins by name. */
  private memo: { config: Config; keys: Map<string, { key: string | undefined; path: string }>; origins: Map<string, string> } | undefined;

  constructor(private readonly d: AccessLogDeps) {}

  /** Whether the next request gets a line (log.access.sample). */
  readonly take = (): boolean => {
    const sample = this.d.settings().sample;
    return sample >= 1 || (sample > 0 && (this.d.random ?? Math.random)() < sample);
  };

  readonly write = (o: Outcome, req: IncomingMessage, bytes: number, ms: number, upstreamMs?: number, server?: string): void => {
    this.d.write(this.line(o, req, bytes, ms, upstreamMs, server));
  };

  /** The line for a sent response, in the configured format. */
  line(o: Outcome, req: IncomingMessage, bytes: number, ms: number, upstreamMs?: number, server?: string): string {
    const s = this.d.settings();
    if (this.namesFrom !== s.redactQuery) {
      this.namesFrom = s.redactQuery;
      this.names = new Set(s.redactQuery.map((n) => n.toLowerCase()));
      this.memo = undefined;
    }
    const url = req.url ?? '/';
    const host = req.headers.host ?? '';
    const memo = this.memoFor(this.d.config());
    const id = host + '\u0000' + url;
    let known = memo.keys.get(id);
    if (known === undefined) {
      const r = resolveRequest(memo.config, 'GET', host, url);
      known = { key: 'problem' in r ? undefined : keyDigest(r.key.primary), path: redactQuery(url, this.names) };
      // Bounded: the hot URLs stay cheap; a scan of distinct URLs, or long ones, never grow it past the cap.
      if (id.length <= MEMO_URL) {
        if (memo.keys.size >= MEMO_SIZE) memo.keys.clear();
        memo.keys.set(id, known);
      }
    }
    const now = this.d.now();
    const rec: AccessRecord = {
      time: isoTime(now),
      // The real client: behind a trusted proxy or a PROXY protocol header, the one it names.
      client: clientAddress(req),
      method: o.method,
      path: known.path,
      http: req.httpVersion,
      status: o.status,
      bytes,
      ms: Math.round(ms * 100) / 100,
      upstreamMs: upstreamMs === undefined ? undefined : Math.round(upstreamMs * 100) / 100,
      cache: o.result,
      detail: detailOf(o),
      route: o.route,
      tier: o.tier,
      // The server that answered this request, else the route's upstream (a hit, a follower).
      upstream: server ?? memo.origins.get(o.route) ?? memo.config.defaultRoute.origin,
      key: known.key,
      referer: single(req.headers.referer),
      userAgent: single(req.headers['user-agent']),
    };
    return s.format === 'combined' ? formatCombined(rec, now) : formatJson(rec);
  }

  private memoFor(config: Config): NonNullable<AccessLog['memo']> {
    if (this.memo?.config !== config) {
      const origins = new Map(config.routes.map((r) => [r.name, r.origin]));
      origins.set(config.defaultRoute.name, config.defaultRoute.origin);
      this.memo = { config, keys: new Map(), origins };
    }
    return this.memo;
  }
}

/** Distinct URLs whose digest and redacted path are kept. */
const MEMO_SIZE = 4096;
/** Longest host and target remembered (longer ones are worked out each time). */
const MEMO_URL = 512;

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
