/**
 * Validated rules → the Config the rest of larder reads: units become numbers, URLs are
 * canonicalised, globs compiled, and the rules a JSON Schema cannot state are checked.
 *
 * It reads `Rules`: the schema's own type with every default filled in (config/schema.ts is
 * the only place a default is written), so nothing here falls back to a value of its own.
 *
 * It runs even when the schema found problems, so that the user sees every problem in one
 * pass. validate() has then removed each value the schema rejected (a key with a default got
 * its default back; a required key may be missing), and every read of such a place is
 * skipped here: `convert` does not touch a value at or under a reported path, and a value
 * it rejects compiles to undefined, which no cross-field check mistakes for a number. The
 * Config built that way is never returned (load.ts throws with the problems instead).
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { Value } from '@sinclair/typebox/value';
import { parseEntryKey } from '../cache/crypto.js';
import { parseListen, parseOrigin } from './addresses.js';
import type { KeyPath, ProblemList } from './problems.js';
import { makeMatcher } from './routes.js';
import { DEFAULT_STRIP_RESPONSE_HEADERS, RouteSchema, UpstreamSchema, type RouteRules, type Rules } from './schema.js';
import { framingCovered, responseFieldList } from './response-fields.js';
import { suggest } from './suggest.js';
import type { AdminSettings, Config, KeyRule, ListenerSettings, ListenerTls, RedisSettings, Route, SecuritySettings, Upstream, UpstreamTls } from './types.js';
import { parseDuration, parseSize, quote } from './units.js';

type CacheRules = Rules['cache'];
type RedisRules = NonNullable<CacheRules['redis']>;
type SecurityRules = Rules['security'];
type MatchRules = RouteRules['match'];
type UpstreamRules = Rules['upstreams'][string];

/** Converts one value, reporting a RangeError at `path`; skips a place already reported. */
type Convert = <V, T>(path: KeyPath, value: V | undefined, fn: (value: V) => T) => T;

/** setTimeout silently turns longer delays into 1 ms. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Builds the Config from defaulted rules, reporting what the schema cannot check. */
export function compile(rules: Rules, problems: ProblemList, base: string = process.cwd()): Config {
  const convert: Convert = (path, value, fn) => {
    if (value === undefined || problems.covers(path)) return undefined as never;
    try {
      return fn(value);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      problems.add({ path, message: error.message });
      return undefined as never;
    }
  };
  const timeout = (name: keyof Rules['timeouts']) => convert(['timeouts', name], rules.timeouts[name], parseTimeout);
  const upstreams = new Upstreams(compileUpstreams(rules.upstreams, base, problems, convert));
  const origin = upstreams.resolve(['origin'], rules.origin, problems, convert);
  const routes = compileRoutes(rules.routes, origin, upstreams, problems, convert);
  const defaultRoute = compileDefaultRoute(origin, upstreams, problems, convert);
  const listeners = compileListeners(rules.listen, base, problems, convert);
  return {
    listen: listeners[0] === undefined ? (undefined as never) : { host: listeners[0].host, port: listeners[0].port },
    listeners,
    trustedProxies: compileTrustedProxies(rules.trustedProxies, problems),
    origin: origin?.written as string,
    upstreams: upstreams.all(),
    timeouts: { connect: timeout('connect'), headers: timeout('headers'), body: timeout('body') },
    cache: compileCache(rules.cache, problems, convert),
    security: compileSecurity(rules.security, problems, convert),
    ...compileAdmin(rules.admin, convert),
    log: {
      level: rules.log.level,
      access: { format: rules.log.access.format, sample: rules.log.access.sample, redactQuery: [...rules.log.access.redactQuery] },
    },
    reload: { watch: rules.reload.watch },
    debugHeaders: typeof rules.debugHeaders === 'object' ? { token: rules.debugHeaders.token } : rules.debugHeaders,
    shutdownGrace: convert(['shutdownGrace'], rules.shutdownGrace, parseDuration),
    ...compileWarm(rules.warm),
    routes,
    defaultRoute,
  };
}

/**
 * `listen` in either form → the listeners. Certificate files are read (relative to the rules
 * file) and checked here, so that a missing or unusable one is reported with its place.
 */
