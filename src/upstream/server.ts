/**
 * The state of one server of an upstream, as this process sees it: up or down, requests in
 * flight, and the consecutive results that move it between the two.
 *
 * Passive health: a failed connect, or a connect or headers timeout, marks the server down at
 * once. Active health checks (upstream/health.ts) bring it back after `healthyAfter`
 * consecutive successes, and take it down after `unhealthyAfter` consecutive failures. An
 * upstream without health checks lets one request through to a down server once
 * PASSIVE_RETRY_AFTER has passed (half-open): its success brings the server back, its
 * failure starts the wait again. Servers of an implicit upstream (a URL origin) are never
 * marked down, as a URL origin never was.
 */
import type { Clock } from '../types.js';

/** How long a server marked down by a request waits for its half-open probe, without health checks (ms). */
export const PASSIVE_RETRY_AFTER = 5_000;

/** What became of one request to a server. */
export type Outcome =
  /** A response head arrived (any status). */
  | 'ok'
  /** The connection failed or timed out. */
  | 'connect'
  /** No response head within timeouts.headers. */
  | 'timeout'
  /** Anything else (broken or incomplete response, the client went away): says nothing of health. */
  | 'neutral';

export class ServerState {
  up = true;
  inFlight = 0;
  /** Consecutive active check results, counted towards the next change. */
  private passes = 0;
  private fails = 0;
  /** When a request marked the server down (clock ms). */
  private downSince = 0;
  /** A half-open probe request is in flight. */
  private probing = false;

  constructor(
    /** Canonical base URL. */
    readonly url: string,
    private readonly clock: Clock,
    /** false for an implicit upstream: never marked down. */
    private readonly tracked: boolean,
    /** Active checks bring it back; else the half-open probe does. */
    private readonly activeChecks: boolean,
    private readonly onChange: (server: ServerState) => void = () => undefined,
  ) {}

  /** Whether a request may go to this server now. */
  available(): boolean {
    if (this.up) return true;
    return !this.activeChecks && !this.probing && this.clock.now() - this.downSince >= PASSIVE_RETRY_AFTER;
  }

  /** A request is sent to it. */
  start(): void {
    this.inFlight++;
    if (!this.up) this.probing = true;
  }

  /** That request ended. */
  end(outcome: Outcome): void {
    this.inFlight--;
    const probe = this.probing && !this.up;
    if (outcome === 'connect' || outcome === 'timeout') {
      this.probing = false;
      this.markDown();
    } else if (outcome === 'ok') {
      this.probing = false;
      if (probe) this.set(true);
    } else if (probe) {
      this.probing = false;
    }
  }

  /** An active check's result. */
  checked(ok: boolean, unhealthyAfter: number, healthyAfter: number): void {
    if (ok) {
      this.fails = 0;
      this.passes++;
      if (!this.up && this.passes >= healthyAfter) this.set(true);
    } else {
      this.passes = 0;
      this.fails++;
      if (this.up && this.fails >= unhealthyAfter) this.set(false);
    }
  }

  private markDown(): void {
    if (!this.tracked) return;
    this.downSince = this.clock.now();
    this.passes = 0;
    if (this.up) this.set(false);
  }

  private set(up: boolean): void {
    this.up = up;
    this.passes = 0;
    this.fails = 0;
    if (!up) this.downSince = this.clock.now();
    this.onChange(this);
  }
}
