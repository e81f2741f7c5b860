import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from './config/types.js';
import type { CacheEntry } from './types.js';
import type { Logger } from './log.js';
import { createAdminServer, type PurgeAnswer, type PurgeRequest } from './http/admin.js';
import { decode, encode } from './cache/codec.js';
import { FillWaiters } from './cache/fill-waiters.js';
import type { LocalCache, Peers } from './cache/peers.js';
import { isRule, MAX_RULES, type PurgeRule } from './cache/purge-rules.js';
import type { LeaseAnswer, LockResult } from './cache/redis-store.js';
import { reloadFrom, runWarm, startLarder, tryLoad, watchConfig } from './cli.js';
import type { Larder } from './app.js';
import { systemClock } from './clock.js';

/**
 * `--workers N`: node:cluster runs N worker processes that share the listening socket. Each
 * worker has its own memory tier. With Redis they coordinate through it like separate
 * instances; without, the primary process is their lock manager and message relay (IPC):
 * one origin request per key across workers, and purges and invalidations reach all.
 * The primary also runs the admin listener, aggregating metrics across workers.
 */

/** Messages between the primary (p) and the workers (w). */
type Msg =
  | { t: 'lock'; id: number; key: string; owner: string; ttl: number }
  | { t: 'lock-reply'; id: number; result: LockResult; heldFor?: number }
  | { t: 'renew'; key: string; owner: string; ttl: number }
  | { t: 'unlock'; key: string; owner: string }
  | { t: 'filled'; key: string; primary: string; entry?: string }
  | { t: 'invalidate'; primary: string }
  | { t: 'rule'; rules: PurgeRule[] }
  | { t: 'rules'; rules: PurgeRule[] }
  | { t: 'ask'; id: number; what: 'purge' | 'explain' | 'ready' | 'reload' | 'warm'; body?: unknown }
  | { t: 'answer'; id: number; body: unknown }
  | { t: 'listening' };

const ASK_TIMEOUT = 10_000;
const LOCK_TIMEOUT = 1_000;

function isMsg(m: unknown): m is Msg {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}

// ---------------------------------------------------------------- worker side

/** Fill locks and notices through the primary over IPC. */
export class IpcPeers implements Peers {
  private local: LocalCache | undefined;
  private seq = 0;
  private readonly pendingLocks = new Map<number, (r: LeaseAnswer) => void>();
  private readonly waiters = new FillWaiters();
  private rules: PurgeRule[] = [];

  constructor(private readonly send: (m: Msg) => void) {}

  /** Called with every message from the primary that concerns coordination. */
  receive(m: Msg): void {
    switch (m.t) {
      case 'lock-reply':
        this.pendingLocks.get(m.id)?.(m.heldFor === undefined ? { result: m.result } : { result: m.result, heldFor: m.heldFor });
        this.pendingLocks.delete(m.id);
        return;
      case 'filled': {
        if (m.entry !== undefined) {
          const value = decode(Buffer.from(m.entry, 'base64'), m.primary);
          if (value !== undefined && !('kind' in value)) this.local?.storeFromPeer(m.primary, value);
        }
        this.waiters.wake(m.key);
        return;
      }
      case 'invalidate':
        this.local?.invalidateLocal(m.primary);
        return;
      case 'rule': {
        const rules = Array.isArray(m.rules) ? m.rules.filter(isRule) : [];
        if (rules.length > 0) this.local?.applyRules(rules);
        return;
      }
      case 'rules':
        this.rules = m.rules.filter(isRule);
        if (this.rules.length > 0) this.local?.applyRules(this.rules);
        return;
      default:
        return;
    }
  }