function compileListeners(listen: Rules['listen'], base: string, problems: ProblemList, convert: Convert): ListenerSettings[] {
  if (!Array.isArray(listen)) {
    const address = convert(['listen'], listen, parseListen);
    return address === undefined ? [] : [{ ...address, http2: false, proxyProtocol: false }];
  }
  const out: ListenerSettings[] = [];
  listen.forEach((item, i) => {
    if (typeof item === 'string' || typeof item === 'number') {
      const address = convert(['listen', i], item, parseListen);
      if (address !== undefined) out.push({ ...address, http2: false, proxyProtocol: false });
      return;
    }
    const address = convert(['listen', i, 'address'], item.address, parseListen);
    const tls = item.tls === undefined ? undefined : readListenerTls(item.tls, base, ['listen', i, 'tls'], problems);
    if (item.http2 && item.tls === undefined) {
      problems.add({
        path: ['listen', i, 'http2'],
        message: 'http2 needs tls (cleartext HTTP/2, h2c, is not offered); add tls: { cert, key } or remove http2',
      });
    }
    if (address !== undefined) out.push({ ...address, ...(tls === undefined ? {} : { tls }), http2: item.http2, proxyProtocol: item.proxyProtocol });
  });
  return out;
}

/** Reads a listener's certificate and key, and checks that they make a usable pair. */
export function readListenerTls(files: { cert: string; key: string }, base: string, path: KeyPath, problems: ProblemList): ListenerTls | undefined {
  const read = (name: 'cert' | 'key'): { file: string; text: string } | undefined => {
    const file = resolve(base, files[name]);
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.add({ path: [...path, name], message: `cannot read ${file} (${code === 'ENOENT' ? 'no such file' : (error as Error).message})` });
      return undefined;
    }
  };
  const cert = read('cert');
  const key = read('key');
  if (cert === undefined || key === undefined) return undefined;
  try {
    createSecureContext({ cert: cert.text, key: key.text });
  } catch (error) {
    problems.add({ path, message: `the certificate and key cannot be used together: ${(error as Error).message}` });
    return undefined;
  }
  return { certFile: cert.file, keyFile: key.file, cert: cert.text, key: key.text };
}

