import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config, Route } from '../config/types.js';
import type { CacheEntry, CacheResult, Clock, Reason, Tier } from '../types.js';
import type { RequestKey } from '../cache/key.js';
import { jitterOffset, shouldRefreshEarly } from '../cache/refresh-ahead.js';
import { prepareFor } from '../cache/entry.js';
import { hiddenBy } from '../config/response-fields.js';
import type { Lookup, TieredStore } from '../cache/tiered-store.js';
import type { HitForPass } from '../cache/hit-for-pass.js';
import type { OriginClient } from '../origin/client.js';
import { noHealthyServer } from '../origin/errors.js';
import type { PassThrough } from '../passthrough/proxy.js';
import {
  appendVia,
  clientNotModified,
  evaluate,
  requestDirectives,
  reuseRefused,
  single,
  usableOnError,
  invalidationTargets,
  invalidates,
  NO_REQUEST_DIRECTIVES,
  type RequestDirectives,
} from '../rfc9111/index.js';
import { applyCookiePolicy } from './cookies.js';
import { ErrorCodes, LarderError } from '../errors.js';
import { formatCacheStatus, ttlSeconds, type CacheStatusInfo } from './cache-status.js';
import { errorBytes, writeEntry, writeError, writeFetched, writeForwardedHead, writeInterim, writeNotModified, writeTrailers, type Reply } from './respond.js';
import { originHeaders } from './forward-headers.js';
import type { Filler, FillRequest, FillResult } from './fill.js';
import { resolveRequest, type ResolvedRequest } from './target.js';
import type { ErrorAnswer } from './respond.js';
import { choose, normaliseAcceptEncoding, representationFields, withFields, writeRecoded, type Choice } from './encoding.js';

/** One value per request: what happened, for headers, metrics and logs. */
export interface Outcome {
  route: string;
  result: CacheResult;
  /** The tier that answered a hit or a stale answer. */
  tier?: Tier | undefined;
  /** Why the response was not stored or the cache was bypassed. */
  reason?: Reason | undefined;
  /** A stale entry was served: within stale-while-revalidate, by max-stale, or for a failing origin. */
  stale?: 'revalidate' | 'max-stale' | 'error' | undefined;
  /** The request waited for another request's fill instead of going to the origin itself. */
  collapsed?: boolean | undefined;
  status: number;
  /** From the request's arrival to the response handed to the socket, in ms. */
  ms: number;
  method: string;
}

export interface HandlerDeps {
  config: () => Config;
  clock: Clock;
  store: TieredStore;
  origin: OriginClient;
  pass: PassThrough;
  hitForPass: HitForPass;
  filler: Filler;
  /** Once per request, with the request and response it describes (for access logs). */
  onOutcome?: (o: Outcome, req: IncomingMessage, res: ServerResponse) => void;
  /** Unexpected errors on the request path (bugs); the client gets a 502. */
  onError?: (err: unknown) => void;
  /** Pass-through requests to the origin, for metrics and access logs. */
  onOrigin?: (route: string, status: number | undefined, ms: number, req?: IncomingMessage, server?: string) => void;
  /** A hit started an early (refresh-ahead) background refresh. */
  onEarlyRefresh?: (route: string) => void;
  /** Uniform random numbers in [0, 1), for XFetch; injectable so tests can seed it. */
  random: () => number;
}

/**
 * The per-request state every step reads; `headers` and `cc` are what the policy reads of the
 * request. It is also the request's Reply (respond.ts): debug fields shown or not, the route's
 * hidden response fields, and the X-Cache-Hits figure once an entry answers.
 */
interface Ctx extends Reply {
  req: IncomingMessage;
  res: ServerResponse;
  headers: IncomingMessage['headers'];
  config: Config;
  route: Route;
  host: string;
  key: RequestKey;
  head: boolean;
  cc: RequestDirectives;
  now: number;
  /** The shared tier was skipped or failing when this request looked for an entry. */
  sharedDown?: boolean;
  /** performance.now() at arrival, for the request duration. */
  t0: number;
  /** The client's own Accept-Encoding (the request's was normalised, see encoding.ts): what it is served. */
  accept: unknown;
}

/**
 * The request state machine: recv → key → lookup → decide → HIT | STALE | REVALIDATE | MISS,
 * or PASS for what the cache does not handle. Each step is a method below.
 */
