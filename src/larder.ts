import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { Config } from './config/types.js';
import type { Clock } from './types.js';
import type { MemoryStore } from './cache/memory-store.js';
import type { TieredStore } from './cache/tiered-store.js';
import type { Peers } from './cache/peers.js';
import type { RedisOp, RedisState } from './cache/redis-store.js';
import type { Outcome } from './http/handler.js';
import type { PurgeAnswer, PurgeRequest } from './http/admin.js';
import type { Recorder } from './metrics/record.js';
import type { ReloadResult } from './ops/reload.js';
import type { ReadyAnswer } from './ops/readiness.js';
import type { WarmResult } from './ops/warm.js';

/** What `createLarder` accepts besides the config: hooks for logs, and knobs for tests. */
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
  /** Called when a server of an upstream is marked down or comes back. */
  onUpstreamChange?: (upstream: string, server: string, up: boolean) => void;
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

/** One running larder: its listeners, its tiers, and the operations the admin listener offers. */
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
  ready(): Promise<ReadyAnswer>;
  /** Fetches the configured warm URLs through this instance; undefined when none are configured. */
  warm(progress?: (done: number, total: number) => void): Promise<WarmResult | undefined>;
  /**
   * Stops accepting, lets requests and fills in flight finish for up to `grace` ms, then
   * cuts what is left and closes the origin pools and Redis.
   */
  close(grace?: number): Promise<void>;
}

export type { ReloadResult };