/** Each entry must be an IP address or a CIDR block; kept as written, lower case. */
function compileTrustedProxies(list: readonly string[], problems: ProblemList): string[] {
  const out: string[] = [];
  list.forEach((entry, i) => {
    const [address = '', bits, extra] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const ok = family !== 0 && extra === undefined && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
    if (!ok) {
      problems.add({ path: ['trustedProxies', i], message: `expected an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8, got "${entry}"` });
      return;
    }
    // BlockList checks what it is given; a failure here is a bug in the test above.
    new BlockList().addSubnet(address, bits === undefined ? max : Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    out.push(entry.toLowerCase());
  });
  return out;
}

/** An upstream as a route refers to it: its name or URL as written (canonical), and the Upstream. */
interface UpstreamRef {
  written: string;
  upstream: Upstream;
}

/**
 * The upstreams of one Config: the named ones, and one implicit single-server upstream per
 * URL origin, shared by every route that names the same URL.
 */
class Upstreams {
  private readonly implicit = new Map<string, Upstream>();

  constructor(private readonly named: Map<string, Upstream>) {}

  /** A URL origin → its implicit upstream, with today's behaviour. */
  url(url: string): UpstreamRef {
    let upstream = this.implicit.get(url);
    if (upstream === undefined) {
      upstream = {
        name: url,
        implicit: true,
        servers: [url],
        balance: 'round-robin',
        connections: IMPLICIT_CONNECTIONS,
        retry: { attempts: 1, connect: false, statuses: [] },
        host: 'preserve',
      };
      this.implicit.set(url, upstream);
    }
    return { written: url, upstream };
  }

  /** A name (an entry of `upstreams`), reported at `path` when there is no such entry. */
  name(path: KeyPath, name: string, problems: ProblemList): UpstreamRef | undefined {
    const upstream = this.named.get(name);
    if (upstream !== undefined) return { written: name, upstream };
    const names = [...this.named.keys()];
    const guess = suggest(name, names);
    problems.add({
      path,
      message:
        `no upstream is named "${name}"` +
        (guess !== undefined ? `; did you mean "${guess}"?` : names.length > 0 ? `; upstreams: ${names.join(', ')}` : '; define it under upstreams'),
    });
    return undefined;
  }

  /** The top-level `origin`: a URL or a name. */
  resolve(path: KeyPath, written: string, problems: ProblemList, convert: Convert): UpstreamRef | undefined {
    if (written === undefined || problems.covers(path)) return undefined;
    if (/^https?:/i.test(written)) {
      const url = convert(path, written, parseOrigin);
      return url === undefined ? undefined : this.url(url);
    }
    return this.name(path, written, problems);
  }

  all(): Record<string, Upstream> {
    return Object.fromEntries([...this.named, ...this.implicit]);
  }
}

/** Connections per server of a URL origin: what larder always used. */
const IMPLICIT_CONNECTIONS = 256;

/** `upstreams`: each entry compiled; TLS files read relative to the rules file's folder. */
function compileUpstreams(rules: Rules['upstreams'], base: string, problems: ProblemList, convert: Convert): Map<string, Upstream> {
  const out = new Map<string, Upstream>();
  for (const [name, upstream] of Object.entries(rules ?? {})) {
    const at = (...rest: (string | number)[]): KeyPath => ['upstreams', name, ...rest];
    if (upstream === undefined || problems.covers(at())) continue;
    // TypeBox fills no defaults inside a record's values: the schema's, filled here.
    const filled = Value.Default(UpstreamSchema, structuredClone(upstream)) as UpstreamRules;
    out.set(name, compileUpstream(name, filled, at, base, problems, convert));
  }
  return out;
}

function compileUpstream(
  name: string,
  rules: UpstreamRules,
  at: (...rest: (string | number)[]) => KeyPath,
  base: string,
  problems: ProblemList,
  convert: Convert,
): Upstream {
  const servers: string[] = [];
  (rules.servers ?? []).forEach((written, i) => {
    const url = convert(at('servers', i), written, parseOrigin);
    if (url === undefined) return;
    if (servers.includes(url)) problems.add({ path: at('servers', i), message: `${url} is listed twice; list each server once` });
    else servers.push(url);
  });
  const check = rules.healthCheck;
  const upstream: Upstream = {
    name,
    implicit: false,
    servers,
    balance: rules.balance,
    connections: rules.connections,
    retry: {
      attempts: rules.retry.attempts,
      connect: rules.retry.on.includes('connect'),
      statuses: [...new Set(rules.retry.on.filter((v): v is number => typeof v === 'number'))].sort(),
    },
    host: rules.host,
  };
  if (check !== undefined) {
    upstream.healthCheck = {
      path: check.path,
      interval: convert(at('healthCheck', 'interval'), check.interval, parseTimeout),
      timeout: convert(at('healthCheck', 'timeout'), check.timeout, parseTimeout),
      unhealthyAfter: check.unhealthyAfter,
      healthyAfter: check.healthyAfter,
    };
  }
  if (rules.tls !== undefined) upstream.tls = compileTls(rules.tls, (...rest) => at('tls', ...rest), base, problems);
  return upstream;
}

/** `upstreams.*.tls`: the PEM files read now, so that a missing one is a problem with its place. */
function compileTls(tls: NonNullable<UpstreamRules['tls']>, at: (...rest: string[]) => KeyPath, base: string, problems: ProblemList): UpstreamTls {
  const out: UpstreamTls = { verify: tls.verify };
  if (tls.serverName !== undefined) out.serverName = tls.serverName;
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    problems.add({ path: at(tls.cert === undefined ? 'key' : 'cert'), at: 'key', message: 'a client certificate needs both cert and key' });
  }
  for (const option of ['ca', 'cert', 'key'] as const) {
    const file = tls[option];
    if (file === undefined || problems.covers(at(option))) continue;
    const path = resolve(base, file);
    try {
      const text = readFileSync(path, 'utf8');
      if (!text.includes('-----BEGIN ')) throw new Error('not a PEM file');
      out[option] = text;
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      problems.add({ path: at(option), message: `cannot read ${path} (${reason})` });
    }
  }
  return out;
}

