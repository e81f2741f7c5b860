import type { IncomingMessage } from 'node:http';
import type { CacheSettings, Route } from '../config/types.js';
import type { CacheEntry, HeaderMap, Reason } from '../types.js';
import { NextBatch, type Coalescer } from '../cache/coalescer.js';
import { createEntry } from '../cache/entry.js';
import { decodeBody } from '../cache/compress.js';
import { compressEntry, needsCompression } from './encoding.js';
import type { HitForPass } from '../cache/hit-for-pass.js';
import type { TieredStore } from '../cache/tiered-store.js';
import type { FullResponse, LargeResponse, OriginClient } from '../origin/client.js';
import type { OriginFailure } from '../origin/errors.js';
import {
  parseVary,
  responseDirectives,
  revalidationHeaders,
  storable,
  storableAfter304,
  update304,
  validatorMatches,
  varyValues,
  type PolicyResponse,
} from '../rfc9111/index.js';
import { originHeaders } from './forward-headers.js';

/** Everything a fill needs, detached from the client's response so it can outlive it. */
export interface FillRequest {
  /** The lookup key: coalescing and hit-for-pass work on it. */
  key: string;
  primary: string;
  route: Route;
  settings: CacheSettings;
  origin: string;
  head: boolean;
  target: string;
  req: IncomingMessage;
  host: string;
  /** The stored response being revalidated, if any. */
  stale: CacheEntry | undefined;
  /** Relays interim responses to the client that asked (none for background refreshes). */
  onInfo?: ((status: number, headers: Record<string, string | string[]>) => void) | undefined;
}

export type FillResult =
  /**
   * Stored (and so shareable): `status` is what the origin answered, 200-ish or 304.
   * `remote`: another instance fetched it and this one read it from the shared tier.
   * `persisted` settles when the shared-tier write is done.
   */
  | { kind: 'stored'; entry: CacheEntry; status: number; remote?: boolean; persisted?: Promise<void> }
  /** Fetched in full but not stored, for `reason`. */
  | { kind: 'full'; status: number; statusMessage: string; headers: HeaderMap; body: Buffer; reason: Reason }
  | LargeResponse
  | OriginFailure;

const EMPTY = Buffer.alloc(0);

/** Reasons not to store that come from the request rather than from the response. */
const REQUEST_REASONS = new Set<Reason>(['request-no-store', 'authorization', 'cookie']);
/** Added to a held lease's remaining time before asking again, so the retry finds it lapsed (ms). */
const RETRY_SLACK = 25;

/** Reasons that say the URL itself is uncacheable, so its next requests should not queue. */
const PASS_REASONS = new Set<Reason>(['private', 'no-store', 'set-cookie', 'vary-star', 'no-freshness', 'too-large', 'must-understand']);

export interface FillerDeps {
  origin: OriginClient;
  store: TieredStore;
  hitForPass: HitForPass;
  coalescer: Coalescer<FillResult>;
  /**
   * Lifetime of a fill lease (ms): the holder renews it while its fill runs, so it outlives a
   * holder that died or lost track of it by at most this long.
   */
  lease: number;
  /** How long a request waits for another request's fill before fetching itself (cache.lockTimeout, ms). */
  lockTimeout: () => number;
  /** Each request sent to the origin: its status (undefined when it failed), how long the headers took, and the client request it was for. */
  onOrigin?: (route: string, status: number | undefined, ms: number, req?: IncomingMessage, server?: string) => void;
  /** Reports a background failure; background work never throws. */
  onBackgroundError?: (err: unknown) => void;
}

/** Fetches from the origin and stores what may be stored. */
export class Filler {
  /** Revalidations a request's own directives asked for (no-cache, max-age=0), per key. */
  private readonly revalidations = new NextBatch<FillResult>();

  constructor(private readonly d: FillerDeps) {}

  /**
   * A revalidation the request asked for: shared only by requests that arrived before it was
   * sent (NextBatch). In this process only: a peer's fill may have been sent before this request.
   */
  revalidation(f: FillRequest): { leader: boolean; result: Promise<FillResult> } {
    return this.revalidations.run(f.key, () => this.fetch(f));
  }

