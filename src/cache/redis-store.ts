import { Cluster, Redis } from 'ioredis';
import type { CacheEntry, Clock, StoredValue } from '../types.js';
import { isVaryIndex } from '../types.js';
import type { Breaker } from './breaker.js';
import type { EntryCipher } from './crypto.js';
import { decode, encode, FORMAT_VERSION } from './codec.js';
import { variantKey } from './key.js';
import { checkPrefix, indexKey, lockKey, purgeRulesKey, redisKey, variantRedisKey } from './redis-keys.js';
import type { CacheStore } from './store.js';

export type RedisClient = Redis | Cluster;

/** Operations reported through `onError`; 'decode' is a value that was read but is not ours. */
export type RedisOp = 'get' | 'set' | 'delete' | 'deletePrimary' | 'lock' | 'unlock' | 'publish' | 'subscribe' | 'decode';

/** up: commands go through; down: the connection is not ready; breaker-open: Redis is skipped. */
export type RedisState = 'up' | 'down' | 'breaker-open';

export type LockResult = 'acquired' | 'held' | 'unavailable';

/** The answer to a lease request: `heldFor` is how long another holder's lease has left (ms), when known. */
export interface LeaseAnswer {
  result: LockResult;
  heldFor?: number;
}

export interface RedisStoreOptions {
  client: RedisClient;
  /** Prepended to every key and channel, so several larders (or other programs) can share a Redis. */
  prefix: string;
  clock: Clock;
  breaker: Breaker;
  /**
   * Longest any operation may take, in ms. Defaults to the client's command timeout
   * (commandTimeoutOf). The store enforces it itself, on every call: a client made by
   * createRedisClient for one server sets no timer of its own per command, and a Cluster may
   * spend longer than one command timeout on redirections and retries.
   */
  timeout?: number;
  onError?: (op: RedisOp, err: unknown) => void;
  /** Encrypts entries at rest (cache.redis.encryption); absent: entries are stored in the clear. */
  cipher?: EntryCipher;
}

/** Compare-and-delete: only the owner that took a lock may release it. */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Take the lease (answers ACQUIRED), or say how long the current holder's lease has left in ms
 * (PTTL: -1 for a key without expiry).
 */
const ACQUIRE_SCRIPT = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -10 end
return redis.call('PTTL', KEYS[1])`;

const ACQUIRED = -10;

/**
 * Lua helpers shared by the write scripts: read a vary index frame (see codec.ts) written for
 * primary ARGV `primary`, and build one. An index is plain JSON metadata after a 10-byte
 * header, so a script can update it in place; entries may be encrypted and are never parsed.
 */
const LUA_INDEX = `
local function readIndex(raw, version, primary)
  if type(raw) ~= 'string' or string.len(raw) < 10 or string.sub(raw, 1, 4) ~= 'LRDR' then return nil end
  if string.byte(raw, 5) ~= version or string.byte(raw, 6) ~= 2 then return nil end
  local ok, meta = pcall(cjson.decode, string.sub(raw, 11))
  if not ok or type(meta) ~= 'table' or meta.k ~= primary then return nil end
  if type(meta.varyNames) ~= 'table' or type(meta.variants) ~= 'table' then return nil end
  return meta
end
local function frameIndex(version, names, variants, primary)
  local json = cjson.encode({ v = 1, kind = 'vary', varyNames = names, variants = variants, k = primary })
  local n = string.len(json)
  return 'LRDR' .. string.char(version, 2, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) .. json
