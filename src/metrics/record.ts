import type { CounterCell, HistogramCell } from './cells.js';
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
/** The origin status classes created at 0 by init(), in their export order. */
const ORIGIN_CLASSES: readonly string[] = [...STATUS_CLASS.slice(1), 'error'];

type Result = RequestFacts['result'];
type Stale = NonNullable<RequestFacts['stale']>;

const CACHE_LABEL = { HIT: 'hit', MISS: 'miss', STALE: 'stale', REVALIDATED: 'revalidated', BYPASS: 'bypass' } as const;
const RESULTS = Object.keys(CACHE_LABEL) as Result[];
const TIERS = ['memory', 'redis'] as const;
const STALE_REASONS: readonly Stale[] = ['revalidate', 'max-stale', 'error'];

/** A cell found on first use, then read from its slot. */
type Slots<K extends string, C> = Partial<Record<K, C>>;

/**
 * One route's cells, bound on first use (or by init) and then incremented in place: recording a
 * request costs a Map lookup by route name and a few property reads, no label handling.
 */
interface RouteCells {
  route: string;
  /** larder_requests_total and larder_request_duration_seconds, by X-Cache result. */
  requests: Slots<Result, CounterCell>;
  duration: Slots<Result, HistogramCell>;
  /** larder_cache_hits_total by tier. */
  hits: Slots<'memory' | 'redis', CounterCell>;
  /** larder_stale_served_total by reason. */
  stale: Slots<Stale, CounterCell>;
  coalesced: CounterCell | undefined;
  earlyRefreshes: CounterCell | undefined;
  /** larder_origin_requests_total by status class, larder_origin_duration_seconds. */
  origin: Map<string, CounterCell>;
  originDuration: HistogramCell | undefined;
}

/**
 * Records into the cell metrics of the registry (cells.ts). Cells are bound once per label
 * combination and kept (per route, per upstream server), so a request costs a lookup by route
 * and number increments; prom-client reads the cells only when /metrics is scraped.
 */
export class Recorder {
  private readonly routes = new Map<string, RouteCells>();
  /** upstream → server → larder_upstream_requests_total's cell. */
  private readonly upstreams = new Map<string, Map<string, CounterCell>>();

  /** Memory-tier evictions so far, readable at once (the status page). */
  evictions = 0;
  private readonly evictionCell: CounterCell;
  private readonly decryptCell: CounterCell;

  constructor(readonly metrics: Metrics) {
    this.evictionCell = metrics.memoryEvictions.cell();
    this.decryptCell = metrics.decryptFailures.cell();
  }

  /**
   * Creates every bounded label combination at 0, so that dashboards and rate() see the series
   * before the first event: requests and durations per route and result, hits per route and
   * tier, origin requests per route and status class, reloads and purges by kind. Called at start
   * and after a reload (for new routes); series that exist keep their values.
   */
  init(routes: readonly string[]): void {
    for (const route of routes) {
      const r = this.route(route);
      for (const result of RESULTS) {
        this.requestCell(r, result);
        this.durationCell(r, result);
      }
      for (const tier of TIERS) this.hitCell(r, tier);
      for (const cls of ORIGIN_CLASSES) this.originCell(r, cls);
      for (const reason of STALE_REASONS) this.staleCell(r, reason);
      r.coalesced ??= this.metrics.coalesced.cell(route);
      r.earlyRefreshes ??= this.metrics.earlyRefreshes.cell(route);
    }
    for (const result of ['ok', 'error']) this.metrics.configReloads.cell(result);
    for (const kind of ['url', 'path', 'prefix', 'tag']) this.metrics.purges.cell(kind);
  }

  request(f: RequestFacts): void {
    const r = this.routes.get(f.route) ?? this.route(f.route);
    const result = f.result;
    (r.requests[result] ?? this.requestCell(r, result)).value++;
    (r.duration[result] ?? this.durationCell(r, result)).observe(f.ms / 1000);
    const tier = f.tier;
    if (tier !== undefined && (result === 'HIT' || result === 'STALE')) (r.hits[tier] ?? this.hitCell(r, tier)).value++;
    const stale = f.stale;
    if (stale !== undefined) (r.stale[stale] ?? this.staleCell(r, stale)).value++;
    if (f.collapsed === true) (r.coalesced ??= this.metrics.coalesced.cell(r.route)).value++;
  }

  /** One request to the origin: `status` undefined when it failed without a response. */
  origin(route: string, status: number | undefined, ms: number): void {
    const r = this.routes.get(route) ?? this.route(route);
    const cls = status === undefined ? 'error' : STATUS_CLASS[Math.floor(status / 100)] ?? `${Math.floor(status / 100)}xx`;
    (r.origin.get(cls) ?? this.originCell(r, cls)).value++;
    if (status !== undefined) (r.originDuration ??= this.metrics.originDuration.cell(route)).observe(ms / 1000);
  }

  /** A request (first try or retry) sent to a server of an upstream. */
  upstreamRequest(upstream: string, server: string): void {
    let servers = this.upstreams.get(upstream);
    if (servers === undefined) this.upstreams.set(upstream, (servers = new Map()));
    let c = servers.get(server);
    if (c === undefined) servers.set(server, (c = this.metrics.upstreamRequests.cell(upstream, server)));
    c.value++;
  }

  upstreamError(upstream: string, server: string, kind: string): void {
    this.metrics.upstreamErrors.cell(upstream, server, kind).value++;
  }

  earlyRefresh(route: string): void {
    const r = this.routes.get(route) ?? this.route(route);
    (r.earlyRefreshes ??= this.metrics.earlyRefreshes.cell(route)).value++;
  }

  eviction(): void {
    this.evictions++;
    this.evictionCell.value++;
  }

  redisError(op: string): void {
    this.metrics.redisErrors.cell(op).value++;
  }

  decryptFailure(): void {
    this.decryptCell.value++;
  }

  purge(kind: string, n = 1): void {
    this.metrics.purges.cell(kind).value += n;
  }

  reload(result: 'ok' | 'error'): void {
    this.metrics.configReloads.cell(result).value++;
  }

  private route(route: string): RouteCells {
    let r = this.routes.get(route);
    if (r === undefined) {
      r = { route, requests: {}, duration: {}, hits: {}, stale: {}, coalesced: undefined, earlyRefreshes: undefined, origin: new Map(), originDuration: undefined };
      this.routes.set(route, r);
    }
    return r;
  }

  private requestCell(r: RouteCells, result: Result): CounterCell {
    return (r.requests[result] ??= this.metrics.requests.cell(r.route, CACHE_LABEL[result]));
  }

  private durationCell(r: RouteCells, result: Result): HistogramCell {
    return (r.duration[result] ??= this.metrics.requestDuration.cell(r.route, CACHE_LABEL[result]));
  }

  private hitCell(r: RouteCells, tier: 'memory' | 'redis'): CounterCell {
    return (r.hits[tier] ??= this.metrics.cacheHits.cell(r.route, tier));
  }

  private staleCell(r: RouteCells, reason: Stale): CounterCell {
    return (r.stale[reason] ??= this.metrics.staleServed.cell(r.route, reason));
  }

  private originCell(r: RouteCells, cls: string): CounterCell {
    let c = r.origin.get(cls);
    if (c === undefined) r.origin.set(cls, (c = this.metrics.originRequests.cell(r.route, cls)));
    return c;
  }
}