  /** One fetch per key at a time; the caller learns whether it led. */
  coalesced(f: FillRequest): { leader: boolean; result: Promise<FillResult> } {
    return this.d.coalescer.run(f.key, () => this.fillShared(f));
  }

  /**
   * The fill across instances: take the key's lease and fetch, or, when another request holds
   * it, wait for its announcement and read what it stored. A waiter asks for the lease again
   * when the holder's lease would lapse (so a dead holder costs at most one lease), and
   * fetches itself after cache.lockTimeout. Without peers, or when they cannot be asked,
   * fetch directly.
   */
  private async fillShared(f: FillRequest): Promise<FillResult> {
    const peers = this.d.store.peers;
    if (peers === undefined || f.head) return this.fetch(f);
    const owner = peers.owner();
    // Real time, not the injected clock: the waits below are real timers, and so are leases.
    const deadline = performance.now() + this.d.lockTimeout();
    let first = true;
    for (;;) {
      const lease = await peers.tryLock(f.key, owner, this.d.lease);
      if (lease.result === 'acquired') return this.lead(f, peers, owner);
      if (lease.result === 'unavailable') {
        // The request may have reached Redis and only its reply been lost: release what may
        // be ours, or leave it to lapse within one lease.
        void peers.unlock(f.key, owner).catch((err: unknown) => this.d.onBackgroundError?.(err));
        return this.fetch(f);
      }
      const left = deadline - performance.now();
      if (left <= 0) return this.fetch(f);
      const peer = await this.waitForPeer(f, Math.min(left, (lease.heldFor ?? this.d.lease) + RETRY_SLACK), first);
      if (peer !== undefined) return peer;
      first = false;
      if (performance.now() >= deadline) return this.fetch(f);
    }
  }

  /** The holder's side: fetch (or adopt a peer's refresh), renewing the lease until the result is shared. */
  private async lead(f: FillRequest, peers: NonNullable<TieredStore['peers']>, owner: string): Promise<FillResult> {
    const lease = this.d.lease;
    const renewal = setInterval(() => {
      peers.renew(f.key, owner, lease).catch((err: unknown) => this.d.onBackgroundError?.(err));
    }, Math.max(1, Math.floor(lease / 3)));
    renewal.unref();
    let result: FillResult;
    try {
      // A refresh first looks in Redis: another instance may have refreshed this key already,
      // and then this one adopts that response instead of asking the origin again.
      const peer = f.stale !== undefined && this.d.store.shared !== undefined ? await this.readPeer(f) : undefined;
      result = peer ?? (await this.fetch(f));
    } catch (err) {
      clearInterval(renewal);
      void peers.unlock(f.key, owner).catch(() => undefined);
      throw err;
    }
    // Waiters read Redis when told, so the write must land before the announcement.
    const persisted = result.kind === 'stored' && result.persisted ? result.persisted : Promise.resolve();
    const entry = result.kind === 'stored' ? result.entry : undefined;
    void persisted
      .then(() => peers.announceFilled(f.key, f.primary, entry === undefined ? undefined : this.latest(f, entry)))
      .finally(() => {
        clearInterval(renewal);
        return peers.unlock(f.key, owner);
      })
      .catch((err: unknown) => this.d.onBackgroundError?.(err));
    return result;
  }

  /** What memory holds for this fill once it is persisted: the compressed entry that replaced `entry`, else `entry`. */
  private latest(f: FillRequest, entry: CacheEntry): CacheEntry {
    const held = this.d.store.lookup(f.primary, f.req.headers).entry;
    return held !== undefined && held.responseTime === entry.responseTime && held.coding !== undefined ? held : entry;
  }

  /** Waits up to `ms` for another request's fill of this key; undefined when nothing usable came of it. */
  private async waitForPeer(f: FillRequest, ms: number, lookFirst: boolean): Promise<FillResult | undefined> {
    const wait = this.d.store.peers!.waitForFill(f.key, ms);
    if (lookFirst) {
      const early = await this.readPeer(f);
      if (early !== undefined) {
        wait.cancel();
        return early;
      }
    }
    await wait.done;
    return this.readPeer(f);
  }

