import type { Outcome } from '../http/handler.js';
import { detailOf, redactQuery } from './access-log.js';

/**
 * What the status page and GET /status show, collected from each request's Outcome. Memory is
 * bounded everywhere: a ring of time buckets, a capped table of keys, a closed set of reasons,
 * the last few purges and reloads. Time comes from the injected clock, so tests drive it.
 */

/** Width of one time-series bucket. */
export const BUCKET_MS = 10_000;
/** Buckets kept: 15 minutes. */
export const BUCKETS = 90;
/** The window for hottest keys and miss reasons: two generations of this length. */
export const WINDOW_MS = 5 * 60_000;
/** Most distinct keys counted per generation; past it, counts are halved and the rare dropped. */
export const MAX_KEYS = 1_000;
/** Keys and reasons listed. */
export const TOP = 10;
/** Purges and reloads remembered. */
export const EVENTS = 10;

/** Request counters, per bucket, per route and in total. */
export interface Counts {
  /** Requests answered. */
  requests: number;
  /** Answered from a stored entry (HIT, or STALE served from the cache). */
  hits: number;
  /** Waited for another request's fill (lock waits): no origin request of their own. */
  collapsed: number;
  /** Response bytes served from a stored entry. */
  bytesCache: number;
  /** Response bytes of answers that went to the origin. */
  bytesFetched: number;
}

export interface Bucket extends Counts {
  /** Start of the bucket, epoch ms (a multiple of BUCKET_MS). */
  t: number;
  routes: Record<string, Counts>;
}

export interface StatusEvent {
  kind: 'purge' | 'reload';
  /** Epoch ms. */
  at: number;
  result: 'ok' | 'error';
  /** What was purged (counts by kind), or why a reload failed. */
  detail: string;
}

/** What GET /status answers. Everything a client sent (keys, reasons) is plain data: the page escapes it. */
export interface StatusSnapshot {
  version: 1;
  /** Epoch ms when taken. */
  now: number;
  /** Epoch ms when collecting started (the oldest process, with workers). */
  since: number;
  workers: number;
  bucketMs: number;
  /** Oldest first; buckets without requests are present with zeros. */
  series: Bucket[];
  totals: Counts & {
    /** Requests that did not go to the origin: hits and lock waits. */
    originSaved: number;
    routes: Record<string, Counts>;
  };
  window: { ms: number; keys: Array<{ key: string; requests: number; misses: number }>; missReasons: Array<{ reason: string; count: number }> };
  memory: { bytes: number; entries: number; maxSize: number; evictions: number };
  redis: { configured: false } | { configured: true; state: 'up' | 'down' | 'breaker-open'; breakerOpen: boolean };
  /** Named upstreams and each server's health (a URL origin is not listed); [] when there are none. */
  upstreams: UpstreamStatus[];
  events: StatusEvent[];
}

const zero = (): Counts => ({ requests: 0, hits: 0, collapsed: 0, bytesCache: 0, bytesFetched: 0 });

function count(c: Counts, fromCache: boolean, collapsed: boolean, bytes: number): void {
  c.requests++;
  if (fromCache) {
    c.hits++;
    c.bytesCache += bytes;
  } else c.bytesFetched += bytes;
  if (collapsed) c.collapsed++;
}

function add(into: Counts, from: Counts): void {
  into.requests += from.requests;
  into.hits += from.hits;
  into.collapsed += from.collapsed;
  into.bytesCache += from.bytesCache;
  into.bytesFetched += from.bytesFetched;
}

interface KeyCount {
  requests: number;
  misses: number;
}

/**
 * Counts per key (host, then path and query) for one window generation, capped at MAX_KEYS keys.
 * Held by host, then by URL: a request costs two lookups on the strings as they arrived, not a
 * host + URL string built and hashed; keys are joined only when the status is read.
 */
class KeyTable {
  readonly hosts = new Map<string, Map<string, KeyCount>>();
  /** Keys held, across hosts. */
  size = 0;

