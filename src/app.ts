import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Config, RedisSettings } from './config/types.js';
import type { Clock } from './types.js';
import { systemClock } from './clock.js';
import { MemoryStore } from './cache/memory-store.js';
import { TieredStore } from './cache/tiered-store.js';
import { Coalescer } from './cache/coalescer.js';
import { HitForPass } from './cache/hit-for-pass.js';
import { Breaker } from './cache/breaker.js';
import { RedisBus } from './cache/redis-bus.js';
import { createRedisClient, RedisStore, type RedisClient, type RedisOp } from './cache/redis-store.js';
import { SharedTier } from './cache/shared-tier.js';
import { EntryCipher } from './cache/crypto.js';
import { VIA } from './cache/entry.js';
import { OriginClient } from './origin/client.js';
import { PassThrough } from './passthrough/proxy.js';
import { Handler, type Outcome } from './http/handler.js';
import { Filler, type FillResult } from './http/fill.js';
import { createProxyServer } from './http/server.js';
import { createEdge } from './http/listeners.js';
import { createMetrics, type MetricSources } from './metrics/registry.js';
import { Recorder } from './metrics/record.js';
import { LiveConfig } from './ops/reload.js';
import { Readiness } from './ops/readiness.js';
import { purge } from './ops/purge.js';
import { explain } from './ops/explain.js';
import { warmInstance } from './ops/warm.js';
import { listenProxy } from './ops/listen.js';
import { startAdmin } from './ops/admin.js';
import { shutdown } from './ops/shutdown.js';
import { StatusCollector, type UpstreamStatus } from './ops/status.js';
import { statusPageAssets } from './ops/status-page.js';
import { whenSent } from './ops/sent.js';
import type { Larder, LarderOptions } from './larder.js';
import type { PurgeRequest } from './http/admin.js';

export type { Larder, LarderOptions, ReloadResult } from './larder.js';

/** Lifetime of a fill lease (ms); the holder renews it every third of that while its fill runs. */
const LOCK_LEASE = 5_000;
/** How long an entry with a validator stays after its stale windows, for conditional refreshes. */
const KEEP_FOR_REVALIDATION = 60 * 60 * 1000;

