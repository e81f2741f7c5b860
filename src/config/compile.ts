/**
 * Schema-valid input → the Config the rest of larder reads: units become numbers, URLs are
 * canonicalised, globs compiled, and the rules a JSON Schema cannot state are checked.
 *
 * It runs even when the schema found problems, so that the user sees every problem in one
 * pass: each conversion is skipped where the value is absent (its parent was invalid), and
 * a conversion error at a place the schema already reported is dropped by ProblemList.
 */
import { parseEntryKey } from '../cache/crypto.js';
import { parseListen, parseOrigin } from './addresses.js';
import type { KeyPath, ProblemList } from './problems.js';
import { makeDefaultRoute, makeMatcher } from './routes.js';
import { DEFAULT_STRIP_REQUEST_HEADERS } from './schema.js';
import type { AdminSettings, Config, KeyRule, ListenAddress, RedisSettings, Route, SecuritySettings } from './types.js';
import { parseDuration, parseSize, quote } from './units.js';

type Dict = Record<string, unknown>;

const isDict = (value: unknown): value is Dict =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const get = (value: unknown, key: string): unknown => (isDict(value) ? value[key] : undefined);

/** setTimeout silently turns longer delays into 1 ms. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Route options that do nothing on a pass-through route; setting one is a misunderstanding. */
const CACHING_OPTIONS = ['ttl', 'staleWhileRevalidate', 'staleIfError', 'key', 'tags', 'unsafeShareSetCookie', 'earlyRefresh', 'jitter'];

/**
 * Needs the input as written (before defaults are filled in): `cache: false` routes that set
 * caching options. An error rather than a warning, because a silently ignored ttl on an
 * auth route reads like caching is on.
 */
export function checkPassThroughRoutes(written: unknown, problems: ProblemList): void {
  const routes = get(written, 'routes');
  if (!Array.isArray(routes)) return;
  routes.forEach((route, i) => {
    if (!isDict(route) || route['cache'] !== false) return;
    for (const option of CACHING_OPTIONS) {
      if (option in route) {
        problems.add({
          path: ['routes', i, option],
          at: 'key',
          message: `has no effect because the route sets cache: false (always passed through); remove ${option}, or remove cache: false`,
        });
      }
    }
  });
}

/** Builds the Config from defaulted input, reporting what the schema cannot check. */
export function compile(input: unknown, problems: ProblemList): Config {
  const convert = <T>(path: KeyPath, value: unknown, fn: (value: never) => T, fallback: T): T => {
    if (value === undefined) return fallback;
    try {
      return fn(value as never);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      problems.add({ path, message: error.message });
      return fallback;
    }
  };
  const duration = (path: KeyPath, value: unknown, fallback: number) => convert(path, value, parseDuration, fallback);
  const timeout = (name: string) =>
    convert(['timeouts', name], get(get(input, 'timeouts'), name), parseTimeout, 1000);

  const listen: ListenAddress = convert(['listen'], get(input, 'listen'), parseListen, { host: '127.0.0.1', port: 0 });
  const origin = convert(['origin'], get(input, 'origin'), parseOrigin, 'http://invalid');

  const cache = get(input, 'cache');
  const memory = get(cache, 'memory');
  const maxSize = convert(['cache', 'memory', 'maxSize'], get(memory, 'maxSize'), parsePositiveSize, NaN);
  const maxEntrySize = convert(['cache', 'memory', 'maxEntrySize'], get(memory, 'maxEntrySize'), parsePositiveSize, NaN);
  if (maxEntrySize > maxSize) {
    problems.add({
      path: ['cache', 'memory', 'maxEntrySize'],
      message: `must not exceed cache.memory.maxSize (${quote(get(memory, 'maxSize'))}), got ${quote(get(memory, 'maxEntrySize'))}; lower maxEntrySize or raise maxSize`,
    });
  }
  const heuristic = get(cache, 'heuristic');
  const redis = compileRedis(get(cache, 'redis'), problems, duration);

  return {
    listen,
    origin,
    timeouts: { connect: timeout('connect'), headers: timeout('headers'), body: timeout('body') },
    cache: {
      memory: { maxSize, maxEntrySize },
      hitForPass: duration(['cache', 'hitForPass'], get(cache, 'hitForPass'), 0),
      lockTimeout: duration(['cache', 'lockTimeout'], get(cache, 'lockTimeout'), 10_000),
      maxVariants: numberOr(get(cache, 'maxVariants'), 16),
      heuristicFraction: numberOr(get(heuristic, 'fraction'), 0),
      heuristicMax: duration(['cache', 'heuristic', 'max'], get(heuristic, 'max'), 0),
      maxTtl: duration(['cache', 'maxTtl'], get(cache, 'maxTtl'), 7 * 86_400_000),
      targeted: stringList(get(cache, 'targetedCacheControl'), ['larder-cache-control', 'cdn-cache-control']).map((n) => n.toLowerCase()),
      ...(redis === undefined ? {} : { redis }),
    },
    security: compileSecurity(get(input, 'security'), problems, convert),
    ...compileAdmin(get(input, 'admin'), convert),
    log: {
      level: (get(get(input, 'log'), 'level') as Config['log']['level'] | undefined) ?? 'info',
      requests: numberOr(get(get(input, 'log'), 'requests'), 1),
    },
    shutdownGrace: duration(['shutdownGrace'], get(input, 'shutdownGrace'), 10_000),
    ...compileWarm(get(input, 'warm')),
    routes: compileRoutes(get(input, 'routes'), origin, problems, convert),
    defaultRoute: makeDefaultRoute(origin),
  };
}