  hit(host: string, url: string, miss: boolean): void {
    let urls = this.hosts.get(host);
    let c = urls?.get(url);
    if (c === undefined) {
      if (this.size >= MAX_KEYS) {
        this.shrink();
        urls = this.hosts.get(host);
      }
      if (urls === undefined) this.hosts.set(host, (urls = new Map()));
      c = { requests: 0, misses: 0 };
      urls.set(url, c);
      this.size++;
    }
    c.requests++;
    if (miss) c.misses++;
  }

  /** Every key (host + URL) and its counts. */
  *entries(): IterableIterator<[string, KeyCount]> {
    for (const [host, urls] of this.hosts) for (const [url, c] of urls) yield [host + url, c];
  }

  /** Halves every count and drops those that reach 0: the frequent keys stay, the rare go. */
  private shrink(): void {
    for (const [host, urls] of this.hosts) {
      for (const [url, c] of urls) {
        c.requests >>= 1;
        c.misses >>= 1;
        if (c.requests === 0) {
          urls.delete(url);
          this.size--;
        }
      }
      if (urls.size === 0) this.hosts.delete(host);
    }
    // All equal at 1: drop the oldest half (host by host), so that room is made whatever the counts.
    if (this.size >= MAX_KEYS) {
      let n = this.size >> 1;
      for (const [host, urls] of this.hosts) {
        for (const url of urls.keys()) {
          if (n <= 0) break;
          urls.delete(url);
          this.size--;
          n--;
        }
        if (urls.size === 0) this.hosts.delete(host);
        if (n <= 0) break;
      }
    }
  }
}

/** One named upstream on the status page: its servers, whether each takes traffic, and requests in flight. */
export interface UpstreamStatus {
  name: string;
  servers: Array<{ url: string; up: boolean; inFlight: number }>;
}

export interface StatusSources {
  now: () => number;
  /** The named upstreams' state now. */
  upstreams?: () => UpstreamStatus[];
  memory: () => { bytes: number; entries: number; maxSize: number };
  evictions: () => number;
  redis?: () => 'up' | 'down' | 'breaker-open';
  /** Query parameters redacted in keys (log.access.redactQuery). */
  redactQuery: () => readonly string[];
}

/** Collects one process's status. `record` runs once per request; `snapshot` builds GET /status. */
export class StatusCollector {
  private readonly ring: Bucket[] = [];
  private readonly totals = zero();
  private readonly totalRoutes = new Map<string, Counts>();
  private current: Bucket | undefined;
  private keys = new KeyTable();
  private previousKeys = new KeyTable();
  private reasons = new Map<string, number>();
  private previousReasons = new Map<string, number>();
  private generationStart: number;
  private readonly events: StatusEvent[] = [];
  private readonly since: number;
  private redactFrom: readonly string[] | undefined;
  private redactSet: ReadonlySet<string> = new Set();

  constructor(private readonly s: StatusSources) {
    this.since = s.now();
    this.generationStart = this.since;
  }

  /** One answered request; `bytes` is what its response wrote to the socket. */
  record(o: Outcome, host: string, url: string, bytes: number): void {
    const now = this.s.now();
    const bucket = this.bucket(now);
    let routeCounts = bucket.routes[o.route];
    if (routeCounts === undefined) routeCounts = bucket.routes[o.route] = zero();
    let total = this.totalRoutes.get(o.route);
    if (total === undefined) this.totalRoutes.set(o.route, (total = zero()));
    const fromCache = o.result === 'HIT' || o.result === 'STALE';
    const collapsed = o.collapsed === true && !fromCache;
    count(bucket, fromCache, collapsed, bytes);
    count(routeCounts, fromCache, collapsed, bytes);
    count(this.totals, fromCache, collapsed, bytes);
    count(total, fromCache, collapsed, bytes);
    this.rotate(now);
    const redact = this.s.redactQuery();
    if (redact !== this.redactFrom) {
      this.redactFrom = redact;
      this.redactSet = new Set(redact.map((n) => n.toLowerCase()));
    }
    this.keys.hit(host, url.includes('?') ? redactQuery(url, this.redactSet) : url, !fromCache);
    if (!fromCache) {
      const reason = detailOf(o);
      if (reason !== undefined) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    }
  }

