import { STATUS_CODES } from 'node:http';
import { Readable, type Writable } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import type { Timeouts, Upstream, UpstreamTls } from '../config/types.js';
import type { Clock, HeaderMap } from '../types.js';
import type { Outcome, ServerState } from '../upstream/server.js';
import { UpstreamRuntime, type ErrorKind, type Server, type UpstreamEvents, type UpstreamSnapshot } from '../upstream/upstream.js';
import { classifyOriginError, noHealthyServer, unsupportedCoding, type OriginFailure } from './errors.js';

export interface OriginRequest {
  /** Where it goes: a server of this upstream, picked per try. */
  upstream: Upstream;
  method: 'GET' | 'HEAD';
  /** Path and query, already normalised by the key builder. */
  target: string;
  headers: Record<string, string | string[]>;
  /** Bodies up to this size are buffered (and may be stored); larger ones are streamed. */
  maxBodySize: number;
  /** Receives interim (1xx) responses, which are relayed and never stored. */
  onInfo?: (status: number, headers: Record<string, string | string[]>) => void;
}

interface Received {
  status: number;
  statusMessage: string;
  headers: HeaderMap;
  requestTime: number;
  responseTime: number;
  /** The server (base URL) that answered. */
  server?: string | undefined;
}

/**
 * The whole body arrived, and its length matched what the origin announced. A 204 or 304
 * has an empty body whatever its Content-Length says (RFC 9110 §6.4.1, §8.6).
 */
export interface FullResponse extends Received {
  kind: 'full';
  body: Buffer;
}

/** The body outgrew maxBodySize: `head` holds what was read, `rest` the paused remainder. */
export interface LargeResponse extends Received {
  kind: 'large';
  head: Buffer[];
  rest: Readable;
}

export type OriginResult = FullResponse | LargeResponse | OriginFailure;

/** A request relayed as it streams, nothing buffered: see OriginClient.forward. */
export interface ForwardRequest {
  upstream: Upstream;
  method: 'GET' | 'HEAD';
  target: string;
  headers: Record<string, string | string[]>;
  onInfo?: ((status: number, headers: Record<string, string | string[]>) => void) | undefined;
}

/** Where a forwarded response goes. */
export interface ForwardSink {
  /**
   * The final response head arrived: write it and return the stream the body is written
   * to, which is ended when the body is complete. Times are the clock's, in ms. A 204 or
   * 304 has no body: its stream is ended at once.
   */
  open(status: number, headers: HeaderMap, requestTime: number, responseTime: number, server?: string): Writable;
  /** The trailer section of a chunked body, called just before the stream is ended. */
  trailers?(fields: HeaderMap): void;
  /**
   * The origin failed before a response head arrived. Failures after open() destroy the
   * stream open() returned, so a truncated body never looks complete.
   */
  failed(failure: OriginFailure): void;
}

/** RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have content, whatever their framing fields say. */
export function bodiless(status: number): boolean {
  return status === 204 || status === 304 || status < 200;
}

/**
 * RFC 9112 §6.1, §7: chunked is the only transfer coding larder decodes. Any other coding
 * (gzip, deflate, compress, ...), alone or under chunked, would hand the client or the cache
 * encoded bytes as if they were the representation.
 */
export function foreignTransferCoding(headers: HeaderMap): boolean {
  const te = headers['transfer-encoding'];
  if (te === undefined) return false;
  const codings = (Array.isArray(te) ? te.join(',') : te)
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  return codings.length !== 1 || codings[0] !== 'chunked';
}

/** What an Exchange reports, in order: info*, head, then data* and end, or fail at any point. */
interface Reader {
  /** An interim (1xx) response. */
  info?(status: number, headers: Record<string, string | string[]>): void;
  head(status: number, headers: HeaderMap, responseTime: number): void;
  /** Returns false to ask for a pause; the reader calls Exchange.resume() when it wants more. */
  data(chunk: Buffer): boolean;
  end(trailers: HeaderMap): void;
  /** `outcome`: what the failure says of the server's health (a connect error, a timeout, or nothing). */
  fail(failure: OriginFailure, outcome: Outcome): void;
}

const noop = (): void => undefined;

