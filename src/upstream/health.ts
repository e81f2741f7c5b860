/**
 * Active health checks: `GET <path>` to every server of an upstream every `interval`; a 2xx or
 * 3xx head within `timeout` is a success. Timers are unref'd (they never keep the process
 * alive) and stopped with the upstream. A check still running when the next is due is not
 * doubled.
 */
import type { Dispatcher } from 'undici';
import type { HealthCheck } from '../config/types.js';
import type { ServerState } from './server.js';

export interface Checked {
  state: ServerState;
  pool: Dispatcher;
  /** Host sent with the check: the server's own authority (or the TLS server name). */
  host: string;
}

export class HealthChecker {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<ServerState>();
  private readonly aborts = new Set<AbortController>();
  private stopped = false;

  constructor(
    private readonly check: HealthCheck,
    private readonly servers: readonly Checked[],
  ) {}

  start(): void {
    for (const server of this.servers) {
      void this.run(server);
      const timer = setInterval(() => void this.run(server), this.check.interval);
      timer.unref();
      this.timers.push(timer);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const a of this.aborts) a.abort();
  }

  private async run(server: Checked): Promise<void> {
    if (this.stopped || this.running.has(server.state)) return;
    this.running.add(server.state);
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), this.check.timeout);
    timer.unref();
    let ok = false;
    try {
      const res = await server.pool.request({
        path: this.check.path,
        method: 'GET',
        headers: { host: server.host, 'user-agent': 'larder-health-check' },
        signal: abort.signal,
      });
      ok = res.statusCode >= 200 && res.statusCode < 400;
      await res.body.dump().catch(() => undefined);
    } catch {
      ok = false;
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
      this.running.delete(server.state);
    }
    if (!this.stopped) server.state.checked(ok, this.check.unhealthyAfter, this.check.healthyAfter);
  }
}
