import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import net from 'node:net';
import type { Config, RedisSettings } from './config/types.js';
import { resolveRequest } from './http/target.js';
import type { Clock } from './types.js';
import { systemClock } from './clock.js';
import { MemoryStore } from './cache/memory-store.js';
import { TieredStore } from './cache/tiered-store.js';
import { Coalescer } from './cache/coalescer.js';
import { HitForPass } from './cache/hit-for-pass.js';
import { OriginClient } from './origin/client.js';
import { PassThrough } from './passthrough/proxy.js';
import { VIA } from './cache/entry.js';
import { Handler, type Outcome } from './http/handler.js';
import { Filler, type FillResult } from './http/fill.js';
import { createProxyServer } from './http/server.js';
import { createAdminServer, HttpError, type PurgeAnswer, type PurgeRequest } from './http/admin.js';
import { PurgeRulesFull, type PurgeRule } from './cache/purge-rules.js';
import { Breaker } from './cache/breaker.js';
import { RedisBus } from './cache/redis-bus.js';
import { createRedisClient, RedisStore, type RedisClient, type RedisOp, type RedisState } from './cache/redis-store.js';
import { SharedTier } from './cache/shared-tier.js';
import { EntryCipher } from './cache/crypto.js';
import type { Peers } from './cache/peers.js';
import { createMetrics } from './metrics/registry.js';
import { Recorder } from './metrics/record.js';
import { ageHeader, decide, requestDirectives } from './rfc9111/index.js';
import { warm, warmList, type WarmResult } from './warm.js';

export interface LarderOptions {
  clock?: Clock;
  /** Called once per request with what happened. */
  onOutcome?: (o: Outcome) => void;
  /** Called with failures of background work (refreshes), which never reach a client. */
  onBackgroundError?: (err: unknown) => void;
  /** Called when the shared tier's state changes (up, down, breaker-open). */
  onRedisState?: (state: RedisState, previous: RedisState) => void;
  /** Called with each failed Redis operation (already absorbed: never a client error). */
  onRedisError?: (op: RedisOp, err: unknown) => void;
  /** Unexpected errors on the request path. */
  onError?: (err: unknown) => void;
  /** Collect Node's default process metrics (default true; off in tests that build many instances). */
  defaultMetrics?: boolean;
  /** Coordination with other processes when there is no Redis (worker processes over IPC). */
  peers?: Peers;
  /** Uniform random numbers in [0, 1) for XFetch early refresh (default Math.random; seed it in tests). */
  random?: () => number;
  /** Lifetime of a fill lease in ms (default 5 s); tests shorten it. */
  lockLease?: number;
}

/** What a reload did: applied for new requests, and the changes that need a restart. */
export interface ReloadResult {
  /** Settings that changed in the file but keep their old value until a restart. */
  needsRestart: string[];
}

export interface Larder {
  readonly server: http.Server;
  readonly store: TieredStore;
  readonly memory: MemoryStore;
  readonly recorder: Recorder;
  /** The config new requests use. */
  config(): Config;
  /** Binds the configured address (or the one given); resolves to the bound port. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /** Binds the admin listener (metrics, health, purge, explain); undefined without `admin`. */
  listenAdmin(port?: number, host?: string): Promise<AddressInfo | undefined>;
  /** Swaps in a new validated config for new requests; requests in flight finish under the old one. */
  reload(next: Config): ReloadResult;
  /** Carries out a purge as POST /purge does. */
  purge(p: PurgeRequest): Promise<PurgeAnswer>;
  /** What GET /explain answers. */
  explain(url: string, headers: Record<string, string>): Promise<unknown>;
  /** What GET /readyz answers. */
  ready(): Promise<{ ready: boolean; [k: string]: unknown }>;
  /** Fetches the configured warm URLs through this instance; undefined when none are configured. */
  warm(progress?: (done: number, total: number) => void): Promise<WarmResult | undefined>;
  /**
   * Stops accepting, lets requests and fills in flight finish for up to `grace` ms, then
   * cuts what is left and closes the origin pools and Redis.
   */
  close(grace?: number): Promise<void>;
}