/** The composition root: the only place concrete classes are built and wired. */
export function createLarder(config: Config, opts: LarderOptions = {}): Larder {
  const clock = opts.clock ?? systemClock;
  let origin: OriginClient | undefined;
  const upstreamStates = () => (origin?.snapshot() ?? []).flatMap((u) => u.servers.map((s) => ({ upstream: u.name, server: s.url, up: s.up })));
  const { memory, redis, metrics, recorder: rec, store } = createTiers(config, clock, opts, upstreamStates);
  const routeNames = (c: Config): string[] => [...c.routes.map((r) => r.name), c.defaultRoute.name];
  rec.init(routeNames(config));
  // The status page's collectors run only when the page can be served (admin.status).
  const status =
    config.admin?.status === true
      ? createStatus(config, clock, memory, rec, redis, () => live.get(), () =>
          (origin?.snapshot() ?? []).filter((u) => live.get().upstreams[u.name]?.implicit === false),
        )
      : undefined;
  origin = new OriginClient(config.timeouts, clock, {
    request: (upstream, server) => rec.upstreamRequest(upstream, server),
    error: (upstream, server, kind) => rec.upstreamError(upstream, server, kind),
    ...(opts.onUpstreamChange ? { change: opts.onUpstreamChange } : {}),
  });
  origin.sync(config.upstreams);
  const live = new LiveConfig(config, () => {
    rec.reload('ok');
    rec.init(routeNames(live.get()));
    origin.sync(live.get().upstreams);
    status?.event('reload', 'ok', `${live.get().routes.length} routes`);
  });
  const pass = new PassThrough({ timeout: config.timeouts.headers, via: VIA });
  const hitForPass = new HitForPass(clock, config.cache.hitForPass);
  const coalescer = new Coalescer<FillResult>();
  // How long the origin took for a client request, for its access line (the request that went
  // there: a coalesced follower has none of its own).
  const upstreamOf = new WeakMap<IncomingMessage, { ms: number; server: string | undefined }>();
  const onOrigin = (route: string, status: number | undefined, ms: number, req?: IncomingMessage, server?: string): void => {
    rec.origin(route, status, ms);
    if (req !== undefined && status !== undefined && opts.access !== undefined) upstreamOf.set(req, { ms, server });
  };
  const filler = new Filler({
    origin, store, hitForPass, coalescer, onOrigin,
    lease: opts.lockLease ?? LOCK_LEASE,
    lockTimeout: () => live.get().cache.lockTimeout,
    ...(opts.onBackgroundError ? { onBackgroundError: opts.onBackgroundError } : {}),
  });
  // Once a response was sent: the status page's counts and the access line (when sampled). One
  // function for every request, so that a hit (already sent) costs no closure.
  const sent = (req: IncomingMessage, o: Outcome, access: boolean, bytes: number, ms: number): void => {
    status?.record(o, req.headers.host ?? '', req.url ?? '/', bytes);
    if (access) {
      const upstream = upstreamOf.get(req);
      opts.access?.write(o, req, bytes, ms, upstream?.ms, upstream?.server);
    }
  };
  const handler = new Handler({
    config: live.get, clock, store, origin, pass, hitForPass, filler, onOrigin,
    random: opts.random ?? Math.random,
    onEarlyRefresh: (route) => rec.earlyRefresh(route),
    onOutcome: (o, req, res) => {
      rec.request(o);
      const access = opts.access?.take() === true;
      if (status !== undefined || access) whenSent(req, res, o.ms, sent, o, access);
      opts.onOutcome?.(o, req, res);
    },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const server = createProxyServer(handler, live.get);
  const edge = createEdge(server, () => createProxyServer(handler, live.get), handler, live.get);
  const readiness = new Readiness({ server, store, config: live.get, upstreams: () => origin.snapshot() });
  let admin: http.Server | undefined;
  const larder: Larder = {
    server, store, memory, recorder: rec, config: live.get,
    listen: (port, host) =>
      listenProxy(edge, store.peers, port === undefined && host === undefined ? undefined : { port: port ?? live.get().listen.port, host: host ?? live.get().listen.host }),
    addresses: () => edge.addresses(),
    async listenAdmin(port, host) {
      const settings = live.get().admin;
      if (settings === undefined) return undefined;
      const metricsText = async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() });
      const ops = {
        metrics: metricsText,
        ready: larder.ready,
        purge: larder.purge,
        explain: larder.explain,
        warm: () => larder.warm(),
        ...(status === undefined ? {} : { status: async () => larder.status(), page: statusPageAssets() }),
      };
      const started = await startAdmin(settings, ops, opts.onError, port, host);
      admin = started.server;
      return started.address;
    },
    reload: (next) => {
      const result = live.reload(next);
      // Certificates are re-read with the rules file: new connections get the new ones.
      edge.reloadCertificates(next);
      return result;
    },
    reloadFailed(message) {
      rec.reload('error');
      status?.event('reload', 'error', message);
    },
    status: () => status?.snapshot(),
    async purge(p) {
      try {
        const answer = await purge({ store, recorder: rec, config: live.get }, p);
        status?.event('purge', 'ok', purgeSummary(p, answer.purged));
        return answer;
      } catch (err) {
        status?.event('purge', 'error', String((err as Error).message ?? err));
        throw err;
      }
    },
    explain: (url, headers) => explain({ store, clock, config: live.get }, url, headers),
    ready: () => readiness.check(),
    warm: (progress) => warmInstance({ server: edge.plainServer() ?? server, config: live.get, readiness }, progress),
    close: async (grace = 5_000) => {
      edge.close();
      await shutdown({ server, admin: () => admin, readiness, fills: coalescer, pass, origin, peers: store.peers, redis: redis?.client }, grace);
      edge.closeAll();
    },
  };
  return larder;
}

