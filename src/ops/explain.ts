import type { Config } from '../config/types.js';
import type { CacheEntry, Clock } from '../types.js';
import type { TieredStore } from '../cache/tiered-store.js';
import { normaliseAcceptEncoding } from '../http/encoding.js';
import { resolveRequest } from '../http/target.js';
import { applyCookiePolicy } from '../http/cookies.js';
import { ageHeader, NO_REQUEST_DIRECTIVES, requestDirectives } from '../rfc9111/index.js';
import { evaluate } from '../rfc9111/policy.js';

export interface ExplainDeps {
  store: TieredStore;
  clock: Clock;
  config: () => Config;
}

/** What GET /explain answers: the route, the key, what each tier holds, and what a GET would get. */
export async function explain(d: ExplainDeps, target: string, given: Record<string, string>): Promise<unknown> {
  // Looked up as the handler looks a request up: with Accept-Encoding normalised.
  const headers: Record<string, string> = { ...given };
  normaliseAcceptEncoding(headers);
  const absolute = /^https?:\/\//i.test(target);
  const r = resolveRequest(d.config(), 'GET', '', target);
  if ('problem' in r) return { url: target, wouldBe: `400 (${r.problem})` };
  const { route, key, host } = r;
  const { store } = d;
  // The request as the handler would see it: the route's cookies policy applied too.
  applyCookiePolicy(headers, route.cookies);
  const now = d.clock.now();
  const inMemory = store.lookup(key.primary, headers);
  const inRedis = store.shared === undefined ? undefined : await store.lookupShared(key.primary, headers, false);
  const entry = inMemory.entry ?? inRedis?.entry;
  let would: string;
  if (!route.cache) would = 'BYPASS (route has cache: false)';
  else if (entry === undefined) would = absolute || host !== '' ? 'MISS (nothing stored for this key)' : 'MISS (give the URL with its host to look it up)';
  else would = verdict(entry, headers, now, route.clientDirectives === 'ignore');
  return {
    url: target,
    route: { name: route.name, cache: route.cache, origin: route.origin, ttl: route.ttl ?? null },
    key: { primary: key.primary, upstream: key.target, lookup: inMemory.key },
    memory: describe(inMemory.entry, now),
    ...(store.shared === undefined ? {} : { redis: { state: store.shared.store.state(), ...describe(inRedis?.entry, now) } }),
    purgeRules: store.rules.size,
    wouldBe: would,
  };
}

/** What a GET with `headers` would get from the stored `entry` at `now`: the handler's own policy. */
export function verdict(entry: CacheEntry, headers: Record<string, string>, now: number, ignoreDirectives = false): string {
  const d = evaluate(entry, { headers, cc: ignoreDirectives ? NO_REQUEST_DIRECTIVES : requestDirectives(headers) }, now);
  switch (d.kind) {
    case 'HIT':
      return 'HIT (fresh)';
    case 'STALE':
      return `STALE (${d.why === 'revalidate' ? 'within stale-while-revalidate; a refresh would start' : 'allowed by max-stale'})`;
    case 'REVALIDATE':
      return 'REVALIDATED or MISS (stale or no-cache: a conditional request goes to the origin)';
    default:
      if (d.why === 'vary') return 'MISS (the stored response varies on fields these headers do not match)';
      if (d.why === 'cookie') return 'MISS (a request with Cookie is answered only with freshness the origin declared, and this entry\'s is ' + entry.lifetimeSource + ')';
      if (d.why === 'authorization') return 'MISS (a request with Authorization may not reuse this response: it is not public, s-maxage or must-revalidate)';
      return 'MISS (stale, and nothing to revalidate with)';
  }
}

function describe(e: CacheEntry | undefined, now: number) {
  if (e === undefined) return { stored: false };
  return {
    stored: true,
    status: e.status,
    age: Number(ageHeader(e, now)),
    freshFor: Math.floor((e.freshUntil - now) / 1000),
    staleWhileRevalidateFor: Math.max(0, Math.floor((e.staleWhileRevalidateUntil - now) / 1000)),
    staleIfErrorFor: Math.max(0, Math.floor((e.staleIfErrorUntil - now) / 1000)),
    lifetimeFrom: e.lifetimeSource,
    vary: e.varyNames,
    tags: e.tags,
    validators: { etag: e.etag ?? null, lastModified: e.lastModified ?? null },
    size: e.size,
  };
}