/**
 * One request to the origin, as an undici dispatch handler. It keeps larder's own timers:
 * undici's header and body timeouts run on a shared coarse clock that fires up to half a
 * second late, so they are turned off on the pool and replaced by plain timers here
 * (headers: from the request being written to the final head; body: the longest gap between
 * chunks, not counted while the reader has paused the body).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The duration `timer` was set for. */
  private armedFor = 0;
  private phase: 'headers' | 'body' | 'done' = 'headers';
  private paused = false;

  constructor(
    private readonly timeouts: Timeouts,
    private readonly clock: Clock,
    private readonly reader: Reader,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Also called again when undici retries the request on another connection.
    if (this.phase === 'headers') this.arm(this.timeouts.headers);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.phase !== 'headers') return;
    const h = headers as HeaderMap;
    if (status < 200) {
      this.reader.info?.(status, h);
      this.arm(this.timeouts.headers);
      return;
    }
    const empty = bodiless(status);
    if (!empty && foreignTransferCoding(h)) {
      this.disarm();
      this.phase = 'done';
      this.reader.fail(unsupportedCoding(), 'ok');
      controller.abort(new errors.RequestAbortedError('unsupported transfer coding'));
      return;
    }
    this.phase = 'body';
    this.reader.head(status, h, this.clock.now());
    if (empty) {
      // Complete now: what undici says afterwards (a Content-Length it expected and did not
      // get, which also costs the connection) is not about this response's content.
      this.disarm();
      this.phase = 'done';
      this.reader.end({});
      return;
    }
    // The headers timer runs on into the body's (the reader cannot outlast it synchronously);
    // a reader that gave up has disarmed it.
    if (this.phase === 'body') this.arm(this.timeouts.body);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.phase !== 'body') return;
    if (this.reader.data(chunk)) {
      this.timer?.refresh();
    } else if (this.phase === 'body') {
      // The reader is full: stop reading, and do not count the wait against the origin.
      this.paused = true;
      this.disarm();
      controller.pause();
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.disarm();
    if (this.phase !== 'body') return;
    this.phase = 'done';
    this.reader.end(trailers as HeaderMap);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.disarm();
    if (this.phase === 'done') return;
    const phase = this.phase;
    this.phase = 'done';
    this.reader.fail(classifyOriginError(err, phase), phase === 'headers' ? healthOutcome(err) : 'neutral');
  }

  /** The reader wants more body. */
  resume(): void {
    if (this.phase !== 'body' || !this.paused) return;
    this.paused = false;
    this.arm(this.timeouts.body);
    this.controller?.resume();
  }

  /** The reader gave up (the client went away): stop the request and its connection. */
  abort(): void {
    this.disarm();
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.controller?.abort(new errors.RequestAbortedError());
  }

  /**
   * Starts the timer for `ms` from now. The same duration again (the body's after the
   * headers', both 30 s by default) restarts the running timer instead of replacing it.
   */
  private arm(ms: number): void {
    if (this.timer !== undefined && this.armedFor === ms) {
      this.timer.refresh();
      return;
    }
    this.disarm();
    if (ms > 0) {
      this.timer = setTimeout(this.expire, ms);
      this.armedFor = ms;
    }
  }

  private disarm(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    if (this.phase === 'done') return;
    // undici reports the abort through onResponseError, which classifies it as a timeout.
    this.controller?.abort(this.phase === 'headers' ? new errors.HeadersTimeoutError() : new errors.BodyTimeoutError());
  };
}

/** Before any response head: the connection failed or broke, so no server answered. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
]);

/** What an error before the response head says of the server: a failed connect, a timeout, or nothing. */
function healthOutcome(err: unknown): Outcome {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  // TLS handshake failures (certificate, protocol) are failed connects too.
  if (CONNECT_FAILURES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || /CERT|SIGNATURE|SELF_SIGNED/.test(code)) return 'connect';
  return 'neutral';
}

/** A server lent to the pass-through for one request. */
export interface Lease {
  /** Its base URL. */
  url: string;
  /** The Host to send under `host: upstream`; undefined: the client's. */
  host: string | undefined;
  /** The upstream's TLS settings, for an https server. */
  tls: UpstreamTls | undefined;
  done(outcome: Outcome): void;
}

/** What every Call of an OriginClient shares. */
interface CallContext {
  timeouts: Timeouts;
  clock: Clock;
  events: UpstreamEvents;
}