/** The status page's collector over this instance's tiers. */
function createStatus(
  config: Config,
  clock: Clock,
  memory: MemoryStore,
  rec: Recorder,
  redis: { shared: SharedTier } | undefined,
  live: () => Config,
  upstreams: () => UpstreamStatus[],
): StatusCollector {
  return new StatusCollector({
    now: () => clock.now(),
    upstreams,
    memory: () => ({ bytes: memory.bytes, entries: memory.entries, maxSize: config.cache.memory.maxSize }),
    evictions: () => rec.evictions,
    ...(redis ? { redis: () => redis.shared.store.state() } : {}),
    redactQuery: () => live().log.access.redactQuery,
  });
}

/** "3 urls, 1 tag: 4 purged" */
function purgeSummary(p: PurgeRequest, purged: number): string {
  const parts = [
    [p.urls.length, 'url'],
    [p.prefixes.length, 'prefix'],
    [p.tags.length, 'tag'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}${n === 1 ? '' : what === 'prefix' ? 'es' : 's'}`);
  return `${p.soft ? 'soft: ' : ''}${parts.join(', ')}: ${purged} purged`;
}

/** The memory tier, the shared tier (with `cache.redis`), the metrics that watch them, and the store over both. */
function createTiers(config: Config, clock: Clock, opts: LarderOptions, upstreams: MetricSources['upstreams']) {
  let recorder: Recorder | undefined;
  const memory = new MemoryStore({ maxSize: config.cache.memory.maxSize, clock, onEvict: () => recorder?.eviction() });
  const redis = config.cache.redis === undefined ? undefined : createShared(config.cache.redis, clock, opts, () => recorder);
  const metrics = createMetrics(
    { memory: () => ({ bytes: memory.bytes, entries: memory.entries }), upstreams, ...(redis ? { redis: () => redis.shared.store.state() } : {}) },
    { defaultMetrics: opts.defaultMetrics ?? true },
  );
  recorder = new Recorder(metrics);
  const lockTtl = config.timeouts.connect + config.timeouts.headers + config.timeouts.body;
  const storeOptions = { clock, maxVariants: config.cache.maxVariants, keepForRevalidation: KEEP_FOR_REVALIDATION, maxTtl: config.cache.maxTtl, urlRuleTtl: lockTtl };
  const store = new TieredStore(memory, storeOptions, redis?.shared, opts.peers);
  return { memory, redis, metrics, recorder, store };
}

/** The Redis client, store, bus and shared tier, built from `cache.redis`. */
function createShared(settings: RedisSettings, clock: Clock, opts: LarderOptions, recorder: () => Recorder | undefined): { client: RedisClient; shared: SharedTier } {
  const onRedisError = (op: RedisOp, err: unknown): void => {
    recorder()?.redisError(op);
    opts.onRedisError?.(op, err);
  };
  const client = createRedisClient({
    ...(settings.url === undefined ? {} : { url: settings.url }),
    ...(settings.cluster === undefined ? {} : { cluster: [...settings.cluster] }),
    commandTimeout: settings.commandTimeout,
  });
  const breaker = new Breaker({ clock, threshold: settings.breakerFailures, coolDown: settings.breakerCoolDown });
  const keys = settings.encryption?.keys;
  const decryptFailed = (): void => recorder()?.decryptFailure();
  const cipher = keys === undefined ? undefined : new EntryCipher(keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'hex') })), decryptFailed);
  const store = new RedisStore({ client, prefix: settings.prefix, clock, breaker, onError: onRedisError, ...(cipher ? { cipher } : {}) });
  if (opts.onRedisState) store.onStateChange(opts.onRedisState);
  return { client, shared: new SharedTier(store, new RedisBus({ client, onError: onRedisError }), clock) };
}