function compileSecurity(input: unknown, problems: ProblemList, convert: Convert): SecuritySettings {
  const t = get(input, 'clientTimeouts');
  const at = (name: string): KeyPath => ['security', 'clientTimeouts', name];
  const headers = convert(at('headers'), get(t, 'headers'), parseTimeout, 10_000);
  const request = convert(at('request'), get(t, 'request'), parseTimeout, 60_000);
  if (request < headers) {
    problems.add({
      path: at('request'),
      message: `must be at least security.clientTimeouts.headers (${quote(get(t, 'headers'))}), got ${quote(get(t, 'request'))}; a request cannot finish before its headers do`,
    });
  }
  return {
    maxHeaderSize: convert(['security', 'maxHeaderSize'], get(input, 'maxHeaderSize'), parsePositiveSize, 16 * 1024),
    maxHeaders: numberOr(get(input, 'maxHeaders'), 100),
    maxRequestBodySize: convert(['security', 'maxRequestBodySize'], get(input, 'maxRequestBodySize'), parsePositiveSize, 100 * 1024 * 1024),
    clientTimeouts: { headers, request, keepAlive: convert(at('keepAlive'), get(t, 'keepAlive'), parseTimeout, 5_000) },
    stripRequestHeaders: sortedUnique(stringList(get(input, 'stripRequestHeaders'), [...DEFAULT_STRIP_REQUEST_HEADERS]).map((h) => h.toLowerCase().replaceAll('_', '-'))),
    getWithBody: get(input, 'getWithBody') === 'reject' ? 'reject' : 'drop',
    encodedSlashes: get(input, 'encodedSlashes') === 'keep' ? 'keep' : 'reject',
    invalidateOnUnknownMethods: get(input, 'invalidateOnUnknownMethods') !== false,
  };
}

function compileAdmin(input: unknown, convert: Convert): { admin?: AdminSettings } {
  if (!isDict(input)) return {};
  const listen = convert(['admin', 'listen'], get(input, 'listen'), parseListen, { host: '127.0.0.1', port: 0 });
  const token = get(input, 'token');
  return { admin: { listen, ...(typeof token === 'string' && token !== '' ? { token } : {}) } };
}

function compileWarm(input: unknown): Pick<Config, 'warm'> {
  if (!isDict(input)) return {};
  const file = get(input, 'file');
  return {
    warm: {
      urls: stringList(get(input, 'urls'), []),
      ...(typeof file === 'string' ? { file } : {}),
      concurrency: numberOr(get(input, 'concurrency'), 4),
      waitForReady: get(input, 'waitForReady') === true,
    },
  };
}

function percent(value: unknown): number {
  if (typeof value !== 'string' || !value.endsWith('%')) return 0;
  const n = Number(value.slice(0, -1));
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n / 100)) : 0;
}

function stringList(value: unknown, fallback: string[]): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : fallback;
}

function compileRedis(
  input: unknown,
  problems: ProblemList,
  duration: (path: KeyPath, value: unknown, fallback: number) => number,
): RedisSettings | undefined {
  if (!isDict(input)) return undefined;
  const url = get(input, 'url');
  const cluster = get(input, 'cluster');
  if (url !== undefined && cluster !== undefined) {
    problems.add({ path: ['cache', 'redis', 'cluster'], at: 'key', message: 'give either url (one server) or cluster (seed nodes), not both' });
  }
  if (url === undefined && cluster === undefined) {
    problems.add({ path: ['cache', 'redis'], at: 'key', message: 'needs url (one server, e.g. redis://127.0.0.1:6379) or cluster (seed node URLs)' });
  }
  const breaker = get(input, 'breaker');
  return {
    ...(typeof url === 'string' ? { url } : {}),
    ...(Array.isArray(cluster) ? { cluster: cluster.filter((c): c is string => typeof c === 'string') } : {}),
    prefix: typeof get(input, 'prefix') === 'string' ? (get(input, 'prefix') as string) : 'larder:',
    commandTimeout: duration(['cache', 'redis', 'commandTimeout'], get(input, 'commandTimeout'), 50),
    breakerFailures: numberOr(get(breaker, 'failures'), 5),
    breakerCoolDown: duration(['cache', 'redis', 'breaker', 'coolDown'], get(breaker, 'coolDown'), 5000),
    ...compileEncryption(get(input, 'encryption'), problems),
  };
}

