/**
 * Picks the server for a request among those that may take one: round-robin takes them in
 * turn, least-connections the one with the fewest requests in flight from this process (ties
 * in turn too, so that idle servers share the load).
 */
import type { Upstream } from '../config/types.js';
import type { ServerState } from './server.js';

export class Balancer {
  private next = 0;

  constructor(
    private readonly policy: Upstream['balance'],
    private readonly servers: readonly ServerState[],
  ) {}

  /**
   * A server that is available and not in `tried`; failing that, an available one already
   * tried (a retry with one server left goes back to it); undefined when none is available.
   */
  pick(tried?: ReadonlySet<ServerState>): ServerState | undefined {
    return this.choose((s) => s.available() && tried?.has(s) !== true) ?? (tried === undefined || tried.size === 0 ? undefined : this.choose((s) => s.available()));
  }

  private choose(ok: (s: ServerState) => boolean): ServerState | undefined {
    const n = this.servers.length;
    const start = this.next;
    let best: ServerState | undefined;
    let bestAt = 0;
    for (let i = 0; i < n; i++) {
      const at = (start + i) % n;
      const s = this.servers[at]!;
      if (!ok(s)) continue;
      if (this.policy === 'round-robin') {
        best = s;
        bestAt = at;
        break;
      }
      if (best === undefined || s.inFlight < best.inFlight) {
        best = s;
        bestAt = at;
      }
    }
    if (best !== undefined) this.next = (bestAt + 1) % n;
    return best;
  }
}
