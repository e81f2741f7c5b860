/**
 * One upstream at run time: a keep-alive undici pool and a ServerState per server, the
 * balancer over them, and the active health checks. Built from the Config's Upstream;
 * rebuilt when a reload changes it (origin/client.ts).
 */
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { Pool, buildConnector, errors, type Dispatcher } from 'undici';
import type { Upstream, UpstreamTls } from '../config/types.js';
import type { Clock } from '../types.js';
import { Balancer } from './balancer.js';
import { HealthChecker } from './health.js';
import { ServerState } from './server.js';

/** What is counted per server (metrics/record.ts). */
export type ErrorKind = 'connect' | 'timeout' | 'response' | '5xx';

export interface UpstreamEvents {
  /** A request (first try or retry) was sent to `server`. */
  request?(upstream: string, server: string): void;
  error?(upstream: string, server: string, kind: ErrorKind): void;
  /** A server went up or down. */
  change?(upstream: string, server: string, up: boolean): void;
}

export interface Server {
  state: ServerState;
  pool: Dispatcher;
  /** host[:port] of the URL: the Host sent under `host: upstream`, and by health checks. */
  authority: string;
}

/** What /readyz and the metrics show of an upstream. */
export interface UpstreamSnapshot {
  name: string;
  servers: Array<{ url: string; up: boolean; inFlight: number }>;
}

export class UpstreamRuntime {
  readonly servers: Server[];
  private readonly balancer: Balancer;
  private readonly checker: HealthChecker | undefined;

  constructor(
    readonly settings: Upstream,
    /** What the pools were built with; a change rebuilds them. */
    readonly fingerprint: string,
    connectTimeout: number,
    clock: Clock,
    events: UpstreamEvents,
  ) {
    const tracked = !settings.implicit;
    this.servers = settings.servers.map((url) => {
      const u = new URL(url);
      const state = new ServerState(url, clock, tracked, settings.healthCheck !== undefined, (s) => events.change?.(settings.name, s.url, s.up));
      const pool = new Pool(url, {
        connections: settings.connections,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        connect: connector(connectTimeout, tracked ? tlsOptions(settings.tls, u.hostname) : undefined),
        // Timed by the origin client's Exchange instead, precisely.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      return { state, pool, authority: u.host };
    });
    this.balancer = new Balancer(settings.balance, this.servers.map((s) => s.state));
    if (settings.healthCheck !== undefined) {
      const host = (s: Server) => settings.tls?.serverName ?? s.authority;
      this.checker = new HealthChecker(settings.healthCheck, this.servers.map((s) => ({ state: s.state, pool: s.pool, host: host(s) })));
      this.checker.start();
    }
  }

  get name(): string {
    return this.settings.name;
  }

  /** A server for the next try, avoiding those in `tried` when another is available. */
  pick(tried?: ReadonlySet<ServerState>): Server | undefined {
    const state = this.balancer.pick(tried);
    return state === undefined ? undefined : this.servers.find((s) => s.state === state);
  }

  snapshot(): UpstreamSnapshot {
    return { name: this.name, servers: this.servers.map((s) => ({ url: s.state.url, up: s.state.up, inFlight: s.state.inFlight })) };
  }

  /** Stops the checks; `graceful` lets requests in flight finish, else they are aborted. */
  async close(graceful: boolean): Promise<void> {
    this.checker?.stop();
    await Promise.allSettled(this.servers.map((s) => (graceful ? s.pool.close() : s.pool.destroy())));
  }
}

/** A named upstream's TLS: its CA, client certificate, server name (default the URL's host name) and verification. */
type TlsOptions = buildConnector.BuildOptions & { servername?: string };

function tlsOptions(tls: UpstreamTls | undefined, hostname: string): TlsOptions {
  const name = tls?.serverName ?? (isIP(hostname.replace(/^\[|\]$/g, '')) === 0 ? hostname : undefined);
  return {
    ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls?.key === undefined ? {} : { key: tls.key }),
    ...(name === undefined ? {} : { servername: name }),
    rejectUnauthorized: tls?.verify ?? true,
  };
}

/**
 * undici's connector with a plain timer for the connect timeout (undici's own runs on its
 * coarse clock): past `ms` the socket is destroyed and the connection fails as a timeout.
 * With `tls`, its server name replaces the one undici derives from the request's Host.
 */
function connector(ms: number, tls?: TlsOptions): buildConnector.connector {
  const base = buildConnector({ timeout: 0, ...tls });
  const servername = tls?.servername;
  return (options, callback) => {
    let timer: NodeJS.Timeout | undefined;
    const opts = servername === undefined ? options : { ...options, servername };
    const socket = (base as unknown as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket)(opts, (...args) => {
      clearTimeout(timer);
      callback(...args);
    });
    if (ms > 0) {
      timer = setTimeout(() => socket.destroy(new errors.ConnectTimeoutError(`timed out connecting to ${options.hostname}:${options.port}`)), ms);
    }
  };
}