export class Handler {
  constructor(private readonly d: HandlerDeps) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const t0 = performance.now();
    const config = this.d.config();
    const debug = takeDebug(req, config.debugHeaders);
    const method = req.method ?? 'GET';
    const r = resolveRequest(config, method, req.headers.host ?? '', req.url ?? '/');
    if ('problem' in r) {
      // Nothing is routed yet: the refusal is counted under the default route.
      const refused = { route: config.defaultRoute, req, res, t0, debug };
      return this.error(refused, new LarderError(ErrorCodes.BAD_REQUEST, r.problem), 'BYPASS', formatCacheStatus({ fwd: 'bypass' }));
    }
    const route = r.route;
    // The route's cookies policy, before anything is keyed or forwarded (http/cookies.ts).
    if (route.cookies !== 'keep') applyCookiePolicy(req.headers, route.cookies);
    if (method !== 'GET' && method !== 'HEAD') return this.pass(req, res, r, 'method', t0, debug);
    if (!route.cache) return this.pass(req, res, r, 'route-off', t0, debug);
    // Before anything reads the request's fields: variant selection and the origin see one value.
    const accept = normaliseAcceptEncoding(req.headers);

    const ctx: Ctx = {
      req,
      res,
      headers: req.headers,
      config,
      route,
      host: r.host,
      key: r.key,
      head: method === 'HEAD',
      // clientDirectives: ignore reads no request Cache-Control or Pragma (they are still forwarded).
      cc: route.clientDirectives === 'ignore' ? NO_REQUEST_DIRECTIVES : requestDirectives(req.headers),
      now: this.d.clock.now(),
      t0,
      debug,
      hidden: route.responseHeaders,
      hits: 0,
      accept,
    };
    this.lookup(ctx);
  };

  /**
   * A request the server refused before handing it over (framing, Host, target, size): the
   * answer closes the connection, and is counted under the default route.
   */
  readonly refuse = (req: IncomingMessage, res: ServerResponse, problem: LarderError): void => {
    const config = this.d.config();
    const refused = { route: config.defaultRoute, req, res, t0: performance.now(), debug: takeDebug(req, config.debugHeaders) };
    this.error(refused, problem, 'BYPASS', formatCacheStatus({ fwd: 'bypass' }));
  };

  /** Protocol upgrades (WebSocket) always pass through, to the origin of the matching route. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    takeDebug(req, 'never');
    const r = resolveRequest(this.d.config(), req.method ?? 'GET', req.headers.host ?? '', req.url ?? '/');
    if ('problem' in r) {
      socket.on('error', () => socket.destroy());
      socket.end(errorBytes(400, new LarderError(ErrorCodes.BAD_REQUEST, r.problem)));
      return;
    }
    const lease = this.d.origin.lease(r.route.upstream);
    if (lease === undefined) {
      socket.on('error', () => socket.destroy());
      socket.end(errorBytes(502, new LarderError(ErrorCodes.ORIGIN_UNREACHABLE, noHealthyServer(r.route.upstream.name).message)));
      return;
    }
    asResolved(req, r, lease.host);
    // An upgraded connection lives on: it counts as an answer once handed over.
    lease.done('ok');
    this.d.pass.upgrade(req, socket, head, lease.url, lease.tls);
  };

  /** Looks the key up in memory, then (on a miss) in the shared tier. */
  private lookup(ctx: Ctx): void {
    const found = this.d.store.lookup(ctx.key.primary, ctx.req.headers);
    if (found.entry !== undefined || this.d.store.shared === undefined) return this.decide(ctx, found);
    this.d.store.lookupSharedThen(
      ctx.key.primary,
      ctx.req.headers,
      (remote) => {
        ctx.now = this.d.clock.now();
        this.decide(ctx, remote);
      },
      (err: unknown) => this.fail(ctx, err),
    );
  }

  /** Asks the policy what the entry (if any) is good for this request, and acts on it. */
  private decide(ctx: Ctx, found: Lookup): void {
    const entry = found.entry;
    if (entry === undefined && this.d.store.shared !== undefined && this.d.store.shared.store.state() !== 'up') ctx.sharedDown = true;
    if (entry !== undefined) {
      const decision = evaluate(entry, ctx, ctx.now);
      switch (decision.kind) {
        case 'HIT':
          return this.serveHit(ctx, entry, found.tier, found.key);
        case 'STALE':
          if (decision.why === 'revalidate') this.d.filler.background(this.fillRequest(ctx, found.key, entry, false));
          return this.serveStale(ctx, entry, found.tier, decision.why === 'revalidate' ? 'stale-while-revalidate' : 'max-stale');
        case 'REVALIDATE':
          return this.missSafely(ctx, found.key, entry);
        case 'MISS':
          // Refused for a Cookie the entry's freshness may not answer: fetch without it, so the
          // stored response is neither revalidated nor replaced on this request's account.
          if (decision.why === 'cookie') return this.missSafely(ctx, found.key, undefined);
          break;
      }
    }
    if (ctx.cc.onlyIfCached) {
      // RFC 9111 §5.2.1.7: with only-if-cached and nothing usable stored, answer 504.
      return this.error(ctx, new LarderError(ErrorCodes.NOT_CACHED), 'MISS', formatCacheStatus({ fwd: 'miss', detail: 'no-freshness' }));
    }
    this.missSafely(ctx, found.key, entry);
  }

  /** Last resort for a bug on the request path: a clean 502, never a crash or a hung client. */
  private fail(ctx: Ctx, err: unknown): void {
    this.d.onError?.(err);
    this.error(ctx, new LarderError(ErrorCodes.INTERNAL), 'MISS', formatCacheStatus({ fwd: 'miss' }));
  }

  private serveHit(ctx: Ctx, entry: CacheEntry, tier: Tier | undefined, key: string): void {
    const early = (ctx.route.earlyRefresh > 0 || ctx.route.jitter > 0) && this.refreshEarly(ctx, entry, key);
    const cs = formatCacheStatus({ hit: true, ttl: ttlSeconds(entry.freshUntil, ctx.now), detail: early ? 'early-refresh' : undefined }, entry.headers['cache-status']);
    this.serveEntry(ctx, entry, 'HIT', cs, tier);
  }

  /**
   * Refresh-ahead: past the entry's jittered refresh point, or when XFetch's dice say so,
   * start a background refresh (coalesced, and locked across instances) while still
   * answering from the fresh entry. Returns whether this request started one.
   */
  private refreshEarly(ctx: Ctx, entry: CacheEntry, key: string): boolean {
    const expiry = entry.freshUntil - jitterOffset(entry, ctx.key.primary, ctx.route.jitter);
    if (!shouldRefreshEarly(ctx.now, entry, expiry, ctx.route.earlyRefresh, this.d.random)) return false;
    if (!this.d.filler.background(this.fillRequest(ctx, key, entry, false))) return false;
    this.d.onEarlyRefresh?.(ctx.route.name);
    return true;
  }

  private serveStale(ctx: Ctx, entry: CacheEntry, tier: Tier | undefined, detail: CacheStatusInfo['detail']): void {
    const cs = formatCacheStatus({ hit: true, ttl: ttlSeconds(entry.freshUntil, ctx.now), detail }, entry.headers['cache-status']);
    this.serveEntry(ctx, entry, 'STALE', cs, tier, undefined, detail === 'max-stale' ? 'max-stale' : 'revalidate');
  }

  /** Writes an entry, or a 304 when the client's own condition holds (RFC 9111 §4.3.2). */
  private serveEntry(
    ctx: Ctx,
    entry: CacheEntry,
    result: CacheResult,
    cs: string,
    tier: Tier | undefined,
    reason?: Reason,
    stale?: Outcome['stale'],
    collapsed?: boolean,
  ): void {
    prepareFor(entry, ctx.route.responseHeaders, ctx.config.cache.targeted);
    // X-Cache-Hits: the answers this entry gave in this instance; a MISS is answered by a new one.
    if (result !== 'MISS') ctx.hits = entry.hits = (entry.hits ?? 0) + 1;
    // Each client gets the representation it accepts; conditions and ranges apply to that one.
    const choice = choose(entry, ctx.accept, ctx.config.cache.compression);
    const h = ctx.req.headers;
    const fields = h['if-none-match'] === undefined && h['if-modified-since'] === undefined ? undefined : representationFields(entry, choice);
    const notModified = fields !== undefined && clientNotModified(h, entry.status, fields, entry.responseTime);
    if (notModified) writeNotModified(ctx.res, withFields(entry, fields), ctx.now, result, cs, ctx);
    else if (choice.kind === 'recode') this.writeRecoded(ctx, entry, choice, result, cs);
    else {
      const served = choice.kind === 'copy' ? choice.view : entry;
      if (served !== entry) prepareFor(served, ctx.route.responseHeaders, ctx.config.cache.targeted);
      writeEntry(ctx.res, served, ctx.now, result, cs, ctx, ctx.head, single(h.range), single(h['if-range']));
    }
    // One plain object per request, no spreads: this runs on every hit.
    this.d.onOutcome?.({
      route: ctx.route.name,
      result,
      tier,
      reason,
      stale,
      collapsed,
      status: notModified ? 304 : entry.status,
      ms: performance.now() - ctx.t0,
      method: ctx.req.method ?? 'GET',
    }, ctx.req, ctx.res);
  }

  /** The entry recoded for a client that does not accept its coding; the copy is kept with it, charged to memory. */
  private writeRecoded(ctx: Ctx, entry: CacheEntry, choice: Extract<Choice, { kind: 'recode' }>, result: CacheResult, cs: string): void {
    writeRecoded({
      res: ctx.res,
      entry,
      choice,
      reply: ctx,
      now: ctx.now,
      xCache: result,
      cacheStatus: cs,
      head: ctx.head,
      settings: ctx.config.cache,
      charge: (bytes) => this.d.store.charge(ctx.key.primary, entry, bytes),
    });
  }

  private missSafely(ctx: Ctx, key: string, stale: CacheEntry | undefined): void {
    // Nothing will be stored (HEAD, request no-store) or the key answered uncacheable a moment
    // ago: relay the response as it streams instead of buffering it (no promise involved).
    if (stale === undefined && (ctx.head || ctx.cc.noStore || this.d.hitForPass.has(key))) {
      try {
        return this.forwardMiss(ctx, this.fillRequest(ctx, key, undefined));
      } catch (err) {
        return this.fail(ctx, err);
      }
    }
    this.miss(ctx, key, stale).catch((err: unknown) => this.fail(ctx, err));
  }

  /**
   * Goes to the origin through the coalescer, unless the key recently answered uncacheable
   * (hit-for-pass) or the request insists on its own answer (see missSafely for what is
   * relayed as it streams).
   */
  private async miss(ctx: Ctx, key: string, stale: CacheEntry | undefined): Promise<void> {
    const fill = this.fillRequest(ctx, key, stale);
    const alone = ctx.head || ctx.cc.noStore || this.d.hitForPass.has(key);
    let result: FillResult;
    let collapsed = false;
    if (alone) {
      result = await this.d.filler.fetch(fill);
    } else {
      // A request's no-cache or max-age=0 shares only a revalidation sent after it arrived.
      const run = ctx.cc.noCache || ctx.cc.maxAge === 0 ? this.d.filler.revalidation(fill) : this.d.filler.coalesced(fill);
      result = await run.result;
      collapsed = !run.leader || (result.kind === 'stored' && result.remote === true);
      if (collapsed && !this.shareable(ctx, result)) {
        // RFC 9111 §4: a follower may only reuse what a shared cache could have stored for it.
        // The leader's response varied: followers now queue on their own variant's key, so a
        // cold URL costs one origin request per variant (one per coding for Accept-Encoding).
        const variant = this.d.store.lookup(ctx.key.primary, ctx.req.headers).key;
        collapsed = false;
        if (variant === key) {
          result = await this.d.filler.fetch(fill);
        } else {
          const again = this.d.filler.coalesced({ ...fill, key: variant });
          result = await again.result;
          collapsed = !again.leader || (result.kind === 'stored' && result.remote === true);
          if (collapsed && !this.shareable(ctx, result)) {
            result = await this.d.filler.fetch(fill);
            collapsed = false;
          }
        }
      }
    }
    if (ctx.res.destroyed) {
      if (result.kind === 'large') result.rest.destroy();
      return;
    }
    this.respondFill(ctx, result, stale, collapsed);
  }

  /** A MISS relayed as it streams (see miss()); failures before the response head get an error. */
  private forwardMiss(ctx: Ctx, fill: FillRequest): void {
    const { res, route } = ctx;
    const fwd: CacheStatusInfo['fwd'] = ctx.cc.noCache ? 'request' : 'uri-miss';
    this.d.origin.forward(
      {
        upstream: route.upstream,
        method: ctx.head ? 'HEAD' : 'GET',
        target: ctx.key.target,
        headers: originHeaders(ctx.req, ctx.host, true),
        onInfo: fill.onInfo,
      },
      {
        open: (status, headers, sent, received, server) => {
          this.d.onOrigin?.(route.name, status, received - sent, ctx.req, server);
          if (route.cookies === 'strip') delete headers['set-cookie'];
          const reason = this.d.filler.passReason(fill, status, headers, sent, received);
          const cs = formatCacheStatus({ fwd, fwdStatus: status, detail: reason }, headers['cache-status']);
          this.finish(ctx, 'MISS', status, () => writeForwardedHead(res, status, headers, 'MISS', cs, ctx, ctx.config.cache.targeted), reason);
          return res;
        },
        trailers: (fields) => writeTrailers(res, fields, ctx.hidden),
        failed: (failure) => {
          this.d.onOrigin?.(route.name, undefined, 0);
          if (!res.destroyed) this.respondFill(ctx, failure, undefined, false);
        },
      },
    );
  }

  /** A fill's result answers this request only if the policy's reuse checks (Authorization, Vary) pass. */
  private shareable(ctx: Ctx, result: FillResult): boolean {
    return result.kind === 'stored' && reuseRefused(result.entry, ctx.headers) === undefined;
  }

  private fillRequest(ctx: Ctx, key: string, stale: CacheEntry | undefined, relayInterim = true): FillRequest {
    const res = ctx.res;
    return {
      onInfo: relayInterim ? (status: number, headers: Record<string, string | string[]>) => writeInterim(res, status, headers, ctx.hidden) : undefined,
      key,
      primary: ctx.key.primary,
      route: ctx.route,
      settings: ctx.config.cache,
      origin: ctx.route.origin,
      head: ctx.head,
      target: ctx.key.target,
      req: ctx.req,
      host: ctx.host,
      stale,
    };
  }

  /** Turns what the origin said into the client's response. */
  private respondFill(ctx: Ctx, result: FillResult, stale: CacheEntry | undefined, collapsed: boolean): void {
    const fwd: CacheStatusInfo['fwd'] = ctx.cc.noCache ? 'request' : stale !== undefined ? 'stale' : 'uri-miss';
    const now = this.d.clock.now();
    switch (result.kind) {
      case 'stored': {
        const entry = result.entry;
        const revalidated = result.status === 304;
        const xc: CacheResult = revalidated ? 'REVALIDATED' : 'MISS';
        const cs = formatCacheStatus(
          {
            fwd,
            ...(result.remote ? {} : { fwdStatus: result.status, stored: true }),
            collapsed,
            ttl: ttlSeconds(entry.freshUntil, now),
            ...(ctx.sharedDown ? { detail: 'redis-down' as const } : {}),
          },
          entry.headers['cache-status'],
        );
        ctx.now = now;
        return this.serveEntry(ctx, entry, xc, cs, result.remote ? 'redis' : undefined, undefined, undefined, collapsed);
      }
      case 'full': {
        if (stale !== undefined && result.status >= 500 && usableOnError(stale, ctx.cc, now)) {
          return this.serveStaleOnError(ctx, stale, result.status, now);
        }
        const cs = formatCacheStatus({ fwd, fwdStatus: result.status, detail: result.reason }, result.headers['cache-status']);
        const write = (): void =>
          writeFetched(ctx.res, result.status, result.statusMessage, result.headers, ctx.head ? undefined : result.body, 'MISS', cs, ctx, ctx.head, ctx.config.cache.targeted);
        return this.finish(ctx, 'MISS', result.status, write, result.reason);
      }
      case 'large': {
        const cs = formatCacheStatus({ fwd, fwdStatus: result.status, detail: 'too-large' }, result.headers['cache-status']);
        return this.finish(ctx, 'MISS', result.status, () => this.streamLarge(ctx, result, cs), 'too-large');
      }
      case 'error': {
        if (stale !== undefined && usableOnError(stale, ctx.cc, now)) return this.serveStaleOnError(ctx, stale, undefined, now);
        return this.error(ctx, result, 'MISS', formatCacheStatus({ fwd, detail: 'origin-error' }), 'origin-error');
      }
    }
  }

  /** RFC 5861 §4: within stale-if-error, a failing origin is answered with the stored response. */
  private serveStaleOnError(ctx: Ctx, stale: CacheEntry, fwdStatus: number | undefined, now: number): void {
    ctx.now = now;
    const cs = formatCacheStatus(
      { fwd: 'stale', ...(fwdStatus === undefined ? {} : { fwdStatus }), ttl: ttlSeconds(stale.freshUntil, now), detail: 'stale-if-error' },
      stale.headers['cache-status'],
    );
    this.serveEntry(ctx, stale, 'STALE', cs, undefined, 'origin-error', 'error');
  }

  private streamLarge(ctx: Ctx, result: Extract<FillResult, { kind: 'large' }>, cs: string): void {
    const { res } = ctx;
    // The origin's Content-Length: the body is relayed byte for byte.
    writeForwardedHead(res, result.status, result.headers, 'MISS', cs, ctx, ctx.config.cache.targeted, result.statusMessage);
    if (ctx.head) {
      result.rest.destroy();
      res.end();
      return;
    }
    for (const chunk of result.head) res.write(chunk);
    // A body that fails half-way must not look complete to the client: abort the connection.
    result.rest.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) result.rest.destroy();
    });
    result.rest.pipe(res);
  }

  /**
   * Every error answer on the proxy listener goes out here: the plain-text body of respond.ts
   * and one Outcome. Nothing is counted when the response had already started (it was
   * counted then; writeError aborts it).
   */
  private error(ctx: Pick<Ctx, 'route' | 'req' | 'res' | 't0' | 'debug'>, e: ErrorAnswer, result: CacheResult, cacheStatus: string, reason?: Reason): void {
    this.finish(ctx, result, e.status, () => writeError(ctx.res, e, result, cacheStatus, ctx.debug), reason);
  }

  /** Writes, then emits the request's one Outcome unless `write` says nothing was answered. */
  private finish(ctx: Pick<Ctx, 'route' | 'req' | 'res' | 't0'>, result: CacheResult, status: number, write: () => boolean | void, reason?: Reason): void {
    if (write() === false) return;
    this.d.onOutcome?.({
      route: ctx.route.name,
      result,
      reason,
      status,
      ms: performance.now() - ctx.t0,
      method: ctx.req.method ?? 'GET',
    }, ctx.req, ctx.res);
  }

  /** Streams what the cache does not handle; invalidates after a successful unsafe method. */
  private pass(req: IncomingMessage, res: ServerResponse, r: ResolvedRequest, reason: Reason, t0: number, debug: boolean): void {
    const method = req.method ?? 'GET';
    const route = r.route;
    if (method === 'GET' || method === 'HEAD') return this.forwardPass(req, res, r, reason, t0, method, debug);
    const lease = this.d.origin.lease(route.upstream);
    if (lease === undefined) {
      this.d.onOrigin?.(route.name, undefined, 0);
      return this.error({ route, req, res, t0, debug }, noHealthyServer(route.upstream.name), 'BYPASS', formatCacheStatus({ fwd: 'bypass', detail: 'origin-error' }), 'origin-error');
    }
    asResolved(req, r, lease.host);
    res.once('close', () => lease.done('neutral'));
    const cs = (status: number): string => formatCacheStatus({ fwd: 'bypass', fwdStatus: status, detail: reason });
    const hide = hiddenBy(route.responseHeaders);
    this.d.pass.web(req, res, {
      target: lease.url,
      tls: lease.tls,
      // The cache report is larder's alone; the route's hidden fields are for caches only.
      drop: (name) => REPORT_FIELDS.has(name) || hide(name),
      responseHeaders: (resp): Record<string, string> => {
        // RFC 9110 §7.6.3: a proxy adds its Via member to what it forwards, both ways.
        const via = appendVia(resp.headers.via);
        return debug ? { 'x-cache': 'BYPASS', 'cache-status': cs(resp.status), 'x-cache-hits': '0', via } : { via };
      },
      onResponse: (resp) => {
        lease.done('ok');
        this.d.onOrigin?.(route.name, resp.status, performance.now() - t0, req, lease.url);
        if (invalidates(method, this.d.config().security.invalidateOnUnknownMethods)) this.invalidateAfter(r, resp.status, resp.headers as Record<string, string | string[]>);
        this.d.onOutcome?.({ route: route.name, result: 'BYPASS', reason, status: resp.status, ms: performance.now() - t0, method }, req, res);
      },
      onError: (failure, cause) => {
        lease.done(passOutcome(cause));
        this.d.onOrigin?.(route.name, undefined, performance.now() - t0);
        this.error({ route, req, res, t0, debug }, failure, 'BYPASS', formatCacheStatus({ fwd: 'bypass', detail: 'origin-error' }), 'origin-error');
      },
    });
  }

  /**
   * GET and HEAD on a route that does not cache: relayed with undici's stream API, which is
   * several times cheaper than http-proxy-3 (see bench/). Bodies and upgrades still go there.
   */
  private forwardPass(req: IncomingMessage, res: ServerResponse, r: ResolvedRequest, reason: Reason, t0: number, method: 'GET' | 'HEAD', debug: boolean): void {
    const route = r.route;
    const reply: Reply = { debug, hidden: route.responseHeaders, hits: 0 };
    this.d.origin.forward(
      { upstream: route.upstream, method, target: r.target, headers: originHeaders(req, r.host, false) },
      {
        open: (status, headers, sent, received, server) => {
          this.d.onOrigin?.(route.name, status, received - sent, req, server);
          const cs = formatCacheStatus({ fwd: 'bypass', fwdStatus: status, detail: reason }, headers['cache-status']);
          writeForwardedHead(res, status, headers, 'BYPASS', cs, reply);
          this.d.onOutcome?.({ route: route.name, result: 'BYPASS', reason, status, ms: performance.now() - t0, method }, req, res);
          return res;
        },
        trailers: (fields) => writeTrailers(res, fields, route.responseHeaders),
        failed: (f) => {
          this.d.onOrigin?.(route.name, undefined, performance.now() - t0);
          if (res.destroyed) return;
          this.error({ route, req, res, t0, debug }, f, 'BYPASS', formatCacheStatus({ fwd: 'bypass', detail: 'origin-error' }), 'origin-error');
        },
      },
    );
  }

  /**
   * RFC 9111 §4.4: invalidate the target URI, and Location / Content-Location on the same
   * origin. Each goes through the resolver, so it finds exactly the key a GET of it stored.
   */
  private invalidateAfter(r: ResolvedRequest, status: number, headers: Record<string, string | string[]>): void {
    const config = this.d.config();
    for (const t of invalidationTargets({ host: r.host, target: r.target }, status, headers)) {
      // Resolved as a GET, as the request that stored the entry was: a route may be limited to
      // some methods and key its query differently.
      const resolved = resolveRequest(config, 'GET', t.host, t.target);
      if ('problem' in resolved) continue;
      this.d.store.invalidate(resolved.key.primary);
    }
  }
}