end
local function sameList(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end
`;

/**
 * Stores a variant and updates its primary's vary index in one step, so concurrent writers
 * can neither lose each other's ids nor leave variants the index no longer lists.
 * KEYS: index, variant. ARGV: entry bytes, variant id, maxVariants, ttl (ms), vary names
 * (JSON), primary, variant key prefix, format version. Answers the index's variant ids.
 */
const STORE_VARIANT_SCRIPT = `${LUA_INDEX}
local version = tonumber(ARGV[8])
local names = cjson.decode(ARGV[5])
local current = readIndex(redis.call('GET', KEYS[1]), version, ARGV[6])
local variants = {}
local dropped = {}
local keepTtl = 0
if current then
  if sameList(current.varyNames, names) then
    for _, v in ipairs(current.variants) do if v ~= ARGV[2] then table.insert(variants, v) end end
    keepTtl = redis.call('PTTL', KEYS[1])
  else
    for _, v in ipairs(current.variants) do table.insert(dropped, v) end
  end
end
table.insert(variants, ARGV[2])
local max = tonumber(ARGV[3])
while #variants > max do table.insert(dropped, table.remove(variants, 1)) end
local ttl = tonumber(ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
for _, v in ipairs(dropped) do if v ~= ARGV[2] then redis.call('DEL', ARGV[7] .. v) end end
if keepTtl > ttl then ttl = keepTtl end
redis.call('SET', KEYS[1], frameIndex(version, names, variants, ARGV[6]), 'PX', ttl)
return variants`;

/**
 * Stores an entry that does not vary under its primary key; when an index was there, its
 * variants are deleted with it. KEYS: index. ARGV: entry bytes, ttl (ms), primary, variant key
 * prefix, format version.
 */
const STORE_PLAIN_SCRIPT = `${LUA_INDEX}
local version = tonumber(ARGV[5])
local head = redis.pcall('GETRANGE', KEYS[1], 0, 9)
if type(head) == 'string' and string.len(head) == 10 and string.byte(head, 6) == 2 then
  local current = readIndex(redis.call('GET', KEYS[1]), version, ARGV[3])
  if current then for _, v in ipairs(current.variants) do redis.call('DEL', ARGV[4] .. v) end end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1`;

/** Compare-and-extend: only the holder may renew its lease. */
const RENEW_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

const DEFAULT_TIMEOUT = 1000;

/** Marks an operation that did not reach Redis or did not answer in time. */
const FAILED: unique symbol = Symbol('failed');

/**
 * The L2 tier: values encoded with `codec` under slot-tagged keys (see redis-keys.ts).
 *
 * Nothing here throws or waits longer than the timeout: a fault is a miss or a dropped
 * write, counted by the breaker and reported through `onError`. While the breaker is
 * open, operations return at once without touching the network.
 */
export class RedisStore implements CacheStore {
  readonly tier = 'redis' as const;
  readonly prefix: string;
  private readonly client: RedisClient;
  private readonly breaker: Breaker;
  private readonly timeout: number;
  /** Fails every call still waiting once `timeout` has passed since it started (see Deadlines). */
  private readonly deadlines: Deadlines;
  private readonly onError: ((op: RedisOp, err: unknown) => void) | undefined;
  private readonly cipher: EntryCipher | undefined;
  private readonly stateListeners = new Set<(state: RedisState, previous: RedisState) => void>();
  private lastState: RedisState;
  private readonly detach: Array<() => void> = [];

  constructor(opts: RedisStoreOptions) {
    checkPrefix(opts.prefix);
    this.client = opts.client;
    this.prefix = opts.prefix;
    this.breaker = opts.breaker;
    this.timeout = opts.timeout ?? commandTimeoutOf(opts.client) ?? DEFAULT_TIMEOUT;
    this.deadlines = new Deadlines(this.timeout, (w) =>
      (w.resolve as (value: unknown) => void)(w.out(this.failed(w.op, new Error(`Redis ${w.op} took longer than ${this.timeout} ms`)))),
    );
    this.onError = opts.onError;
    this.cipher = opts.cipher;
    this.lastState = this.state();
    const refresh = (): void => this.refreshState();
    this.detach.push(this.breaker.onChange(refresh));
    for (const event of ['ready', 'close', 'end', 'reconnecting', 'connect'] as const) {
      this.client.on(event, refresh);
      this.detach.push(() => this.client.off(event, refresh));
    }
  }

  /** The value under `key`, or undefined (a miss, a fault, or a value that does not decode). Never rejects. */
  get(key: string): Promise<StoredValue | undefined> {
    const rkey = redisKey(this.prefix, key);
    // The reply is decoded as the call settles (run's `then`), not in a promise of its own:
    // this runs on every L2 hit, and each layer costs a promise and a turn of the microtask queue.
    return this.run('get', () => this.client.getBuffer(rkey), (buf) => this.decoded(buf, key, rkey));
  }

  /** A GET's reply as a value (see get); FAILED and null are a miss. */
  private decoded(buf: Buffer | null | typeof FAILED, key: string, rkey: string): StoredValue | undefined {
    if (buf === FAILED || buf === null) return undefined;
    const value = decode(buf, key, this.cipher);
    if (value === undefined) this.report('decode', new Error(`undecodable value under ${rkey} (${buf.length} bytes), or one written for another key`));
    return value;
  }

  async set(key: string, value: StoredValue, ttl: number): Promise<void> {
    if (!(ttl > 0)) return this.delete(key);
    if (!Number.isFinite(ttl)) {
      // Every key must expire: Redis is shared and never scanned for leftovers.
      this.report('set', new Error(`refusing to store ${key} without a finite TTL`));
      return;
    }
    const rkey = redisKey(this.prefix, key);
    let buf: Buffer;
    try {
      buf = encode(value, key, this.cipher);
    } catch (err) {
      // Only a value that is not a StoredValue at all gets here; drop the write, keep serving.
      this.report('set', err);
      return;
    }
    await this.run('set', () => this.client.set(rkey, buf, 'PX', Math.ceil(ttl)));
  }

  /**
   * Stores `entry` (which does not vary) under `primary`, deleting the variants of a vary index
   * it replaces.
   */
  async storeEntry(primary: string, entry: CacheEntry, ttl: number): Promise<void> {
    const px = this.writableTtl(primary, ttl);
    if (px === undefined) return;
    const buf = this.encodeOrReport(entry, primary);
    if (buf === undefined) return;
    const prefix = variantRedisKey(this.prefix, primary, '');
    await this.run('set', () => this.client.eval(STORE_PLAIN_SCRIPT, 1, indexKey(this.prefix, primary), buf, px, primary, prefix, FORMAT_VERSION));
  }

  /**
   * Stores variant `id` of `primary` and adds it to the primary's vary index in one atomic
   * step: newest last, the oldest beyond `maxVariants` dropped and deleted; an index on other
   * fields is replaced and its variants deleted. Resolves to the ids the index now lists, or
   * undefined when the write failed.
   */
  async storeVariant(primary: string, id: string, entry: CacheEntry, ttl: number, maxVariants: number): Promise<string[] | undefined> {
    const px = this.writableTtl(primary, ttl);
    if (px === undefined) return undefined;
    const buf = this.encodeOrReport(entry, variantKey(primary, id));
    if (buf === undefined) return undefined;
    const r = await this.run('set', () =>
      this.client.eval(
        STORE_VARIANT_SCRIPT,
        2,
        indexKey(this.prefix, primary),
        variantRedisKey(this.prefix, primary, id),
        buf,
        id,
        Math.max(1, Math.floor(maxVariants)),
        px,
        JSON.stringify(entry.varyNames),
        primary,
        variantRedisKey(this.prefix, primary, ''),
        FORMAT_VERSION,
      ),
    );
    if (r === FAILED || !Array.isArray(r)) return undefined;
    return r.filter((v): v is string => typeof v === 'string');
  }

  /** A write's PX, or undefined (reported) when there must be no write. */
  private writableTtl(key: string, ttl: number): number | undefined {
    if (!(ttl > 0)) return undefined;
    if (!Number.isFinite(ttl)) {
      this.report('set', new Error(`refusing to store ${key} without a finite TTL`));
      return undefined;
    }
    return Math.ceil(ttl);
  }

  private encodeOrReport(value: StoredValue, key: string): Buffer | undefined {
    try {
      return encode(value, key, this.cipher);
    } catch (err) {
      this.report('set', err);
      return undefined;
    }
  }

  async delete(key: string): Promise<void> {
    const rkey = redisKey(this.prefix, key);
    await this.run('delete', () => this.client.del(rkey));
  }

  /**
   * Removes a primary key and every variant its stored index lists, in one DEL (they share
   * a slot). Resolves to the number of Redis keys removed, 0 on a fault.
   */
  async deletePrimary(primary: string): Promise<number> {
    const ikey = indexKey(this.prefix, primary);
    const keys = [ikey];
    const buf = await this.run('deletePrimary', () => this.client.getBuffer(ikey));
    if (buf === FAILED) return 0;
    if (buf !== null) {
      const value = decode(buf, primary);
      if (value === undefined) this.report('decode', new Error(`undecodable value under ${ikey} (${buf.length} bytes)`));
      else if (isVaryIndex(value)) {
        for (const id of value.variants) keys.push(variantRedisKey(this.prefix, primary, id));
      }
    }
    const n = await this.run('deletePrimary', () => this.client.del(...keys));
    return n === FAILED ? 0 : n;
  }

  /**
   * Takes the fill lease of `key` for `owner` for `ttl` ms (renew it with `renew`, release it
   * with `unlock`). 'held' comes with how long the holder's lease has left, so a waiter can
   * try again the moment an abandoned lease lapses. 'unavailable' means Redis could not be
   * asked or its reply was lost: the lease may then have been taken all the same, so the
   * caller releases it (compare-and-delete) or leaves it to lapse within `ttl`.
   */
  async tryLease(key: string, owner: string, ttl: number): Promise<LeaseAnswer> {
    const lkey = lockKey(this.prefix, key);
    const px = Math.max(1, Math.ceil(Number.isFinite(ttl) ? ttl : DEFAULT_TIMEOUT));
    const r = await this.run('lock', () => this.client.eval(ACQUIRE_SCRIPT, 1, lkey, owner, px));
    if (r === FAILED) return { result: 'unavailable' };
    if (r === ACQUIRED) return { result: 'acquired' };
    // A key with no expiry (-1) or a foreign value is held for no longer than one lease as far
    // as a waiter knows; it asks again after that, and gives up at cache.lockTimeout.
    const left = typeof r === 'number' && r >= 0 ? Math.min(r, px) : px;
    return { result: 'held', heldFor: left };
  }

  /** Takes the fill lease of `key` (see tryLease). */
  async tryLock(key: string, owner: string, ttl: number): Promise<LockResult> {
    return (await this.tryLease(key, owner, ttl)).result;
  }

  /** Extends `owner`'s lease on `key` to `ttl` ms from now; false when it is no longer the holder. */
  async renew(key: string, owner: string, ttl: number): Promise<boolean> {
    const lkey = lockKey(this.prefix, key);
    const r = await this.run('lock', () => this.client.eval(RENEW_SCRIPT, 1, lkey, owner, Math.max(1, Math.ceil(ttl))));
    return r === 1;
  }

  /**
   * True when this caller may fill `key`: it took the lock, or Redis could not be asked.
   * Failing open keeps a Redis outage from making every instance wait on a lock nobody
   * can hold; use `tryLock` to tell the two apart.
   */
  async lock(key: string, owner: string, ttl: number): Promise<boolean> {
    return (await this.tryLock(key, owner, ttl)) !== 'held';
  }

  /** Releases the lock if `owner` still holds it. Resolves to whether it did. */
  async unlock(key: string, owner: string): Promise<boolean> {
    const lkey = lockKey(this.prefix, key);
    const r = await this.run('unlock', () => this.client.eval(UNLOCK_SCRIPT, 1, lkey, owner));
    return r === 1;
  }

  /**
   * Keeps a purge rule in a sorted set scored by its end of life, so instances that start or
   * reconnect later still apply it. The set's own TTL follows the longest rule.
   */
  async savePurgeRule(json: string, until: number, ttl: number): Promise<boolean> {
    return this.savePurgeRules([{ json, until }], ttl);
  }

  /** Several purge rules in one ZADD (see savePurgeRule). */
  async savePurgeRules(rules: ReadonlyArray<{ json: string; until: number }>, ttl: number): Promise<boolean> {
    if (rules.length === 0) return true;
    const key = purgeRulesKey(this.prefix);
    let latest = -Infinity;
    for (const r of rules) latest = Math.max(latest, r.until);
    const args: Array<string | number> = [];
    for (const r of rules) args.push(r.until, r.json);
    const r = await this.run('set', async () => {
      await this.client.zadd(key, ...args);
      await this.client.zremrangebyscore(key, '-inf', String(latest - ttl));
      // The set lives as long as its longest rule: set a TTL when there is none (NX), and
      // only ever lengthen it (GT), so a short-lived rule cannot cut a long one's life.
      const px = Math.max(1, Math.ceil(ttl));
      await this.client.pexpire(key, px, 'NX');
      return this.client.pexpire(key, px, 'GT');
    });
    return r !== FAILED;
  }

  /** The stored purge rules still alive at `now`, as JSON strings; [] on a fault. */
  async loadPurgeRules(now: number): Promise<string[]> {
    const r = await this.run('get', () => this.client.zrangebyscore(purgeRulesKey(this.prefix), String(now), '+inf'));
    return r === FAILED ? [] : r;
  }

  state(): RedisState {
    if (this.breaker.state !== 'closed') return 'breaker-open';
    return this.client.status === 'ready' ? 'up' : 'down';
  }

  /** Calls `cb` whenever `state()` changes; returns a function that removes it. */
  onStateChange(cb: (state: RedisState, previous: RedisState) => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  /** Stops listening to the client and the breaker. The client itself belongs to the caller. */
  dispose(): void {
    for (const off of this.detach.splice(0)) off();
    this.stateListeners.clear();
  }

  /**
   * Runs one Redis call under the breaker and the time bound. WRONGTYPE is Redis
   * answering about foreign data under our key, not Redis failing, so it is reported as
   * 'decode' and counts as a success. Every call, one command or several, is bounded as a
   * whole by `timeout` through the store's deadlines: a call past it settles to FAILED (a
   * failure for the breaker), and its late answer is dropped.
   */
  private run<T>(op: RedisOp, call: () => Promise<T>): Promise<T | typeof FAILED>;
  /** As run, the call's result or FAILED passed through `then` as the call settles. */
  private run<T, R>(op: RedisOp, call: () => Promise<T>, then: (result: T | typeof FAILED) => R): Promise<R>;
  private run<T, R>(op: RedisOp, call: () => Promise<T>, then?: (result: T | typeof FAILED) => R): Promise<T | typeof FAILED | R> {
    const out = (then ?? same) as (result: T | typeof FAILED) => T | typeof FAILED | R;
    // allow() matters only once the breaker has opened; closed, it lets every call through.
    if (this.breaker.state !== 'closed' && !this.breaker.allow()) {
      this.refreshState();
      return Promise.resolve(out(FAILED));
    }
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (err) {
      return Promise.resolve(out(this.failed(op, err)));
    }
    return new Promise<T | typeof FAILED | R>((resolve) => {
      const waiting = this.deadlines.add(op, resolve, out);
      pending.then(
        (value) => {
          if (!this.deadlines.settle(waiting)) return;
          this.breaker.success();
          this.refreshState();
          resolve(out(value));
        },
        (err: unknown) => {
          if (this.deadlines.settle(waiting)) resolve(out(this.failed(op, err)));
        },
      );
    });
  }

  /** Counts and reports a call that failed (see run); resolves the call to FAILED. */
  private failed(op: RedisOp, err: unknown): typeof FAILED {
    if (isWrongType(err)) {
      this.breaker.success();
      this.report('decode', err);
    } else {
      this.breaker.failure();
      this.report(op, err);
    }
    this.refreshState();
    return FAILED;
  }

  private report(op: RedisOp, err: unknown): void {
    if (this.onError === undefined) return;
    try {
      this.onError(op, err);
    } catch {
      // A failing logger must not turn a cache fault into a request failure.
    }
  }

  private refreshState(): void {
    const next = this.state();
    const previous = this.lastState;
    if (next === previous) return;
    this.lastState = next;
    for (const cb of this.stateListeners) {
      try {
        cb(next, previous);
      } catch {
        // Listeners only log and label; they must not affect the store.
      }
    }
  }
}

function isWrongType(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('WRONGTYPE');
}

/** Settles with `p`, or rejects after `ms`; `p`'s own late rejection is swallowed. */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis ${what} took longer than ${ms} ms`)), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * A call waiting for Redis: `at` is its deadline (performance.now() ms), `resolve` settles the
 * call's promise (with FAILED when it expires); `done` once it settled or expired.
 */