  private async readPeer(f: FillRequest): Promise<FillResult | undefined> {
    // With Redis the fill is read there; from worker peers it arrived with the notice, in memory.
    const store = this.d.store;
    const found = store.shared !== undefined ? await store.lookupShared(f.primary, f.req.headers) : store.lookup(f.primary, f.req.headers);
    const entry = found.entry;
    if (entry === undefined) return undefined;
    // When refreshing, only a response newer than the one being replaced will do.
    if (f.stale !== undefined && entry.responseTime <= f.stale.responseTime) return undefined;
    return { kind: 'stored', entry, status: entry.status, remote: true };
  }

  /**
   * A refresh nobody waits for (stale-while-revalidate, refresh-ahead). Returns false when a
   * fill of the key is already running, which then serves as the refresh.
   */
  background(f: FillRequest): boolean {
    if (this.d.coalescer.has(f.key)) return false;
    this.coalesced(f)
      .result.then((r) => {
        if (r.kind === 'large') r.rest.destroy();
      })
      .catch((err: unknown) => this.d.onBackgroundError?.(err));
    return true;
  }

  /** Never rejects: every failure becomes an OriginFailure result. */
  async fetch(f: FillRequest): Promise<FillResult> {
    const headers = originHeaders(f.req, f.host, true);
    const conditional = f.stale !== undefined && !f.head;
    if (conditional) Object.assign(headers, revalidationHeaders(f.stale!.headers));
    const r = await this.d.origin.fetch({
      upstream: f.route.upstream,
      method: f.head ? 'HEAD' : 'GET',
      target: f.target,
      headers,
      maxBodySize: f.settings.memory.maxEntrySize,
      ...(f.onInfo === undefined ? {} : { onInfo: f.onInfo }),
    });
    this.d.onOrigin?.(f.route.name, r.kind === 'error' ? undefined : r.status, r.kind === 'error' ? 0 : r.responseTime - r.requestTime, f.req, r.kind === 'error' ? undefined : r.server);
    if (r.kind === 'error') return r;
    // cookies: strip also removes what the origin sets: nothing of a session is stored or relayed.
    if (f.route.cookies === 'strip') delete r.headers['set-cookie'];
    if (r.kind === 'large') {
      this.d.hitForPass.mark(f.key);
      return r;
    }
    if (r.status === 304 && conditional) {
      // RFC 9111 §4.3.4: a 304 whose validators do not select the stored response cannot
      // freshen it; ask again without conditions.
      if (!validatorMatches(f.stale!.headers, r.headers)) return this.fetch({ ...f, stale: undefined });
      return this.freshen(f, f.stale!, r);
    }
    if (f.head) return notStored(r, 'method');
    return this.storeResponse(f, r);
  }

  /**
   * RFC 9111 §4.3.4: update the stored response with the 304's fields and new times. A 304
   * cannot widen sharing: when the updated response could no longer be stored (the 304 says
   * private or no-store, or Vary: *) or it varies on other fields than the stored one, the
   * entry is removed, and this client alone gets the updated response.
   */
  private async freshen(f: FillRequest, stored: CacheEntry, r: FullResponse): Promise<FillResult> {
    const headers = update304(stored.headers, r.headers, { shareSetCookie: f.route.unsafeShareSetCookie });
    const updated: PolicyResponse = {
      status: stored.status,
      headers,
      directives: responseDirectives(headers, f.settings.targeted),
      requestTime: r.requestTime,
      responseTime: r.responseTime,
    };
    const verdict = storableAfter304(updated, r.headers, stored.headers, f.req.headers, f.route, f.settings, stored.varyNames);
    if (!verdict.ok) {
      const reason = verdict.reason;
      // What the request forbids (its no-store, its Authorization) leaves the entry as it
      // was; what the origin now says about the response removes it.
      if (!REQUEST_REASONS.has(reason)) void this.d.store.invalidate(f.primary).catch((err: unknown) => this.d.onBackgroundError?.(err));
      if (PASS_REASONS.has(reason)) this.d.hitForPass.mark(f.key);
      // The updated fields describe the origin's bytes: a body larder compressed is answered decoded.
      const body = stored.coding === undefined ? stored.body : await decodeBody(stored.body, stored.coding, f.settings.memory.maxEntrySize);
      if (body === undefined) return this.fetch({ ...f, stale: undefined });
      return { kind: 'full', status: stored.status, statusMessage: stored.statusMessage, headers, body, reason };
    }
    const entry = createEntry({
      route: f.route,
      settings: f.settings,
      status: stored.status,
      statusMessage: stored.statusMessage,
      headers,
      body: stored.body,
      requestTime: r.requestTime,
      responseTime: r.responseTime,
      varyNames: stored.varyNames,
      varyValues: stored.varyValues,
      times: verdict.times,
      keepSetCookie: f.route.unsafeShareSetCookie,
      coding: stored.coding,
    });
    const persisted = this.d.store.store(f.primary, entry, f.route.jitter);
    return { kind: 'stored', entry, status: 304, persisted };
  }