  attach(local: LocalCache): void {
    this.local = local;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async loadRules(): Promise<void> {
    if (this.rules.length > 0) this.local?.applyRules(this.rules);
  }

  owner(): string {
    return `${process.pid}:${++this.seq}`;
  }

  tryLock(key: string, owner: string, ttl: number): Promise<LeaseAnswer> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingLocks.delete(id);
        resolve({ result: 'unavailable' });
      }, LOCK_TIMEOUT);
      timer.unref();
      this.pendingLocks.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.send({ t: 'lock', id, key, owner, ttl });
    });
  }

  async renew(key: string, owner: string, ttl: number): Promise<boolean> {
    this.send({ t: 'renew', key, owner, ttl });
    return true;
  }

  async unlock(key: string, owner: string): Promise<boolean> {
    this.send({ t: 'unlock', key, owner });
    return true;
  }

  waitForFill(key: string, ms: number): { done: Promise<void>; cancel(): void } {
    return this.waiters.wait(key, ms);
  }

  async announceFilled(key: string, primary: string, entry: CacheEntry | undefined): Promise<boolean> {
    this.send({ t: 'filled', key, primary, ...(entry === undefined ? {} : { entry: encode(entry, primary).toString('base64') }) });
    return true;
  }

  async announceInvalidation(primary: string): Promise<boolean> {
    this.send({ t: 'invalidate', primary });
    return true;
  }

  async shareRules(rules: readonly PurgeRule[]): Promise<void> {
    this.send({ t: 'rule', rules: [...rules] });
  }

  async close(): Promise<void> {
    this.waiters.wakeAll();
  }
}

export async function runWorker(o: { config: Config; file: string; log: Logger }): Promise<number> {
  const send = (m: Msg): void => {
    if (process.connected) process.send?.(m);
  };
  const peers = o.config.cache.redis === undefined ? new IpcPeers(send) : undefined;
  const larder = startLarder(o.config, o.log, peers);
  // Constructing one installs prom-client's listener that answers the primary's metric requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([larder.recorder.metrics.registry]);
  process.on('message', (m: unknown) => {
    if (!isMsg(m)) return;
    if (m.t === 'ask') {
      void answer(larder, o, m).then((body) => send({ t: 'answer', id: m.id, body }));
      return;
    }
    peers?.receive(m);
  });
  await larder.listen();
  send({ t: 'listening' });
  runWarm(larder, o.log);
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      larder.close(larder.config().shutdownGrace).then(
        () => {
          o.log.flush();
          resolve(0);
        },
        () => resolve(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', () => undefined); // the primary decides when workers stop
    process.once('disconnect', stop);
  });
}

async function answer(larder: Larder, o: { file: string; log: Logger }, m: Extract<Msg, { t: 'ask' }>): Promise<unknown> {
  try {
    switch (m.what) {
      case 'purge':
        return await larder.purge(m.body as PurgeRequest);
      case 'explain': {
        const b = m.body as { url: string; headers: Record<string, string> };
        return await larder.explain(b.url, b.headers);
      }
      case 'ready':
        return await larder.ready();
      case 'reload':
        return reloadFrom(o.file, larder, o.log);
      case 'warm':
        return (await larder.warm()) ?? { error: 'nothing to warm: add warm.urls or warm.file to the rules' };
    }
  } catch (err) {
    return { error: String(err) };
  }
}

// ---------------------------------------------------------------- primary side

