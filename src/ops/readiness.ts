import net from 'node:net';
import type http from 'node:http';
import type { Config } from '../config/types.js';
import type { TieredStore } from '../cache/tiered-store.js';
import type { UpstreamSnapshot } from '../upstream/upstream.js';

export interface ReadinessDeps {
  server: http.Server;
  store: TieredStore;
  config: () => Config;
  /** Every upstream with the health of its servers, as this process sees it. */
  upstreams?: () => UpstreamSnapshot[];
}

export type ReadyAnswer = { ready: boolean; [k: string]: unknown };

/**
 * Whether this instance should get traffic (GET /readyz): listening, not draining, and (with
 * warm.waitForReady) not warming. Shutdown and warming report here.
 */
export class Readiness {
  private draining = false;
  /** Warming runs in progress. */
  private warming = 0;

  constructor(private readonly d: ReadinessDeps) {}

  /** From now on the instance is stopping and never ready again. */
  drain(): void {
    this.draining = true;
  }

  /** Runs a warming job, counted as warming while it runs. */
  async warmingWhile<T>(run: () => Promise<T>): Promise<T> {
    this.warming++;
    try {
      return await run();
    } finally {
      this.warming--;
    }
  }

  async check(): Promise<ReadyAnswer> {
    const current = this.d.config();
    // Servers of URL origins (implicit upstreams, not health-checked) are probed here, as before.
    const implicit = Object.values(current.upstreams).filter((u) => u.implicit);
    const origins = [...new Set(implicit.flatMap((u) => u.servers))];
    const reachable = await Promise.all(origins.map(async (o) => [o, await probe(o)] as const));
    const warming = this.warming > 0;
    const shared = this.d.store.shared;
    return {
      ready: !this.draining && this.d.server.listening && !(warming && current.warm?.waitForReady === true),
      draining: this.draining,
      warming,
      config: { file: current.file ?? null, routes: current.routes.length },
      origins: Object.fromEntries(reachable.map(([o, ok]) => [o, ok ? 'reachable' : 'unreachable'])),
      upstreams: Object.fromEntries(
        (this.d.upstreams?.() ?? [])
          .filter((u) => current.upstreams[u.name]?.implicit === false)
          .map((u) => [u.name, { up: u.servers.filter((s) => s.up).length, servers: Object.fromEntries(u.servers.map((s) => [s.url, { state: s.up ? 'up' : 'down', inFlight: s.inFlight }])) }]),
      ),
      redis: shared === undefined ? 'not configured' : shared.store.state(),
    };
  }
}

/** Whether a TCP connection to the origin opens within 500 ms. */
export function probe(origin: string): Promise<boolean> {
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