function compileCache(cache: CacheRules, problems: ProblemList, convert: Convert): Config['cache'] {
  const at = (...rest: string[]): KeyPath => ['cache', ...rest];
  const { memory, heuristic } = cache;
  const maxSize = convert(at('memory', 'maxSize'), memory.maxSize, parsePositiveSize);
  const maxEntrySize = convert(at('memory', 'maxEntrySize'), memory.maxEntrySize, parsePositiveSize);
  if (maxEntrySize > maxSize) {
    problems.add({
      path: at('memory', 'maxEntrySize'),
      message: `must not exceed cache.memory.maxSize (${quote(memory.maxSize)}), got ${quote(memory.maxEntrySize)}; lower maxEntrySize or raise maxSize`,
    });
  }
  const redis = cache.redis === undefined ? undefined : compileRedis(cache.redis, problems, convert);
  return {
    memory: { maxSize, maxEntrySize },
    hitForPass: convert(at('hitForPass'), cache.hitForPass, parseDuration),
    lockTimeout: convert(at('lockTimeout'), cache.lockTimeout, parseDuration),
    maxVariants: cache.maxVariants,
    heuristicFraction: heuristic.fraction,
    heuristicMax: convert(at('heuristic', 'max'), heuristic.max, parseDuration),
    maxTtl: convert(at('maxTtl'), cache.maxTtl, parseDuration),
    targeted: cache.targetedCacheControl.map((name) => name.toLowerCase()),
    compression: {
      codings: [...new Set(cache.compression.codings)],
      level: { ...cache.compression.level },
      minSize: convert(at('compression', 'minSize'), cache.compression.minSize, parseSize),
      types: cache.compression.types.map((t) => t.toLowerCase()),
    },
    ...(redis === undefined ? {} : { redis }),
  };
}

function compileSecurity(security: SecurityRules, problems: ProblemList, convert: Convert): SecuritySettings {
  const t = security.clientTimeouts;
  const at = (name: string): KeyPath => ['security', 'clientTimeouts', name];
  const headers = convert(at('headers'), t.headers, parseTimeout);
  const request = convert(at('request'), t.request, parseTimeout);
  if (request < headers) {
    problems.add({
      path: at('request'),
      message: `must be at least security.clientTimeouts.headers (${quote(t.headers)}), got ${quote(t.request)}; a request cannot finish before its headers do`,
    });
  }
  return {
    maxHeaderSize: convert(['security', 'maxHeaderSize'], security.maxHeaderSize, parsePositiveSize),
    maxHeaders: security.maxHeaders,
    maxRequestBodySize: convert(['security', 'maxRequestBodySize'], security.maxRequestBodySize, parsePositiveSize),
    clientTimeouts: { headers, request, keepAlive: convert(at('keepAlive'), t.keepAlive, parseTimeout) },
    stripRequestHeaders: sortedUnique(security.stripRequestHeaders.map((h) => h.toLowerCase().replaceAll('_', '-'))),
    getWithBody: security.getWithBody,
    encodedSlashes: security.encodedSlashes,
    invalidateOnUnknownMethods: security.invalidateOnUnknownMethods,
  };
}

function compileAdmin(admin: Rules['admin'], convert: Convert): { admin?: AdminSettings } {
  if (admin === undefined) return {};
  const listen = convert(['admin', 'listen'], admin.listen, parseListen);
  return {
    admin: {
      listen,
      ...(admin.token !== undefined && admin.token !== '' ? { token: admin.token } : {}),
      public: [...new Set(admin.public)],
      status: admin.status,
    },
  };
}

function compileWarm(warm: Rules['warm']): Pick<Config, 'warm'> {
  if (warm === undefined) return {};
  const { urls, file, concurrency, waitForReady } = warm;
  return { warm: { urls, ...(file === undefined ? {} : { file }), concurrency, waitForReady } };
}

function compileRedis(redis: RedisRules, problems: ProblemList, convert: Convert): RedisSettings {
  const at = (...rest: string[]): KeyPath => ['cache', 'redis', ...rest];
  const { url, cluster } = redis;
  // A url or cluster the schema rejected was removed; it was written, so "needs one" would be wrong.
  const written = (key: string) => problems.covers(at(key)) || problems.within(at(key));
  if (url !== undefined && cluster !== undefined) {
    problems.add({ path: at('cluster'), at: 'key', message: 'give either url (one server) or cluster (seed nodes), not both' });
  }
  if (url === undefined && cluster === undefined && !written('url') && !written('cluster')) {
    problems.add({ path: at(), at: 'key', message: 'needs url (one server, e.g. redis://127.0.0.1:6379) or cluster (seed node URLs)' });
  }
  return {
    ...(url === undefined ? {} : { url }),
    ...(cluster === undefined ? {} : { cluster }),
    prefix: redis.prefix,
    commandTimeout: convert(at('commandTimeout'), redis.commandTimeout, parseDuration),
    breakerFailures: redis.breaker.failures,
    breakerCoolDown: convert(at('breaker', 'coolDown'), redis.breaker.coolDown, parseDuration),
    ...compileEncryption(redis.encryption, problems),
  };
}