/** The response fields of larder's cache report: never relayed from an origin. */
const REPORT_FIELDS: ReadonlySet<string> = new Set(['x-cache', 'cache-status', 'x-cache-hits']);

/**
 * Whether the request may see the debug fields (X-Cache, Cache-Status, X-Cache-Hits) under
 * `debugHeaders`. Larder-Debug is removed from the request whatever the mode, before anything
 * keys or forwards it (also as Larder_Debug, which some origins read as the same field).
 */
function takeDebug(req: IncomingMessage, mode: Config['debugHeaders']): boolean {
  const headers = req.headers;
  const shown = headers['larder-debug'];
  if (shown !== undefined) delete headers['larder-debug'];
  if (headers['larder_debug'] !== undefined) delete headers['larder_debug'];
  if (typeof mode === 'string') return mode === 'always';
  return typeof shown === 'string' && sameSecret(shown, mode.token);
}

/** Constant-time comparison whatever the lengths: the SHA-256 digests of both are compared. */
function sameSecret(given: string, token: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/**
 * What the pass-through (http-proxy-3) forwards is read from the request itself: point it at
 * the resolved target and authority, so the origin acts on what was routed and keyed.
 */
function asResolved(req: IncomingMessage, r: ResolvedRequest, upstreamHost?: string): void {
  req.url = r.target;
  if (upstreamHost !== undefined) req.headers.host = upstreamHost;
  else if (r.host !== '') req.headers.host = r.host;
}

/** What a pass-through failure says of the server: a refused or timed-out connect marks it down. */
function passOutcome(cause: unknown): 'connect' | 'neutral' {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' ? 'connect' : 'neutral';
}