interface Waiting {
  at: number;
  op: RedisOp;
  /** The call's promise: resolved with `out(FAILED)` when the call expires. */
  resolve: (value: never) => void;
  out: (failed: typeof FAILED) => unknown;
  done: boolean;
}

/** What a Deadlines does with a call that ran out of time: resolve it with `out(FAILED)`, after counting it. */
type Expire = (w: Waiting) => void;

/** run's `then` when none is given. */
function same<T>(x: T): T {
  return x;
}

/**
 * The time bound of a store's calls, with one timer for all of them instead of one per
 * command (ioredis's commandTimeout arms and clears a timer for every command, a few µs of
 * every L2 hit). Calls share one timeout, so their deadlines come in the order the calls
 * start: they wait in a queue, oldest first, and a single timer is armed for the oldest
 * call still waiting. A call that settles is marked done (and dropped once it reaches the
 * head); when the timer fires, every call past its deadline and still unanswered once the
 * replies already received are read is expired, and the timer is armed again for the next
 * one: a call fails at its deadline, give or take the timer's lateness and one turn of the
 * event loop, and an idle store holds no timer.
 */
class Deadlines {
  private queue: Waiting[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeout: number,
    private readonly expire: Expire,
  ) {}

  /** Starts the clock on a call; it is expired if it has not settled within the timeout. */
  add<V>(op: RedisOp, resolve: (value: V) => void, out: (failed: typeof FAILED) => V): Waiting {
    const w: Waiting = { at: performance.now() + this.timeout, op, resolve, out, done: false };
    this.queue.push(w);
    if (this.timer === undefined) this.arm(this.timeout);
    return w;
  }