  private storeResponse(f: FillRequest, r: FullResponse): FillResult {
    const verdict = this.assess(f, r, r.body);
    if (typeof verdict === 'string') return this.pass(f, r, verdict);
    // A response to compress is answered and held in memory as it came; the compressed entry
    // replaces it when the thread pool is done, and is what the shared tier receives.
    const persisted = needsCompression(verdict, f.settings)
      ? this.d.store.storeThen(f.primary, verdict, f.route.jitter, compressEntry(verdict, f.settings))
      : this.d.store.store(f.primary, verdict, f.route.jitter);
    this.d.hitForPass.clear(f.key);
    return { kind: 'stored', entry: verdict, status: r.status, persisted };
  }

  /** The entry a response would make, or the reason it must not be stored (rfc9111/policy.ts storable). */
  private assess(f: FillRequest, r: Omit<FullResponse, 'kind' | 'body'>, body: Buffer): CacheEntry | Reason {
    const response: PolicyResponse = {
      status: r.status,
      headers: r.headers,
      directives: responseDirectives(r.headers, f.settings.targeted),
      requestTime: r.requestTime,
      responseTime: r.responseTime,
    };
    const names = mergeNames(f.route.key.headers, parseVary(r.headers['vary']).names);
    const verdict = storable(
      response,
      { headers: f.req.headers, replacing: f.stale !== undefined, replacingStatus: f.stale?.status, varyNames: names },
      f.route,
      f.settings,
    );
    if (!verdict.ok) return verdict.reason;
    return createEntry({
      route: f.route,
      settings: f.settings,
      status: r.status,
      statusMessage: r.statusMessage,
      headers: r.headers,
      body,
      requestTime: r.requestTime,
      responseTime: r.responseTime,
      varyNames: names,
      varyValues: varyValues(names, f.req.headers),
      times: verdict.times,
      keepSetCookie: f.route.unsafeShareSetCookie,
    });
  }

  /**
   * For a response relayed as it streams, without being stored (Handler.forwardMiss): the
   * reason it is not stored, keeping the key's hit-for-pass mark current. A response that
   * could now be stored clears the mark, so the key's next request fills the cache.
   */
  passReason(f: FillRequest, status: number, headers: HeaderMap, requestTime: number, responseTime: number): Reason {
    if (f.head) return 'method';
    const verdict = this.assess(f, { status, statusMessage: '', headers, requestTime, responseTime }, EMPTY);
    if (typeof verdict === 'string') {
      if (PASS_REASONS.has(verdict)) this.d.hitForPass.mark(f.key);
      return verdict;
    }
    if (Number(headers['content-length']) > f.settings.memory.maxEntrySize) {
      this.d.hitForPass.mark(f.key);
      return 'too-large';
    }
    this.d.hitForPass.clear(f.key);
    return 'hit-for-pass';
  }

  private pass(f: FillRequest, r: FullResponse, reason: Reason): FillResult {
    if (PASS_REASONS.has(reason)) this.d.hitForPass.mark(f.key);
    return notStored(r, reason);
  }
}

function notStored(r: FullResponse, reason: Reason): FillResult {
  return { kind: 'full', status: r.status, statusMessage: r.statusMessage, headers: r.headers, body: r.body, reason };
}

/** Route key headers and the response's Vary fields, sorted and without repeats. */
function mergeNames(keyHeaders: readonly string[], vary: readonly string[]): string[] {
  if (keyHeaders.length === 0) return vary as string[];
  return [...new Set([...keyHeaders, ...vary])].sort();
}
