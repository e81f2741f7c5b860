import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { Config } from './config/types.js';
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
import { Breaker } from './cache/breaker.js';
import { RedisBus } from './cache/redis-bus.js';
import { createRedisClient, RedisStore, type RedisClient, type RedisOp, type RedisState } from './cache/redis-store.js';
import { SharedTier } from './cache/shared-tier.js';
import type { RedisSettings } from './config/types.js';

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
}

export interface Larder {
  readonly server: http.Server;
  readonly store: TieredStore;
  readonly memory: MemoryStore;
  /** Binds the configured address (or the one given); resolves to the bound port. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, waits up to `grace` ms for fills in flight, closes upstream pools. */
  close(grace?: number): Promise<void>;
}

/** Longest start-up wait for the shared tier's connections (ms). */
const START_WAIT = 2_000;

/** How long an entry with a validator stays after its stale windows, for conditional refreshes. */
const KEEP_FOR_REVALIDATION = 60 * 60 * 1000;

/** The composition root: the only place concrete classes are built and wired. */
export function createLarder(config: Config, opts: LarderOptions = {}): Larder {
  const clock = opts.clock ?? systemClock;
  let current = config;
  const getConfig = (): Config => current;
  const memory = new MemoryStore({ maxSize: config.cache.memory.maxSize, clock });
  const redis = config.cache.redis === undefined ? undefined : createShared(config.cache.redis, clock, opts);
  const store = new TieredStore(
    memory,
    {
      clock,
      maxVariants: config.cache.maxVariants,
      keepForRevalidation: KEEP_FOR_REVALIDATION,
    },
    redis?.shared,
  );
  const origin = new OriginClient(config.timeouts, clock);
  const pass = new PassThrough({ timeout: config.timeouts.headers, via: VIA });
  const hitForPass = new HitForPass(clock, config.cache.hitForPass);
  const coalescer = new Coalescer<FillResult>();
  const filler = new Filler({
    origin,
    store,
    clock,
    hitForPass,
    coalescer,
    lockTtl: config.timeouts.connect + config.timeouts.headers + config.timeouts.body,
    ...(opts.onBackgroundError ? { onBackgroundError: opts.onBackgroundError } : {}),
  });
  const handler = new Handler({
    config: getConfig,
    clock,
    store,
    origin,
    pass,
    hitForPass,
    filler,
    ...(opts.onOutcome ? { onOutcome: opts.onOutcome } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const server = createProxyServer(handler);

  return {
    server,
    store,
    memory,
    async listen(port = current.listen.port, host = current.listen.host) {
      // Give Redis a moment to connect, so the first requests can use it; never wait long,
      // and never refuse to start without it: a cache fault is a miss.
      if (redis !== undefined) await redis.shared.ready(START_WAIT);
      return new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(grace = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, grace)));
      await Promise.race([Promise.all([closed, coalescer.drain()]), deadline]);
      clearTimeout(timer);
      // Past the deadline, whatever is still running is cut off rather than waited for.
      server.closeAllConnections();
      pass.close();
      await origin.close();
      if (redis !== undefined) {
        await redis.shared.close();
        redis.client.disconnect();
      }
    },
  };
}

/** The Redis client, store, bus and shared tier, built from `cache.redis`. */
function createShared(settings: RedisSettings, clock: Clock, opts: LarderOptions): { client: RedisClient; shared: SharedTier } {
  const onRedisError = opts.onRedisError;
  const client = createRedisClient({
    ...(settings.url === undefined ? {} : { url: settings.url }),
    ...(settings.cluster === undefined ? {} : { cluster: [...settings.cluster] }),
    commandTimeout: settings.commandTimeout,
  });
  const breaker = new Breaker({ clock, threshold: settings.breakerFailures, coolDown: settings.breakerCoolDown });
  const store = new RedisStore({
    client,
    prefix: settings.prefix,
    clock,
    breaker,
    ...(onRedisError ? { onError: onRedisError } : {}),
  });
  if (opts.onRedisState) store.onStateChange(opts.onRedisState);
  const bus = new RedisBus({ client, ...(onRedisError ? { onError: onRedisError } : {}) });
  return { client, shared: new SharedTier(store, bus) };
}