  /** Marks a call settled. False when it had expired already: its result is then dropped. */
  settle(w: Waiting): boolean {
    if (w.done) return false;
    w.done = true;
    this.drop();
    return true;
  }

  /** Drops the settled calls at the head of the queue, and compacts it now and then. */
  private drop(): void {
    const q = this.queue;
    let h = this.head;
    while (h < q.length && q[h]!.done) h++;
    if (h === q.length) {
      q.length = 0;
      h = 0;
    } else if (h >= 1024 && h * 2 >= q.length) {
      q.splice(0, h);
      h = 0;
    }
    this.head = h;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  /**
   * The timer's callback. The calls are looked at after this turn's I/O (setImmediate): after a
   * stall of the event loop (a long GC, a busy machine), timers run before the replies that
   * arrived meanwhile are read, and a call answered in time must not be failed for that.
   */
  private readonly fire = (): void => {
    // Not unref()ed: an unref()ed immediate would let the loop block in its poll for I/O first.
    setImmediate(this.expireDue);
  };

  private readonly expireDue = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const q = this.queue;
    while (this.head < q.length) {
      const w = q[this.head]!;
      if (!w.done) {
        if (w.at > now) break;
        w.done = true;
        try {
          this.expire(w);
        } catch {
          // expire only resolves a promise and reports; nothing of it may stop the others.
        }
      }
      this.head++;
    }
    this.drop();
    // A call made while expiring (by a breaker or state listener) may have armed it already.
    if (this.head < q.length && this.timer === undefined) this.arm(q[this.head]!.at - now);
  };
}