/** `cache.redis.encryption`: keys decoded to 32 bytes; a problem never quotes a key (it is a secret). */
function compileEncryption(encryption: RedisRules['encryption'], problems: ProblemList): Pick<RedisSettings, 'encryption'> {
  if (encryption?.keys === undefined) return {};
  const keys: Array<{ id: string; key: string }> = [];
  const seen = new Set<string>();
  encryption.keys.forEach(({ id, key: text }, i) => {
    const at = (name: string): KeyPath => ['cache', 'redis', 'encryption', 'keys', i, name];
    if (id === undefined || text === undefined) return; // rejected by the schema
    if (seen.has(id)) {
      problems.add({ path: at('id'), message: `key id "${id}" is listed twice; every key needs its own id` });
      return;
    }
    seen.add(id);
    const key = parseEntryKey(text);
    if (key === undefined) {
      problems.add({
        path: at('key'),
        message: `must be 32 bytes written as 64 hex digits or 44 base64 characters (got ${text.length} characters; the value is not shown)`,
      });
      return;
    }
    keys.push({ id, key: key.toString('hex') });
  });
  return keys.length === 0 ? {} : { encryption: { keys } };
}

function compileRoutes(
  routes: readonly RouteRules[],
  origin: UpstreamRef | undefined,
  upstreams: Upstreams,
  problems: ProblemList,
  convert: Convert,
): Route[] {
  const firstUse = new Map<string, number>();
  return routes.map((route, i) => {
    const at = (...rest: (string | number)[]): KeyPath => ['routes', i, ...rest];
    const { name } = route;
    if (name !== undefined) {
      const earlier = firstUse.get(name);
      if (name === 'default') {
        problems.add({ path: at('name'), message: 'the name "default" is reserved for the built-in route; choose another name' });
      } else if (earlier !== undefined) {
        problems.add({
          path: at('name'),
          message: `"${name}" is already the name of routes[${earlier}]; route names must be unique (they label metrics)`,
        });
      } else {
        firstUse.set(name, i);
      }
    }
    const compiled = compileRoute(route, at, routeUpstream(route, at, origin, upstreams, problems, convert), problems, convert);
    checkResponseHeaders(route.responseHeaders, at('responseHeaders'), problems);
    if (route.match !== undefined) compileMatch(route.match, compiled, at('match'), problems);
    return compiled;
  });
}

/** A route's `origin` (URL) or `upstream` (name), else the top-level origin. */
function routeUpstream(
  route: RouteRules,
  at: (...rest: (string | number)[]) => KeyPath,
  origin: UpstreamRef | undefined,
  upstreams: Upstreams,
  problems: ProblemList,
  convert: Convert,
): UpstreamRef | undefined {
  if (route.origin !== undefined && route.upstream !== undefined) {
    problems.add({ path: at('upstream'), at: 'key', message: 'give either origin (a URL) or upstream (a name), not both' });
    return undefined;
  }
  if (route.upstream !== undefined) return problems.covers(at('upstream')) ? undefined : upstreams.name(at('upstream'), route.upstream, problems);
  if (route.origin !== undefined) {
    const url = convert(at('origin'), route.origin, parseOrigin);
    return url === undefined ? undefined : upstreams.url(url);
  }
  return origin;
}

/** One route's options; its name and match are the caller's. */
function compileRoute(
  route: RouteRules,
  at: (...rest: (string | number)[]) => KeyPath,
  upstream: UpstreamRef | undefined,
  problems: ProblemList,
  convert: Convert,
): Route {
  const compiled: Route = {
    name: route.name, // absent only when the schema reported it: this Config is then never used
    configured: true,
    methods: [],
    matches: () => false,
    cache: route.cache,
    // Absent only when a problem was reported: this Config is then never used.
    origin: upstream?.written as string,
    upstream: upstream?.upstream as Upstream,
    // A cookies list keys on the cookies it keeps (http/cookies.ts sorts them).
    key: compileKey(route.key, Array.isArray(route.cookies)),
    tags: route.tags,
    unsafeShareSetCookie: route.unsafeShareSetCookie,
    earlyRefresh: route.earlyRefresh,
    jitter: percent(route.jitter),
    ttlByStatus: compileTtlByStatus(route.ttlByStatus, at, problems, convert),
    clientDirectives: route.clientDirectives,
    cookies: Array.isArray(route.cookies) ? sortedUnique(route.cookies) : route.cookies,
    responseHeaders: responseFieldList(DEFAULT_STRIP_RESPONSE_HEADERS, route.responseHeaders.strip, route.responseHeaders.keep),
  };
  for (const option of ['ttl', 'forceTtl', 'staleWhileRevalidate', 'staleIfError'] as const) {
    const ms = convert(at(option), route[option], parseDuration);
    if (ms !== undefined) compiled[option] = ms;
  }
  return compiled;
}

