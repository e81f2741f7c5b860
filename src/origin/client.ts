import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Readable, type Writable } from 'node:stream';
import { Pool, buildConnector, errors, type Dispatcher } from 'undici';
import type { Timeouts } from '../config/types.js';
import type { Clock, HeaderMap } from '../types.js';
import { classifyOriginError, unsupportedCoding, type OriginFailure } from './errors.js';

export interface OriginRequest {
  /** Base URL of the upstream, e.g. http://127.0.0.1:3000. */
  origin: string;
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
  origin: string;
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
  open(status: number, headers: HeaderMap, requestTime: number, responseTime: number): Writable;
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

/** What an Exchange reports, in order: head, then data* and end, or fail at any point. */
interface Reader {
  head(status: number, headers: HeaderMap, responseTime: number): void;
  /** Returns false to ask for a pause; the reader calls Exchange.resume() when it wants more. */
  data(chunk: Buffer): boolean;
  end(trailers: HeaderMap): void;
  fail(failure: OriginFailure): void;
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
  private phase: 'headers' | 'body' | 'done' = 'headers';
  private paused = false;

  constructor(
    private readonly timeouts: Timeouts,
    private readonly clock: Clock,
    private readonly reader: Reader,
    private readonly onInfo?: ((status: number, headers: Record<string, string | string[]>) => void) | undefined,
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
      this.onInfo?.(status, h);
      this.arm(this.timeouts.headers);
      return;
    }
    this.disarm();
    const empty = bodiless(status);
    if (!empty && foreignTransferCoding(h)) {
      this.phase = 'done';
      this.reader.fail(unsupportedCoding());
      controller.abort(new errors.RequestAbortedError('unsupported transfer coding'));
      return;
    }
    this.phase = 'body';
    this.reader.head(status, h, this.clock.now());
    if (empty) {
      // Complete now: what undici says afterwards (a Content-Length it expected and did not
      // get, which also costs the connection) is not about this response's content.
      this.phase = 'done';
      this.reader.end({});
      return;
    }
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
    this.reader.fail(classifyOriginError(err, phase));
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

  private arm(ms: number): void {
    this.disarm();
    if (ms > 0) this.timer = setTimeout(this.expire, ms);
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

/**
 * undici's connector with a plain timer for the connect timeout (undici's own runs on its
 * coarse clock): past `ms` the socket is destroyed and the connection fails as a timeout.
 */
function connector(ms: number): buildConnector.connector {
  const base = buildConnector({ timeout: 0 });
  return (options, callback) => {
    let timer: NodeJS.Timeout | undefined;
    const socket = (base as unknown as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket)(options, (...args) => {
      clearTimeout(timer);
      callback(...args);
    });
    if (ms > 0) {
      timer = setTimeout(() => socket.destroy(new errors.ConnectTimeoutError(`timed out connecting to ${options.hostname}:${options.port}`)), ms);
    }
  };
}

/** One keep-alive undici pool per upstream origin. */
export class OriginClient {
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly timeouts: Timeouts,
    private readonly clock: Clock,
  ) {}

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        connect: connector(this.timeouts.connect),
        // Timed by Exchange instead, precisely.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.pools.set(origin, pool);
    }
    return pool;
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
          read: () => exchange.resume(),
          destroy: (err, cb) => {
            exchange.abort();
            cb(err);
          },
        });
        // The consumer adds its own; this one keeps an error before it does from being fatal.
        rest.on('error', noop);
        resolve({ ...received!, kind: 'large', head, rest });
      };
      const exchange = new Exchange(
        this.timeouts,
        this.clock,
        {
          head: (status, headers, responseTime) => {
            received = { status, statusMessage: STATUS_CODES[status] ?? '', headers, requestTime, responseTime };
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
        req.onInfo,
      );
      this.dispatch(req, exchange);
    });
  }

  /**
   * Relays a response as it streams: the body is written to the sink's stream chunk by
   * chunk, with back-pressure, and nothing is buffered or copied. Used where the response
   * will not be stored. Never throws.
   */
  forward(req: ForwardRequest, sink: ForwardSink): void {
    const t0 = this.clock.now();
    let out: Writable | undefined;
    const exchange: Exchange = new Exchange(
      this.timeouts,
      this.clock,
      {
        head: (status, headers, responseTime) => {
          const stream = sink.open(status, headers, t0, responseTime);
          out = stream;
          stream.on('drain', () => exchange.resume());
          // The client went away before the body was complete: stop reading it.
          stream.on('close', () => exchange.abort());
        },
        data: (chunk) => out!.write(chunk),
        end: (trailers) => {
          sink.trailers?.(trailers);
          out!.end();
        },
        fail: (failure) => {
          if (out !== undefined) out.destroy();
          else sink.failed(failure);
        },
      },
      req.onInfo,
    );
    this.dispatch(req, exchange);
  }

  private dispatch(req: ForwardRequest, exchange: Exchange): void {
    try {
      this.pool(req.origin).dispatch({ path: req.target, method: req.method, headers: req.headers }, exchange);
    } catch (err) {
      exchange.onResponseError(undefined as unknown as Dispatcher.DispatchController, err as Error);
    }
  }

  /** Closes every pool, aborting requests still in flight. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pools.values()].map((p) => p.destroy()));
    this.pools.clear();
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