/** Longest start-up wait for the shared tier's connections (ms). */
const START_WAIT = 2_000;

/** Lifetime of a fill lease (ms); the holder renews it every third of that while its fill runs. */
const LOCK_LEASE = 5_000;

/** How long an entry with a validator stays after its stale windows, for conditional refreshes. */
const KEEP_FOR_REVALIDATION = 60 * 60 * 1000;

/** The composition root: the only place concrete classes are built and wired. */
export function createLarder(config: Config, opts: LarderOptions = {}): Larder {
  const clock = opts.clock ?? systemClock;
  let current = config;
  let draining = false;
  /** Warming runs in progress (readiness waits for them when warm.waitForReady is set). */
  let warming = 0;
  const getConfig = (): Config => current;

  let recorder: Recorder | undefined;
  const memory = new MemoryStore({
    maxSize: config.cache.memory.maxSize,
    clock,
    onEvict: () => recorder?.eviction(),
  });
  const redis = config.cache.redis === undefined ? undefined : createShared(
          config.cache.redis,
          clock,
          opts,
          (op) => recorder?.redisError(op),
          () => recorder?.decryptFailure(),
        );
  const metrics = createMetrics(
    {
      memory: () => ({ bytes: memory.bytes, entries: memory.entries }),
      ...(redis === undefined ? {} : { redis: () => redis.shared.store.state() }),
    },
    { defaultMetrics: opts.defaultMetrics ?? true },
  );
  recorder = new Recorder(metrics);
  const rec = recorder;

  const lockTtl = config.timeouts.connect + config.timeouts.headers + config.timeouts.body;
  const store = new TieredStore(
    memory,
    {
      clock,
      maxVariants: config.cache.maxVariants,
      keepForRevalidation: KEEP_FOR_REVALIDATION,
      maxTtl: config.cache.maxTtl,
      urlRuleTtl: lockTtl,
    },
    redis?.shared,
    opts.peers,
  );
  const origin = new OriginClient(config.timeouts, clock);
  const pass = new PassThrough({ timeout: config.timeouts.headers, via: VIA });
  const hitForPass = new HitForPass(clock, config.cache.hitForPass);
  const coalescer = new Coalescer<FillResult>();
  const onOrigin = (route: string, status: number | undefined, ms: number): void => rec.origin(route, status, ms);
  const filler = new Filler({
    origin,
    store,
    clock,
    hitForPass,
    coalescer,
    lease: opts.lockLease ?? LOCK_LEASE,
    lockTimeout: () => current.cache.lockTimeout,
    onOrigin,
    ...(opts.onBackgroundError ? { onBackgroundError: opts.onBackgroundError } : {}),
  });
  const userOutcome = opts.onOutcome;
  const handler = new Handler({
    config: getConfig,
    clock,
    store,
    origin,
    pass,
    hitForPass,
    filler,
    onOrigin,
    random: opts.random ?? Math.random,
    onEarlyRefresh: (route) => rec.earlyRefresh(route),
    onOutcome: (o) => {
      rec.request(o);
      userOutcome?.(o);
    },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const server = createProxyServer(handler, getConfig);
  let admin: http.Server | undefined;

  const purge = async (p: PurgeRequest): Promise<PurgeAnswer> => {
    // Path, prefix and tag purges become rules, added together (or refused together when the
    // rule set is full) before any URL is purged.
    const rules: PurgeRule[] = [];
    for (const u of p.urls) {
      // The same resolver as a request's: a purge finds exactly the key a GET of the URL stored.
      if (!u.startsWith('/')) continue;
      const r = resolveRequest(current, 'GET', '', u);
      // A target larder refuses to route can have nothing stored under it.
      if ('problem' in r) continue;
      rules.push(store.rule('path', r.key.target, p.soft));
    }
    for (const prefix of p.prefixes) rules.push(store.rule('prefix', prefix, p.soft));
    for (const tag of p.tags) rules.push(store.rule('tag', tag, p.soft));
    let purged = 0;
    try {
      purged += await store.purgeRules(rules);
    } catch (err) {
      if (err instanceof PurgeRulesFull) throw new HttpError(507, 'LARDER_PURGE_RULES_FULL', err.message);
      throw err;
    }
    const paths = rules.length - p.prefixes.length - p.tags.length;
    if (paths > 0) rec.purge('path', paths);
    if (p.prefixes.length > 0) rec.purge('prefix', p.prefixes.length);
    if (p.tags.length > 0) rec.purge('tag', p.tags.length);
    for (const u of p.urls) {
      if (u.startsWith('/')) continue;
      const r = resolveRequest(current, 'GET', '', u);
      if ('problem' in r) continue;
      purged += await store.purgeUrl(r.key.primary, p.soft);
      rec.purge('url');
    }
    return { purged, soft: p.soft, urls: p.urls.length, prefixes: p.prefixes.length, tags: p.tags.length };
  };

  const explain = async (target: string, headers: Record<string, string>): Promise<unknown> => {
    const absolute = /^https?:\/\//i.test(target);
    const r = resolveRequest(current, 'GET', '', target);
    if ('problem' in r) return { url: target, wouldBe: `400 (${r.problem})` };
    const { route, key, host } = r;
    const now = clock.now();
    const describe = (e: Awaited<ReturnType<typeof store.lookupShared>>['entry']) =>
      e === undefined
        ? { stored: false }
        : {
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
    const inMemory = store.lookup(key.primary, headers);
    const inRedis = store.shared === undefined ? undefined : await store.lookupShared(key.primary, headers);
    const entry = inMemory.entry ?? inRedis?.entry;
    let would: string;
    if (!route.cache) would = 'BYPASS (route has cache: false)';
    else if (entry === undefined) would = absolute || host !== '' ? 'MISS (nothing stored for this key)' : 'MISS (give the URL with its host to look it up)';
    else {
      const d = decide(entry, requestDirectives(headers), now);
      would =
        d.kind === 'HIT'
          ? 'HIT (fresh)'
          : d.kind === 'STALE'
            ? `STALE (${d.why === 'revalidate' ? 'within stale-while-revalidate; a refresh would start' : 'allowed by max-stale'})`
            : d.kind === 'REVALIDATE'
              ? 'REVALIDATED or MISS (stale or no-cache: a conditional request goes to the origin)'
              : 'MISS (stale, and nothing to revalidate with)';
    }
    return {
      url: target,
      route: { name: route.name, cache: route.cache, origin: route.origin, ttl: route.ttl ?? null },
      key: { primary: key.primary, upstream: key.target, lookup: inMemory.key },
      memory: describe(inMemory.entry),
      ...(store.shared === undefined ? {} : { redis: { state: store.shared.store.state(), ...describe(inRedis?.entry) } }),
      purgeRules: store.rules.size,
      wouldBe: would,
    };
  };

  const ready = async (): Promise<{ ready: boolean; [k: string]: unknown }> => {
    const origins = [...new Set([current.origin, ...current.routes.map((r) => r.origin)])];
    const reachable = await Promise.all(origins.map(async (o) => [o, await probe(o)] as const));
    const waitWarm = current.warm?.waitForReady === true && warming > 0;
    return {
      ready: !draining && server.listening && !waitWarm,
      draining,
      warming: warming > 0,
      config: { file: current.file ?? null, routes: current.routes.length },
      origins: Object.fromEntries(reachable.map(([o, ok]) => [o, ok ? 'reachable' : 'unreachable'])),
      redis: store.shared === undefined ? 'not configured' : store.shared.store.state(),
    };
  };

  const bind = (srv: http.Server, port: number, host: string): Promise<AddressInfo> =>
    new Promise<AddressInfo>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve(srv.address() as AddressInfo);
      });
    });

  return {
    server,
    store,
    memory,
    recorder: rec,
    config: getConfig,
    async listen(port = current.listen.port, host = current.listen.host) {
      // Give Redis a moment to connect, so the first requests can use it; never wait long,
      // and never refuse to start without it: a cache fault is a miss.
      const peers = store.peers;
      if (peers !== undefined) {
        await peers.ready(START_WAIT);
        await peers.loadRules();
      }
      return bind(server, port, host);
    },
    async listenAdmin(port, host) {
      const a = current.admin;
      if (a === undefined) return undefined;
      admin = createAdminServer({
        token: a.token,
        warm: async () => (await this.warm()) ?? { error: 'nothing to warm: add warm.urls or warm.file to the rules' },
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
        ready,
        purge,
        explain,
        ...(opts.onError ? { onError: opts.onError } : {}),
      });
      return bind(admin, port ?? a.listen.port, host ?? a.listen.host);
    },
    reload(next) {
      const needsRestart: string[] = [];
      const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
      if (differs(next.listen, current.listen)) needsRestart.push('listen');
      if (differs(next.admin, current.admin)) needsRestart.push('admin');
      if (differs(next.timeouts, current.timeouts)) needsRestart.push('timeouts');
      if (next.cache.memory.maxSize !== current.cache.memory.maxSize) needsRestart.push('cache.memory.maxSize');
      if (next.log.level !== current.log.level) needsRestart.push('log.level');
      if (differs(next.cache.redis, current.cache.redis)) needsRestart.push('cache.redis');
      if (next.cache.hitForPass !== current.cache.hitForPass) needsRestart.push('cache.hitForPass');
      if (next.cache.maxVariants !== current.cache.maxVariants) needsRestart.push('cache.maxVariants');
      if (next.cache.maxTtl !== current.cache.maxTtl) needsRestart.push('cache.maxTtl');
      current = next;
      rec.reload('ok');
      return { needsRestart };
    },
    purge,
    explain,
    ready,
    async warm(progress) {
      const w = current.warm;
      const addr = server.address();
      if (w === undefined || addr === null || typeof addr === 'string') return undefined;
      warming++;
      try {
        const urls = await warmList(w.urls, w.file, current.file);
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        return await warm(`http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`, urls, w.concurrency, progress);
      } finally {
        warming--;
      }
    },
    async close(grace = 5_000) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections become idle as their last response goes out; close each then.
      server.closeIdleConnections();
      const sweeper = setInterval(() => server.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, grace)));
      await Promise.race([Promise.all([closed, coalescer.drain()]), deadline]);
      clearTimeout(timer);
      clearInterval(sweeper);
      // Past the deadline, whatever is still running is cut off rather than waited for.
      server.closeAllConnections();
      admin?.closeAllConnections();
      admin?.close();
      pass.close();
      await origin.close();
      await store.peers?.close();
      redis?.client.disconnect();
    },
  };
}