  /** A purge or reload, kept among the last EVENTS. */
  event(kind: StatusEvent['kind'], result: StatusEvent['result'], detail: string): void {
    this.events.push({ kind, at: this.s.now(), result, detail });
    if (this.events.length > EVENTS) this.events.shift();
  }

  snapshot(): StatusSnapshot {
    const now = this.s.now();
    this.rotate(now);
    const mem = this.s.memory();
    const state = this.s.redis?.();
    return {
      version: 1,
      now,
      since: this.since,
      workers: 1,
      bucketMs: BUCKET_MS,
      series: this.series(now),
      totals: { ...this.totals, originSaved: this.totals.hits + this.totals.collapsed, routes: Object.fromEntries(this.totalRoutes) },
      window: { ms: now - this.windowStart(), keys: this.topKeys(), missReasons: this.topReasons() },
      memory: { bytes: mem.bytes, entries: mem.entries, maxSize: mem.maxSize, evictions: this.s.evictions() },
      redis: state === undefined ? { configured: false } : { configured: true, state, breakerOpen: state === 'breaker-open' },
      upstreams: this.s.upstreams?.() ?? [],
      events: [...this.events],
    };
  }

  private windowStart(): number {
    return Math.max(this.since, this.generationStart - WINDOW_MS);
  }

  /** The bucket for `now`, starting a new one (and dropping the oldest) when time moved on. */
  private bucket(now: number): Bucket {
    const t = now - (now % BUCKET_MS);
    const c = this.current;
    if (c !== undefined && c.t === t) return c;
    const b: Bucket = { t, ...zero(), routes: {} };
    this.ring.push(b);
    while (this.ring.length > BUCKETS) this.ring.shift();
    this.current = b;
    return b;
  }

  /** The last 15 minutes, one bucket per BUCKET_MS, zeros where nothing happened. */
  private series(now: number): Bucket[] {
    const last = now - (now % BUCKET_MS);
    const first = Math.max(last - (BUCKETS - 1) * BUCKET_MS, this.since - (this.since % BUCKET_MS));
    const byT = new Map(this.ring.map((b) => [b.t, b]));
    const out: Bucket[] = [];
    for (let t = first; t <= last; t += BUCKET_MS) out.push(byT.get(t) ?? { t, ...zero(), routes: {} });
    return out;
  }

  /** Starts a new key and reason generation every WINDOW_MS; the previous one stays readable. */
  private rotate(now: number): void {
    if (now - this.generationStart < WINDOW_MS) return;
    const idle = now - this.generationStart >= 2 * WINDOW_MS;
    this.previousKeys = idle ? new KeyTable() : this.keys;
    this.previousReasons = idle ? new Map() : this.reasons;
    this.keys = new KeyTable();
    this.reasons = new Map();
    this.generationStart = now;
  }

  private topKeys(): StatusSnapshot['window']['keys'] {
    const merged = new Map<string, KeyCount>();
    for (const table of [this.previousKeys, this.keys]) {
      for (const [k, c] of table.entries()) {
        const m = merged.get(k);
        if (m === undefined) merged.set(k, { ...c });
        else {
          m.requests += c.requests;
          m.misses += c.misses;
        }
      }
    }
    return [...merged]
      .sort((a, b) => b[1].requests - a[1].requests || (a[0] < b[0] ? -1 : 1))
      .slice(0, TOP)
      .map(([key, c]) => ({ key, requests: c.requests, misses: c.misses }));
  }

  private topReasons(): StatusSnapshot['window']['missReasons'] {
    const merged = new Map<string, number>(this.previousReasons);
    for (const [r, n] of this.reasons) merged.set(r, (merged.get(r) ?? 0) + n);
    return [...merged]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, TOP)
      .map(([reason, count]) => ({ reason, count }));
  }
}