/**
 * One request to an upstream across its tries (see OriginClient.dispatch): the reader of
 * each try's Exchange, passing on what the caller's reader should see, and what the caller's
 * resume() and abort() reach. Only the current try's Exchange can report: a try given up is
 * aborted first, and an aborted Exchange reports nothing more.
 *
 * It is one object with methods rather than closures on purpose: a closure stored into a
 * per-request object after it was built (as the try's settle function once was) made V8's
 * young-generation collections keep whole requests alive, so every scavenge copied megabytes
 * and forwarding spent a fifth of its CPU in the collector.
 */
class Call implements Reader {
  private exchange: Exchange | undefined;
  private aborted = false;
  /** An interim response or the final head reached the caller: no retry after that. */
  private committed = false;
  private tries = 0;
  /** The current try's server; undefined once the try's count there has ended. */
  private counted: ServerState | undefined;
  /** The current try's server state, for the servers to avoid on a retry. */
  private state: ServerState | undefined;
  /** Servers already tried: made on the first retry. */
  private tried: Set<ServerState> | undefined;
  /** A response head arrived on the current try. */
  private headSeen = false;
  private last: OriginFailure | undefined;
  /** The server (base URL) of the current try. */
  server: string | undefined;

  constructor(
    private readonly ctx: CallContext,
    private readonly runtime: UpstreamRuntime,
    private readonly req: ForwardRequest,
    private readonly reader: Reader,
  ) {}

  /** Starts a try on a server not tried yet when there is one; with none available, fails as unreachable. */
  attempt(): void {
    const server = this.runtime.pick(this.tried);
    if (server === undefined) return this.reader.fail(this.last ?? noHealthyServer(this.req.upstream.name), 'neutral');
    this.tries++;
    this.state = server.state;
    this.counted = server.state;
    this.server = server.state.url;
    this.headSeen = false;
    const exchange = new Exchange(this.ctx.timeouts, this.ctx.clock, this);
    this.exchange = exchange;
    server.state.start();
    this.ctx.events.request?.(this.req.upstream.name, server.state.url);
    send(server, this.req, exchange);
  }

  /** The caller's reader wants more body. */
  resume(): void {
    this.exchange?.resume();
  }

  /** The caller gives up (its client went away): stop the try and end its count. */
  abort(): void {
    this.aborted = true;
    this.exchange?.abort();
    this.settle('neutral');
  }

  info(status: number, headers: Record<string, string | string[]>): void {
    const onInfo = this.req.onInfo;
    if (onInfo === undefined) return;
    this.committed = true;
    onInfo(status, headers);
  }

  head(status: number, headers: HeaderMap, responseTime: number): void {
    this.headSeen = true;
    const { retry, name } = this.req.upstream;
    if (status >= 500 && retry.statuses.includes(status) && this.again()) {
      this.settle('ok', '5xx');
      this.exchange!.abort();
      return this.retry();
    }
    if (status >= 500) this.ctx.events.error?.(name, this.server!, '5xx');
    this.committed = true;
    this.reader.head(status, headers, responseTime);
  }

  data(chunk: Buffer): boolean {
    return this.reader.data(chunk);
  }

  end(trailers: HeaderMap): void {
    this.settle('ok');
    this.reader.end(trailers);
  }

  fail(failure: OriginFailure, outcome: Outcome): void {
    this.settle(outcome, outcome === 'connect' ? 'connect' : outcome === 'timeout' ? 'timeout' : 'response');
    this.last = failure;
    if (outcome === 'connect' && this.req.upstream.retry.connect && this.again()) return this.retry();
    this.reader.fail(failure, outcome);
  }

  private again(): boolean {
    return this.tries < this.req.upstream.retry.attempts && !this.aborted && !this.committed;
  }

  private retry(): void {
    (this.tried ??= new Set()).add(this.state!);
    this.attempt();
  }

  /** Ends the current try's count at its server (once), with what it says of the server's health. */
  private settle(outcome: Outcome, kind?: ErrorKind): void {
    const state = this.counted;
    if (state === undefined) return;
    this.counted = undefined;
    state.end(this.headSeen && outcome === 'neutral' ? 'ok' : outcome);
    if (kind !== undefined) this.ctx.events.error?.(this.req.upstream.name, state.url, kind);
  }
}