/** The Redis client, store, bus and shared tier, built from `cache.redis`. */
function createShared(
  settings: RedisSettings,
  clock: Clock,
  opts: LarderOptions,
  countError: (op: RedisOp) => void,
  countDecryptFailure: () => void,
): { client: RedisClient; shared: SharedTier } {
  const onRedisError = (op: RedisOp, err: unknown): void => {
    countError(op);
    opts.onRedisError?.(op, err);
  };
  const client = createRedisClient({
    ...(settings.url === undefined ? {} : { url: settings.url }),
    ...(settings.cluster === undefined ? {} : { cluster: [...settings.cluster] }),
    commandTimeout: settings.commandTimeout,
  });
  const breaker = new Breaker({ clock, threshold: settings.breakerFailures, coolDown: settings.breakerCoolDown });
  const keys = settings.encryption?.keys;
  const cipher =
    keys === undefined ? undefined : new EntryCipher(keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'hex') })), countDecryptFailure);
  const store = new RedisStore({ client, prefix: settings.prefix, clock, breaker, onError: onRedisError, ...(cipher ? { cipher } : {}) });
  if (opts.onRedisState) store.onStateChange(opts.onRedisState);
  const bus = new RedisBus({ client, onError: onRedisError });
  return { client, shared: new SharedTier(store, bus, clock) };
}

/** Whether a TCP connection to the origin opens within 500 ms (for /readyz). */
function probe(origin: string): Promise<boolean> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return resolve(false);
    }
    const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
    const socket = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