/**
 * Command timeouts of the clients createRedisClient made: a single-server client is made
 * without ioredis's own commandTimeout (the store bounds its calls itself, see Deadlines),
 * so the value is kept here for whoever bounds calls on the client (RedisStore, RedisBus).
 */
const commandTimeouts = new WeakMap<RedisClient, number>();

/**
 * How long a command on `client` may take (ms): the commandTimeout it was made with by
 * createRedisClient, else its ioredis commandTimeout option, else undefined.
 */
export function commandTimeoutOf(client: RedisClient): number | undefined {
  const t = commandTimeouts.get(client) ?? (client instanceof Cluster ? client.options.redisOptions?.commandTimeout : client.options.commandTimeout);
  return typeof t === 'number' && t > 0 ? t : undefined;
}

export interface RedisClientOptions {
  /** redis://[user:password@]host:port[/db] of a single server. */
  url?: string;
  /** Cluster seed nodes as redis://host:port URLs; takes precedence over `url`. */
  cluster?: string[];
  /** Longest a command may wait for its reply (ms). */
  commandTimeout: number;
  /** Longest a connection attempt may take (ms). Default: max(1000, commandTimeout). */
  connectTimeout?: number;
  /** Receives connection errors; without it they are dropped (the store reports command failures itself). */
  onError?: (err: unknown) => void;
}

