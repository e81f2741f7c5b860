import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CellCounter, CellHistogram } from './cells.js';

/**
 * Every metric larder exports, defined in one place. Labels come only from bounded sets:
 * route names from the config, the X-Cache values, tiers, status classes, Redis operations
 * and purge kinds. Never a URL, a host or a header value.
 *
 * Counters and histograms are cell metrics (cells.ts): recording increments plain numbers, and
 * prom-client reads them when /metrics is scraped. Gauges are prom-client's, set at scrape time.
 */
/** One server of an upstream as the metrics show it. */
export interface UpstreamServerState {
  upstream: string;
  server: string;
  up: boolean;
}

export interface MetricSources {
  /** Every server of every upstream, read at scrape time. */
  upstreams?: () => readonly UpstreamServerState[];
  /** Bytes and entries held by the memory tier, read at scrape time. */
  memory: () => { bytes: number; entries: number };
  /** The shared tier's state at scrape time, or undefined without Redis. */
  redis?: () => 'up' | 'down' | 'breaker-open';
}

export function createMetrics(sources: MetricSources, opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  const registers = [registry];
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const requestBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

  return {
    registry,
    requests: new CellCounter({
      name: 'larder_requests_total',
      help: 'Requests answered, by route and X-Cache result (hit, miss, stale, revalidated, bypass).',
      labelNames: ['route', 'cache'] as const,
      registers,
    }),
    cacheHits: new CellCounter({
      name: 'larder_cache_hits_total',
      help: 'Requests answered from a stored entry (a hit, or stale within stale-while-revalidate or max-stale), by the tier that held it.',
      labelNames: ['route', 'tier'] as const,
      registers,
    }),
    originRequests: new CellCounter({
      name: 'larder_origin_requests_total',
      help: 'Requests sent to the origin (fills, revalidations, refreshes, pass-through), by status class (2xx..5xx, error).',
      labelNames: ['route', 'status_class'] as const,
      registers,
    }),
    originDuration: new CellHistogram({
      name: 'larder_origin_duration_seconds',
      help: 'Time from sending a request to the origin until its response headers arrived.',
      labelNames: ['route'] as const,
      buckets: requestBuckets,
      registers,
    }),
    requestDuration: new CellHistogram({
      name: 'larder_request_duration_seconds',
      help: 'Time from a request arriving until its response was handed to the socket.',
      labelNames: ['route', 'cache'] as const,
      buckets: requestBuckets,
      registers,
    }),
    coalesced: new CellCounter({
      name: 'larder_coalesced_requests_total',
      help: 'Requests that waited for another request\'s fill (in this process or another instance) instead of going to the origin.',
      labelNames: ['route'] as const,
      registers,
    }),
    staleServed: new CellCounter({
      name: 'larder_stale_served_total',
      help: 'Stale entries served: within stale-while-revalidate (revalidate), allowed by the request\'s max-stale, or for a failing origin (error).',
      labelNames: ['route', 'reason'] as const,
      registers,
    }),
    earlyRefreshes: new CellCounter({
      name: 'larder_early_refreshes_total',
      help: 'Background refreshes started by a hit before expiry (refresh-ahead: XFetch or the jittered refresh point).',
      labelNames: ['route'] as const,
      registers,
    }),
    memoryBytes: new Gauge({
      name: 'larder_memory_bytes',
      help: 'Bytes charged to the memory tier (bodies, headers and per-entry overhead).',
      registers,
      collect() {
        this.set(sources.memory().bytes);
      },
    }),
    memoryEntries: new Gauge({
      name: 'larder_memory_entries',
      help: 'Entries (and vary indexes) held by the memory tier.',
      registers,
      collect() {
        this.set(sources.memory().entries);
      },
    }),
    memoryEvictions: new CellCounter({
      name: 'larder_memory_evictions_total',
      help: 'Entries pushed out of the memory tier to make room.',
      registers,
    }),
    redisUp: new Gauge({
      name: 'larder_redis_up',
      help: '1 when the shared tier answers, 0 when it is down or skipped; absent without Redis.',
      registers: sources.redis ? registers : [],
      // Across --workers, one worker without Redis makes the whole 0.
      aggregator: 'min',
      collect() {
        if (sources.redis) this.set(sources.redis() === 'up' ? 1 : 0);
      },
    }),
    redisErrors: new CellCounter({
      name: 'larder_redis_errors_total',
      help: 'Failed Redis operations, absorbed as cache misses, by operation.',
      labelNames: ['op'] as const,
      registers: sources.redis ? registers : [],
    }),
    decryptFailures: new CellCounter({
      name: 'larder_redis_decrypt_failures_total',
      help: 'Entries read from Redis that failed authentication (AES-256-GCM: altered, moved, or under an unknown key id) and were treated as misses.',
      registers: sources.redis ? registers : [],
    }),
    breakerOpen: new Gauge({
      name: 'larder_redis_breaker_open',
      help: '1 while the circuit breaker skips Redis; absent without Redis.',
      registers: sources.redis ? registers : [],
      aggregator: 'max',
      collect() {
        if (sources.redis) this.set(sources.redis() === 'breaker-open' ? 1 : 0);
      },
    }),
    purges: new CellCounter({
      name: 'larder_purges_total',
      help: 'Purged items (each URL, path, prefix or tag in a purge request, hard or soft), by kind: url, path, prefix, tag.',
      labelNames: ['kind'] as const,
      registers,
    }),
    upstreamUp: new Gauge({
      name: 'larder_upstream_up',
      help: '1 while a server of an upstream takes requests, 0 while it is marked down (passive or active health).',
      labelNames: ['upstream', 'server'] as const,
      registers,
      // Across --workers each worker judges health on its own: a server is up if any worker sends it traffic.
      aggregator: 'max',
      collect() {
        this.reset();
        for (const s of sources.upstreams?.() ?? []) this.labels(s.upstream, s.server).set(s.up ? 1 : 0);
      },
    }),
    upstreamRequests: new CellCounter({
      name: 'larder_upstream_requests_total',
      help: 'Requests sent to each server of an upstream, retries and pass-through included.',
      labelNames: ['upstream', 'server'] as const,
      registers,
    }),
    upstreamErrors: new CellCounter({
      name: 'larder_upstream_errors_total',
      help: 'Failed requests to each server, by kind: connect (failed or timed out), timeout (no response head in time), response (broken or incomplete), 5xx.',
      labelNames: ['upstream', 'server', 'kind'] as const,
      registers,
    }),
    configReloads: new CellCounter({
      name: 'larder_config_reloads_total',
      help: 'Configuration reloads, by result (ok, error). A rejected file is counted once, however many signals or file changes retried it.',
      labelNames: ['result'] as const,
      registers,
      // Across --workers every worker reloads the same file: the reload is counted once, not per worker.
      aggregator: 'max',
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