export async function runPrimary(o: { config: Config; file: string; workers: number; log: Logger }): Promise<number> {
  const { log } = o;
  let config = o.config;
  let stopping = false;
  let askSeq = 0;
  const answers = new Map<number, (body: unknown) => void>();
  /** key → the lock holder and when it lapses. */
  const locks = new Map<string, { owner: string; worker: number; until: number }>();
  /** key → workers told "held", who want the filled entry. */
  const waiting = new Map<string, Set<number>>();
  /** Purge rules made so far, handed to workers that start later. */
  let rules: PurgeRule[] = [];

  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  const sendTo = (w: Worker, m: Msg): void => {
    if (w.isConnected()) w.send(m);
  };
  const others = (from: Worker, m: Msg): void => {
    for (const w of live()) if (w.id !== from.id) sendTo(w, m);
  };

  const ask = (w: Worker, what: Extract<Msg, { t: 'ask' }>['what'], body?: unknown): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++askSeq;
      const timer = setTimeout(() => {
        answers.delete(id);
        resolve({ error: 'the worker did not answer in time' });
      }, ASK_TIMEOUT);
      answers.set(id, (b) => {
        clearTimeout(timer);
        resolve(b);
      });
      sendTo(w, { t: 'ask', id, what, ...(body === undefined ? {} : { body }) });
    });

  const onMessage = (w: Worker, m: unknown): void => {
    if (!isMsg(m)) return;
    switch (m.t) {
      case 'lock': {
        const now = systemClock.now();
        const held = locks.get(m.key);
        if (held !== undefined && held.until > now && cluster.workers?.[held.worker]?.isConnected()) {
          let set = waiting.get(m.key);
          if (set === undefined) waiting.set(m.key, (set = new Set()));
          set.add(w.id);
          return sendTo(w, { t: 'lock-reply', id: m.id, result: 'held', heldFor: held.until - now });
        }
        locks.set(m.key, { owner: m.owner, worker: w.id, until: now + m.ttl });
        return sendTo(w, { t: 'lock-reply', id: m.id, result: 'acquired' });
      }
      case 'renew': {
        const held = locks.get(m.key);
        if (held?.owner === m.owner) held.until = systemClock.now() + m.ttl;
        return;
      }
      case 'unlock':
        if (locks.get(m.key)?.owner === m.owner) locks.delete(m.key);
        return;
      case 'filled': {
        const set = waiting.get(m.key);
        waiting.delete(m.key);
        for (const id of set ?? []) {
          const target = cluster.workers?.[id];
          if (target !== undefined) sendTo(target, m);
        }
        return;
      }
      case 'invalidate':
        return others(w, m);
      case 'rule': {
        if (!Array.isArray(m.rules)) return;
        const now = systemClock.now();
        rules = [...rules.filter((r) => r.until > now), ...m.rules.filter(isRule)].slice(-MAX_RULES);
        return others(w, m);
      }
      case 'answer':
        answers.get(m.id)?.(m.body);
        answers.delete(m.id);
        return;
      case 'listening':
        if (rules.length) sendTo(w, { t: 'rules', rules });
        return;
      default:
        return;
    }
  };

  const fork = (): void => {
    const w = cluster.fork();
    w.on('message', (m: unknown) => onMessage(w, m));
  };
  cluster.on('exit', (w, code, signal) => {
    for (const [k, l] of locks) if (l.worker === w.id) locks.delete(k);
    if (stopping) return;
    log.error({ worker: w.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 500).unref();
  });
  for (let i = 0; i < o.workers; i++) fork();

  let admin: import('node:http').Server | undefined;
  if (config.admin !== undefined) {
    const registry = new AggregatorRegistry();
    admin = createAdminServer({
      token: config.admin.token,
      metrics: async () => ({ contentType: registry.contentType, body: await registry.clusterMetrics() }),
      ready: async () => {
        const ws = live();
        const each = (await Promise.all(ws.map((w) => ask(w, 'ready')))) as { ready?: boolean }[];
        return { ready: !stopping && ws.length > 0 && each.every((r) => r.ready === true), workers: each.length, each };
      },
      // One worker carries out a purge; its invalidations and rules reach the others through
      // Redis or the primary's relay, so each rule exists once per worker, not once per asker.
      purge: async (p) => {
        const w = live()[0];
        if (w === undefined) return { purged: 0, soft: p.soft, urls: p.urls.length, prefixes: p.prefixes.length, tags: p.tags.length };
        return (await ask(w, 'purge', p)) as PurgeAnswer;
      },
      warm: async () => {
        const w = live()[0];
        return w === undefined ? { error: 'no worker is running' } : ask(w, 'warm');
      },
      explain: async (url, headers) => {
        const w = live()[0];
        return w === undefined ? { error: 'no worker is running' } : ask(w, 'explain', { url, headers });
      },
      onError: (err) => log.error({ err }, 'admin request failed'),
    });
    await new Promise<void>((resolve, reject) => {
      admin!.once('error', reject);
      admin!.listen(config.admin!.listen.port, config.admin!.listen.host, () => resolve());
    });
  }
  log.info({ workers: o.workers, port: config.listen.port, admin: config.admin ? `${config.admin.listen.host}:${config.admin.listen.port}` : null }, 'larder primary started');

  const reload = (): void => {
    const next = tryLoad(o.file);
    if (next === undefined) {
      log.error('reload rejected, the previous rules stay in force (see the problems above)');
      return;
    }
    config = next;
    for (const w of live()) void ask(w, 'reload');
  };
  const stopWatching = watchConfig(o.file, log, reload);
  process.on('SIGHUP', reload);

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      stopWatching();
      log.info({ signal }, 'shutting down workers');
      for (const w of live()) w.process.kill('SIGTERM');
      const deadline = setTimeout(() => {
        for (const w of live()) w.process.kill('SIGKILL');
      }, config.shutdownGrace + 2_000);
      const check = setInterval(() => {
        if (live().length > 0) return;
        clearInterval(check);
        clearTimeout(deadline);
        admin?.close();
        log.info('stopped');
        log.flush();
        resolve(0);
      }, 50);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