/**
 * The reader of a forwarded request (OriginClient.forward): the body goes to the stream the
 * sink opened, chunk by chunk, with its back-pressure.
 */
class Relay implements Reader {
  private out: Writable | undefined;
  call!: Call;

  constructor(
    private readonly sink: ForwardSink,
    private readonly requestTime: number,
  ) {}

  head(status: number, headers: HeaderMap, responseTime: number): void {
    const call = this.call;
    const stream = this.sink.open(status, headers, this.requestTime, responseTime, call.server);
    this.out = stream;
    stream.on('drain', () => call.resume());
    // The client went away before the body was complete: stop reading it.
    stream.on('close', () => call.abort());
  }

  data(chunk: Buffer): boolean {
    return this.out!.write(chunk);
  }

  end(trailers: HeaderMap): void {
    this.sink.trailers?.(trailers);
    this.out!.end();
  }

  fail(failure: OriginFailure): void {
    if (this.out !== undefined) this.out.destroy();
    else this.sink.failed(failure);
  }
}

/**
 * Sends requests to upstreams: per upstream, one keep-alive pool per server, a balancer over
 * the healthy ones, passive and active health, and retries of GET and HEAD (see dispatch).
 */
export class OriginClient {
  /** By name; implicit upstreams are added when first used. */
  private runtimes = new Map<string, UpstreamRuntime>();
  /** The runtime of each Upstream object a Config holds, so a request costs one map lookup. */
  private byObject = new WeakMap<Upstream, UpstreamRuntime>();

  /** What its Calls share. */
  private readonly ctx: CallContext;

  constructor(
    private readonly timeouts: Timeouts,
    private readonly clock: Clock,
    private readonly events: UpstreamEvents = {},
  ) {
    this.ctx = { timeouts, clock, events };
  }

  /**
   * Builds the upstreams of a Config (at start and on reload): those whose settings did not
   * change keep their pools and health state; the others are rebuilt, and those gone are
   * closed once their requests in flight have finished.
   */
  sync(upstreams: Readonly<Record<string, Upstream>>): void {
    const next = new Map<string, UpstreamRuntime>();
    for (const upstream of Object.values(upstreams)) next.set(upstream.name, this.adopt(upstream, next));
    for (const [name, runtime] of this.runtimes) {
      if (next.get(name) !== runtime) void runtime.close(true);
    }
    this.runtimes = next;
  }

  /** What /readyz and the metrics show: every upstream with its servers. */
  snapshot(): UpstreamSnapshot[] {
    return [...this.runtimes.values()].map((r) => r.snapshot());
  }

  private runtime(upstream: Upstream): UpstreamRuntime {
    let runtime = this.byObject.get(upstream);
    if (runtime === undefined) {
      runtime = this.adopt(upstream, this.runtimes);
      const old = this.runtimes.get(upstream.name);
      if (old !== undefined && old !== runtime) void old.close(true);
      this.runtimes.set(upstream.name, runtime);
    }
    return runtime;
  }

  /** The runtime in `among` with the same settings, or a new one. */
  private adopt(upstream: Upstream, among: Map<string, UpstreamRuntime>): UpstreamRuntime {
    const fingerprint = JSON.stringify(upstream);
    let runtime = this.runtimes.get(upstream.name) ?? among.get(upstream.name);
    if (runtime === undefined || runtime.fingerprint !== fingerprint) {
      runtime = new UpstreamRuntime(upstream, fingerprint, this.timeouts.connect, this.clock, this.events);
    }
    this.byObject.set(upstream, runtime);
    return runtime;
  }

