import { STATUS_CODES } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { Pool } from 'undici';
import type { Timeouts } from '../config/types.js';
import type { Clock, HeaderMap } from '../types.js';
import { classifyOriginError, type OriginFailure } from './errors.js';

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

/** The whole body arrived, and its length matched what the origin announced. */
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
   * to, which is ended when the body is complete. Times are the clock's, in ms.
   */
  open(status: number, headers: HeaderMap, requestTime: number, responseTime: number): Writable;
  /**
   * The origin failed before a response head arrived. Failures after open() destroy the
   * stream open() returned, so a truncated body never looks complete.
   */
  failed(failure: OriginFailure): void;
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
        connect: { timeout: this.timeouts.connect },
        headersTimeout: this.timeouts.headers,
        bodyTimeout: this.timeouts.body,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Sends the request; never rejects. */
  async fetch(req: OriginRequest): Promise<OriginResult> {
    const requestTime = this.clock.now();
    let res;
    try {
      res = await this.pool(req.origin).request({
        path: req.target,
        method: req.method,
        headers: req.headers,
        ...(req.onInfo === undefined ? {} : { onInfo: (info: { statusCode: number; headers: Record<string, string | string[]> }) => req.onInfo!(info.statusCode, info.headers) }),
      });
    } catch (err) {
      return classifyOriginError(err, 'headers');
    }
    const received: Received = {
      status: res.statusCode,
      statusMessage: STATUS_CODES[res.statusCode] ?? '',
      headers: res.headers as HeaderMap,
      requestTime,
      responseTime: this.clock.now(),
    };
    return readBody(received, res.body, req.maxBodySize);
  }

  /**
   * Relays a response with undici's stream API: the body is written to the sink's stream
   * chunk by chunk, with back-pressure, and nothing is buffered or copied. Used where the
   * response will not be stored. Never throws.
   */
  forward(req: ForwardRequest, sink: ForwardSink): void {
    const t0 = this.clock.now();
    let opened = false;
    this.pool(req.origin).stream(
      {
        path: req.target,
        method: req.method,
        headers: req.headers,
        ...(req.onInfo === undefined ? {} : { onInfo: (info: { statusCode: number; headers: Record<string, string | string[]> }) => req.onInfo!(info.statusCode, info.headers) }),
      },
      (data) => {
        const out = sink.open(data.statusCode, data.headers as HeaderMap, t0, this.clock.now());
        opened = true;
        return out;
      },
      (err) => {
        if (err !== null && !opened) sink.failed(classifyOriginError(err, 'headers'));
      },
    );
  }

  /** Closes every pool, aborting requests still in flight. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pools.values()].map((p) => p.destroy()));
    this.pools.clear();
  }
}

/**
 * Buffers the body up to `limit` bytes. Past the limit it stops reading and hands the rest
 * over as a paused stream, so memory stays bounded whatever the origin sends.
 */
function readBody(received: Received, body: Readable, limit: number): Promise<OriginResult> {
  const declared = Number(received.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    body.pause();
    return Promise.resolve({ ...received, kind: 'large', head: [], rest: body });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      chunks.push(chunk);
      if (size > limit) {
        body.pause();
        cleanup();
        resolve({ ...received, kind: 'large', head: chunks, rest: body });
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ ...received, kind: 'full', body: ownCopy(chunks, size) });
    };
    const onError = (err: Error): void => {
      cleanup();
      resolve(classifyOriginError(err, 'body'));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
  });
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
