import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from './ops/status.js';
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
  /** Called once per request with what happened, and the request and response it describes. */
  onOutcome?: (o: Outcome, req: IncomingMessage, res: ServerResponse) => void;
  /** The access log: `take()` samples a request, `write` gets it once its response was sent. */
  access?: { take(): boolean; write(o: Outcome, req: IncomingMessage, bytes: number, ms: number, upstreamMs: number | undefined, server?: string): void };
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
  /** Binds every configured listener (the first at the address given, if any); resolves to the first's address. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /** Every bound client listener's address, in `listen` order (the first is what listen resolved to). */
  addresses(): AddressInfo[];
  /** Binds the admin listener (metrics, health, purge, explain); undefined without `admin`. */
  listenAdmin(port?: number, host?: string): Promise<AddressInfo | undefined>;
  /** Swaps in a new validated config for new requests; requests in flight finish under the old one. */
  reload(next: Config): ReloadResult;
  /** A reload that was rejected (the file did not load): counted and shown on the status page. */
  reloadFailed(message: string): void;
  /** What GET /status answers for this process; undefined with admin.status false or without admin. */
  status(): StatusSnapshot | undefined;
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