/**
 * Sums the snapshots of several workers into one (the cluster primary's GET /status): counts
 * add up bucket by bucket, keys and reasons add up, memory adds up, Redis shows the worst state.
 */
export function mergeSnapshots(all: StatusSnapshot[], now: number): StatusSnapshot | undefined {
  const first = all[0];
  if (first === undefined) return undefined;
  const series = new Map<number, Bucket>();
  const totals = { ...zero(), originSaved: 0, routes: {} as Record<string, Counts> };
  const keys = new Map<string, KeyCount>();
  const reasons = new Map<string, number>();
  const memory = { bytes: 0, entries: 0, maxSize: 0, evictions: 0 };
  const events: StatusEvent[] = [];
  const order = { up: 0, down: 1, 'breaker-open': 2 } as const;
  let redis: StatusSnapshot['redis'] = { configured: false };
  for (const s of all) {
    for (const b of s.series) {
      let m = series.get(b.t);
      if (m === undefined) series.set(b.t, (m = { t: b.t, ...zero(), routes: {} }));
      add(m, b);
      for (const [r, c] of Object.entries(b.routes)) add((m.routes[r] ??= zero()), c);
    }
    add(totals, s.totals);
    totals.originSaved += s.totals.originSaved;
    for (const [r, c] of Object.entries(s.totals.routes)) add((totals.routes[r] ??= zero()), c);
    for (const k of s.window.keys) {
      const m = keys.get(k.key) ?? { requests: 0, misses: 0 };
      m.requests += k.requests;
      m.misses += k.misses;
      keys.set(k.key, m);
    }
    for (const r of s.window.missReasons) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + r.count);
    memory.bytes += s.memory.bytes;
    memory.entries += s.memory.entries;
    memory.maxSize += s.memory.maxSize;
    memory.evictions += s.memory.evictions;
    if (s.redis.configured && (!redis.configured || order[s.redis.state] > order[redis.state])) redis = s.redis;
    events.push(...s.events);
  }
  return {
    version: 1,
    now,
    since: Math.min(...all.map((s) => s.since)),
    workers: all.length,
    bucketMs: BUCKET_MS,
    series: [...series.values()].sort((a, b) => a.t - b.t).slice(-BUCKETS),
    totals,
    window: {
      ms: Math.max(...all.map((s) => s.window.ms)),
      keys: [...keys].sort((a, b) => b[1].requests - a[1].requests).slice(0, TOP).map(([key, c]) => ({ key, ...c })),
      missReasons: [...reasons].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([reason, count]) => ({ reason, count })),
    },
    memory,
    redis,
    upstreams: mergeUpstreams(all.map((s) => s.upstreams)),
    // A reload reaches every worker: one line per (kind, time to the second, result, detail).
    events: dedupeEvents(events).slice(-EVENTS),
  };
}

/**
 * Upstreams across workers: each judges health on its own, so a server is shown up while any
 * worker sends it traffic (as larder_upstream_up), with the requests in flight summed.
 */
function mergeUpstreams(lists: UpstreamStatus[][]): UpstreamStatus[] {
  const byName = new Map<string, Map<string, { url: string; up: boolean; inFlight: number }>>();
  for (const list of lists) {
    for (const u of list ?? []) {
      const servers = byName.get(u.name) ?? new Map();
      byName.set(u.name, servers);
      for (const s of u.servers) {
        const m = servers.get(s.url);
        if (m === undefined) servers.set(s.url, { ...s });
        else {
          m.up ||= s.up;
          m.inFlight += s.inFlight;
        }
      }
    }
  }
  return [...byName].map(([name, servers]) => ({ name, servers: [...servers.values()] }));
}

function dedupeEvents(events: StatusEvent[]): StatusEvent[] {
  const seen = new Set<string>();
  const out: StatusEvent[] = [];
  for (const e of events.sort((a, b) => a.at - b.at)) {
    const id = `${e.kind}|${Math.floor(e.at / 1000)}|${e.result}|${e.detail}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(e);
  }
  return out;
}