/**
 * `ttlByStatus`: status → lifetime. 407 is refused: a proxy's challenge is addressed to the one
 * client that talks to that proxy (RFC 9110 §15.5.8), never to be replayed to others.
 */
function compileTtlByStatus(
  byStatus: RouteRules['ttlByStatus'],
  at: (...rest: (string | number)[]) => KeyPath,
  problems: ProblemList,
  convert: Convert,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [status, text] of Object.entries(byStatus ?? {})) {
    if (status === '407') {
      problems.add({
        path: at('ttlByStatus', status),
        at: 'key',
        message: '407 Proxy Authentication Required answers one client\'s proxy credentials and is never cached; remove it',
      });
      continue;
    }
    const ms = convert(at('ttlByStatus', status), text, parseDuration);
    if (ms !== undefined) out.set(Number(status), ms);
  }
  return out;
}

/** The built-in route for requests no configured route matches: a route with every default. */
function compileDefaultRoute(origin: UpstreamRef | undefined, upstreams: Upstreams, problems: ProblemList, convert: Convert): Route {
  const rules = Value.Default(RouteSchema, { name: 'default', match: '/**' }) as RouteRules;
  const at = (...rest: (string | number)[]): KeyPath => ['defaultRoute', ...rest];
  const upstream = routeUpstream(rules, at, origin, upstreams, problems, convert);
  return { ...compileRoute(rules, at, upstream, problems, convert), configured: false, matches: () => true };
}

/** A strip entry may not remove the framing larder writes itself. */
function checkResponseHeaders(rules: RouteRules['responseHeaders'], path: KeyPath, problems: ProblemList): void {
  rules.strip.forEach((entry, i) => {
    if (typeof entry !== 'string') return; // rejected by the schema
    const framing = framingCovered(entry);
    if (framing === undefined) return;
    problems.add({
      path: [...path, 'strip', i],
      message: `${quote(entry)} would remove ${framing}, which larder writes itself for the body it sends; remove it from the list`,
    });
  });
}

function compileMatch(match: MatchRules, route: Route, path: KeyPath, problems: ProblemList): void {
  const long = typeof match === 'object';
  const pathGlob = long ? match.path : match;
  const hostGlob = long ? match.host : undefined;
  if (typeof hostGlob === 'string' && !hostGlob.startsWith('[') && /:\d*$/.test(hostGlob)) {
    problems.add({
      path: [...path, 'host'],
      message: `the host is matched without its port; remove "${hostGlob.slice(hostGlob.lastIndexOf(':'))}" from ${quote(hostGlob)}`,
    });
    return;
  }
  try {
    route.matches = makeMatcher(pathGlob, hostGlob);
  } catch (error) {
    problems.add({
      path: long ? [...path, 'path'] : path,
      message: `cannot compile glob ${quote(pathGlob)}: ${(error as Error).message}`,
    });
  }
  const methods = new Set((long ? match.methods : []).map((m) => m.toUpperCase()));
  // A cache answers HEAD from the GET entry (RFC 9110 §9.3.2), so a GET route is a HEAD route too.
  if (methods.has('GET')) methods.add('HEAD');
  route.methods = [...methods];
}

function compileKey(key: RouteRules['key'], cookie: boolean): KeyRule {
  const { query } = key;
  const headers = key.headers.map((h) => h.toLowerCase());
  return {
    query: query === 'all' ? 'all' : sortedUnique(query === 'none' ? [] : query),
    headers: sortedUnique(cookie ? [...headers, 'cookie'] : headers),
  };
}

/** "10%" → 0.1; the schema's pattern admits 0% to 100% only. */
function percent(value: string): number {
  return Math.min(1, Math.max(0, Number(value.slice(0, -1)) / 100));
}

function parseTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms === 0) throw new RangeError('a timeout of 0 would fail every fetch; write a positive duration such as 5s');
  if (ms > MAX_TIMEOUT_MS) throw new RangeError(`expected at most 24d (Node timers overflow beyond that), got ${quote(text)}`);
  return ms;
}

function parsePositiveSize(text: string | number): number {
  const bytes = parseSize(text);
  if (bytes === 0) throw new RangeError(`expected a size above 0, got ${quote(text)}`);
  return bytes;
}

const sortedUnique = (values: readonly string[]) => [...new Set(values)].sort();