  /** Sends the request and buffers the body up to maxBodySize; never rejects. */
  fetch(req: OriginRequest): Promise<OriginResult> {
    const requestTime = this.clock.now();
    return new Promise((resolve) => {
      let received: Received | undefined;
      let chunks: Buffer[] = [];
      let size = 0;
      let rest: Readable | undefined;
      // Past the limit, reading stops and the rest is handed over as a paused stream, so
      // memory stays bounded whatever the origin sends.
      const spill = (head: Buffer[]): void => {
        rest = new Readable({
          read: () => call.resume(),
          destroy: (err, cb) => {
            call.abort();
            cb(err);
          },
        });
        // The consumer adds its own; this one keeps an error before it does from being fatal.
        rest.on('error', noop);
        resolve({ ...received!, kind: 'large', head, rest });
      };
      const call = this.dispatch(
        req,
        {
          head: (status, headers, responseTime) => {
            received = { status, statusMessage: STATUS_CODES[status] ?? '', headers, requestTime, responseTime, server: call.server };
            const declared = Number(headers['content-length']);
            if (!bodiless(status) && Number.isFinite(declared) && declared > req.maxBodySize) spill([]);
          },
          data: (chunk) => {
            if (rest !== undefined) return rest.push(chunk);
            size += chunk.length;
            chunks.push(chunk);
            if (size > req.maxBodySize) {
              spill(chunks);
              chunks = [];
              return false;
            }
            return true;
          },
          end: () => {
            if (rest !== undefined) rest.push(null);
            else resolve({ ...received!, kind: 'full', body: ownCopy(chunks, size) });
          },
          fail: (failure) => {
            if (rest !== undefined) rest.destroy(new Error(failure.message));
            else resolve(failure);
          },
        },
      );
    });
  }

  /**
   * Relays a response as it streams: the body is written to the sink's stream chunk by
   * chunk, with back-pressure, and nothing is buffered or copied. Used where the response
   * will not be stored. Never throws.
   */
  forward(req: ForwardRequest, sink: ForwardSink): void {
    const relay = new Relay(sink, this.clock.now());
    relay.call = this.dispatch(req, relay);
  }

  /**
   * Sends the request to a server of its upstream, counting it in flight there and reporting
   * how it went to the server's health. A try that failed to connect (connect error or
   * timeout, a connection broken before any answer) or answered a status listed in
   * `retry.on` is tried again, up to `retry.attempts` tries in all, on another available
   * server when there is one, but only while nothing reached the reader: no interim
   * response, no head. With no server available the request fails at once as unreachable.
   * The tries are a Call's.
   */
  private dispatch(req: ForwardRequest, reader: Reader): Call {
    const call = new Call(this.ctx, this.runtime(req.upstream), req, reader);
    call.attempt();
    return call;
  }

  /**
   * A server for a request the pass-through (http-proxy-3) relays: requests with a body and
   * upgrades, which are never retried. It is counted in flight until `done`, which reports
   * how it went. Undefined when no server of the upstream is available.
   */
  lease(upstream: Upstream): Lease | undefined {
    const server = this.runtime(upstream).pick();
    if (server === undefined) return undefined;
    const url = server.state.url;
    server.state.start();
    this.events.request?.(upstream.name, url);
    let settled = false;
    return {
      url,
      host: upstream.host === 'upstream' ? server.authority : undefined,
      tls: upstream.tls,
      done: (outcome) => {
        if (settled) return;
        settled = true;
        server.state.end(outcome);
        if (outcome === 'connect' || outcome === 'timeout') this.events.error?.(upstream.name, url, outcome);
      },
    };
  }

  /** Closes every pool and stops the health checks, aborting requests still in flight. */
  async close(): Promise<void> {
    const runtimes = [...this.runtimes.values()];
    this.runtimes.clear();
    this.byObject = new WeakMap();
    await Promise.allSettled(runtimes.map((r) => r.close(false)));
  }
}

/** One try of a request, on `server`'s pool. */
function send(server: Server, req: ForwardRequest, exchange: Exchange): void {
  let headers = req.headers;
  // host: upstream sends the server's own authority; an HTTP/1.0 request without Host gets it too.
  if (req.upstream.host === 'upstream') headers = { ...headers, host: server.authority };
  try {
    server.pool.dispatch({ path: req.target, method: req.method, headers }, exchange);
  } catch (err) {
    exchange.onResponseError(undefined as unknown as Dispatcher.DispatchController, err as Error);
  }
}

/**
 * undici hands out body chunks that are views into the socket's read buffer (often 64 KB).
 * Keeping such a view would pin the whole read buffer in the cache, so a stored body gets
 * its own exact-size allocation: what the memory tier charges is what it holds.
 */
function ownCopy(chunks: Buffer[], size: number): Buffer {
  const body = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for (const c of chunks) offset += c.copy(body, offset);
  return body;
}
