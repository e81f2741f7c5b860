import type { Metrics } from './registry.js';

/** The facts about one answered request that metrics need. */
export interface RequestFacts {
  route: string;
  result: 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'BYPASS';
  tier?: 'memory' | 'redis';
  stale?: 'revalidate' | 'max-stale' | 'error';
  collapsed?: boolean;
  ms: number;
}

const STATUS_CLASS: readonly string[] = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

const CACHE_LABEL = { HIT: 'hit', MISS: 'miss', STALE: 'stale', REVALIDATED: 'revalidated', BYPASS: 'bypass' } as const;

/**
 * Records into the registry. Label children are bound once per label combination and
 * kept, so a request costs a map lookup and an increment, not a label-object hash.
 */
export class Recorder {
  private readonly children = new Map<string, unknown>();
  /** route → X-Cache label → the bound request counter and duration histogram: no string building per request. */
  private readonly perRoute = new Map<string, Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>>();

  /** Memory-tier evictions so far, readable at once (the status page). */
  evictions = 0;

  constructor(readonly metrics: Metrics) {}

  /**
   * Creates every bounded label combination at 0, so that dashboards and rate() see the series
   * before the first event: requests and durations per route and result, hits per route and
   * tier, origin requests per route and status class, reloads and purges by kind. Called at start
   * and after a reload (for new routes).
   */
  init(routes: readonly string[]): void {
    for (const route of routes) {
      for (const cache of Object.values(CACHE_LABEL)) {
        this.metrics.requests.labels(route, cache).inc(0);
        this.metrics.requestDuration.zero({ route, cache });
      }
      for (const tier of ['memory', 'redis']) this.metrics.cacheHits.labels(route, tier).inc(0);
      for (const cls of [...STATUS_CLASS.slice(1), 'error']) this.metrics.originRequests.labels(route, cls).inc(0);
      for (const reason of ['revalidate', 'max-stale', 'error']) this.metrics.staleServed.labels(route, reason).inc(0);
      this.metrics.coalesced.labels(route).inc(0);
      this.metrics.earlyRefreshes.labels(route).inc(0);
    }
    for (const result of ['ok', 'error']) this.metrics.configReloads.labels(result).inc(0);
    for (const kind of ['url', 'path', 'prefix', 'tag']) this.metrics.purges.labels(kind).inc(0);
  }

  request(f: RequestFacts): void {
    const cache = CACHE_LABEL[f.result];
    let byResult = this.perRoute.get(f.route);
    if (byResult === undefined) this.perRoute.set(f.route, (byResult = new Map()));
    let c = byResult.get(cache);
    if (c === undefined) {
      c = { count: this.metrics.requests.labels(f.route, cache), duration: this.metrics.requestDuration.labels(f.route, cache) };
      byResult.set(cache, c);
    }
    c.count.inc();
    c.duration.observe(f.ms / 1000);
    if (f.tier !== undefined && (f.result === 'HIT' || f.result === 'STALE')) {
      this.child(f.route + '\u0000t' + f.tier, () => this.metrics.cacheHits.labels(f.route, f.tier!)).inc();
    }
    if (f.stale !== undefined) this.metrics.staleServed.labels(f.route, f.stale).inc();
    if (f.collapsed) this.child(f.route + '\u0000c', () => this.metrics.coalesced.labels(f.route)).inc();
  }

  /** One request to the origin: `status` undefined when it failed without a response. */
  origin(route: string, status: number | undefined, ms: number): void {
    const cls = status === undefined ? 'error' : STATUS_CLASS[Math.floor(status / 100)] ?? `${Math.floor(status / 100)}xx`;
    this.child(route + '\u0000o' + cls, () => this.metrics.originRequests.labels(route, cls)).inc();
    if (status !== undefined) this.child(route + '\u0000d', () => this.metrics.originDuration.labels(route)).observe(ms / 1000);
  }

  /** A request (first try or retry) sent to a server of an upstream. */
  upstreamRequest(upstream: string, server: string): void {
    this.child(upstream + '\u0000u' + server, () => this.metrics.upstreamRequests.labels(upstream, server)).inc();
  }

  upstreamError(upstream: string, server: string, kind: string): void {
    this.child(upstream + '\u0000e' + server + '\u0000' + kind, () => this.metrics.upstreamErrors.labels(upstream, server, kind)).inc();
  }

  earlyRefresh(route: string): void {
    this.metrics.earlyRefreshes.labels(route).inc();
  }

  eviction(): void {
    this.evictions++;
    this.metrics.memoryEvictions.inc();
  }

  redisError(op: string): void {
    this.metrics.redisErrors.labels(op).inc();
  }

  decryptFailure(): void {
    this.metrics.decryptFailures.inc();
  }

  purge(kind: string, n = 1): void {
    this.metrics.purges.labels(kind).inc(n);
  }

  reload(result: 'ok' | 'error'): void {
    this.metrics.configReloads.labels(result).inc();
  }

  private child<T extends { inc(n?: number): void } | { observe(v: number): void }>(key: string, make: () => T): T {
    let c = this.children.get(key) as T | undefined;
    if (c === undefined) {
      c = make();
      this.children.set(key, c);
    }
    return c;
  }
}