/** Reconnect forever, backing off to at most 2 s: Redis coming back must not need a restart. */
export function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, 2000);
}

/**
 * A client configured to fail fast: no offline queue (a command while disconnected fails
 * at once instead of waiting for the reconnect), no retries of commands whose connection
 * dropped (their callers have given up), a command timeout, and reconnection forever. The
 * command timeout is ioredis's own on a Cluster's nodes; a single-server client leaves it to
 * its callers (commandTimeoutOf gives the value: RedisStore and RedisBus bound every call).
 */
export function createRedisClient(opts: RedisClientOptions): RedisClient {
  const connectTimeout = opts.connectTimeout ?? Math.max(1000, opts.commandTimeout);
  const common = {
    connectTimeout,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    lazyConnect: false,
  };
  const onError = (err: unknown): void => {
    try {
      opts.onError?.(err);
    } catch {
      // Errors of the error handler itself are dropped: an 'error' event must never throw.
    }
  };
  let client: RedisClient;
  if (opts.cluster !== undefined && opts.cluster.length > 0) {
    const seeds = opts.cluster.map(parseNode);
    const auth = seeds[0]!;
    client = new Cluster(
      seeds.map((s) => ({ host: s.host, port: s.port })),
      {
        enableOfflineQueue: false,
        lazyConnect: false,
        enableReadyCheck: true,
        clusterRetryStrategy: reconnectDelay,
        // Nodes reconnect on their own too; otherwise a restarted node waits for a MOVED.
        clusterNodeRetryStrategy: reconnectDelay,
        slotsRefreshTimeout: Math.max(1000, opts.commandTimeout),
        // Failover and CLUSTERDOWN retries are bounded by the store's own timeout.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        redisOptions: {
          ...common,
          commandTimeout: opts.commandTimeout,
          ...(auth.username === undefined ? {} : { username: auth.username }),
          ...(auth.password === undefined ? {} : { password: auth.password }),
        },
      },
    );
    client.on('node error', onError);
  } else {
    client = new Redis(opts.url ?? 'redis://127.0.0.1:6379', {
      // No commandTimeout: ioredis would arm a timer per command; RedisStore and RedisBus bound
      // their calls themselves, with the value kept in commandTimeouts.
      ...common,
      // Commands issued in the same tick go out in one write: under load most of the cost of
      // a Redis read is the socket write, not Redis. (Not for Cluster, where it batches per
      // node and showed an extra origin fill in the Cluster tests.)
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      retryStrategy: reconnectDelay,
    });
  }
  commandTimeouts.set(client, opts.commandTimeout);
  // ioredis emits 'error' for every failed connection attempt; an EventEmitter with no
  // 'error' listener would throw and take the process down.
  client.on('error', onError);
  return client;
}

interface NodeAddress {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

function parseNode(url: string): NodeAddress {
  const u = new URL(url.includes('://') ? url : `redis://${url}`);
  return {
    host: u.hostname,
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
  };
}