/** `cache.redis.encryption`: keys decoded to 32 bytes; a problem never quotes a key (it is a secret). */
function compileEncryption(input: unknown, problems: ProblemList): Pick<RedisSettings, 'encryption'> {
  if (!isDict(input)) return {};
  const list = get(input, 'keys');
  if (!Array.isArray(list)) return {};
  const keys: Array<{ id: string; key: string }> = [];
  const seen = new Set<string>();
  list.forEach((item: unknown, i) => {
    const id = get(item, 'id');
    const text = get(item, 'key');
    if (typeof id !== 'string' || typeof text !== 'string') return;
    if (seen.has(id)) {
      problems.add({ path: ['cache', 'redis', 'encryption', 'keys', i, 'id'], message: `key id "${id}" is listed twice; every key needs its own id` });
      return;
    }
    seen.add(id);
    const key = parseEntryKey(text);
    if (key === undefined) {
      problems.add({
        path: ['cache', 'redis', 'encryption', 'keys', i, 'key'],
        message: `must be 32 bytes written as 64 hex digits or 44 base64 characters (got ${text.length} characters; the value is not shown)`,
      });
      return;
    }
    keys.push({ id, key: key.toString('hex') });
  });
  return keys.length === 0 ? {} : { encryption: { keys } };
}

type Convert = <T>(path: KeyPath, value: unknown, fn: (value: never) => T, fallback: T) => T;

function compileRoutes(input: unknown, origin: string, problems: ProblemList, convert: Convert): Route[] {
  if (!Array.isArray(input)) return [];
  const firstUse = new Map<string, number>();
  return input.map((route: unknown, i) => {
    const at = (...rest: (string | number)[]): KeyPath => ['routes', i, ...rest];
    const name = get(route, 'name');
    if (typeof name === 'string') {
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

    const cache = get(route, 'cache') !== false;
    const keyInput = get(route, 'key');
    const compiled: Route = {
      name: typeof name === 'string' ? name : `#${i}`,
      configured: true,
      methods: [],
      matches: () => false,
      cache,
      origin: convert(at('origin'), get(route, 'origin'), parseOrigin, origin),
      key: compileKey(keyInput),
      tags: stringsOf(get(route, 'tags')),
      unsafeShareSetCookie: get(route, 'unsafeShareSetCookie') === true,
      earlyRefresh: numberOr(get(route, 'earlyRefresh'), 0),
      jitter: percent(get(route, 'jitter')),
    };
    for (const option of ['ttl', 'staleWhileRevalidate', 'staleIfError'] as const) {
      const ms = convert(at(option), get(route, option), parseDuration, undefined);
      if (ms !== undefined) compiled[option] = ms;
    }
    compileMatch(get(route, 'match'), compiled, at('match'), problems);
    return compiled;
  });
}

function compileMatch(match: unknown, route: Route, path: KeyPath, problems: ProblemList): void {
  const long = isDict(match);
  const pathGlob = long ? (match['path'] ?? '/**') : match; // defaults are not filled into an invalid union
  const hostGlob = long ? match['host'] : undefined;
  if (typeof pathGlob !== 'string' || (hostGlob !== undefined && typeof hostGlob !== 'string')) return;

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
  const methods = new Set(stringsOf(long ? match['methods'] : undefined).map((m) => m.toUpperCase()));
  // A cache answers HEAD from the GET entry (RFC 9110 §9.3.2), so a GET route is a HEAD route too.
  if (methods.has('GET')) methods.add('HEAD');
  route.methods = [...methods];
}

function compileKey(input: unknown): KeyRule {
  const query = get(input, 'query');
  return {
    query: query === 'all' || query === undefined ? 'all' : sortedUnique(stringsOf(query === 'none' ? [] : query)),
    headers: sortedUnique(stringsOf(get(input, 'headers')).map((h) => h.toLowerCase())),
  };
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

const numberOr = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback);
const stringsOf = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
const sortedUnique = (values: string[]) => [...new Set(values)].sort();
