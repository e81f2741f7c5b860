import type { Clock } from '../types.js';
import { isRule, MAX_RULES, type PurgeRule } from '../cache/purge-rules.js';
import { isMsg, type Ask, type Msg } from './messages.js';

/** Longest wait for a worker's answer to an ask (ms). */
const ASK_TIMEOUT = 10_000;

/** A worker as the relay sees it (node:cluster's Worker fits). */
export interface WorkerLink {
  readonly id: number;
  isConnected(): boolean;
  send(m: Msg): unknown;
}

export interface RelayDeps {
  /** The workers that are connected now. */
  live: () => WorkerLink[];
  /** A worker by id, connected or not. */
  byId: (id: number) => WorkerLink | undefined;
  clock: Clock;
}

/**
 * The primary's side of coordination for workers without Redis: it holds the fill locks,
 * hands every fill to every other worker (those that waited for it wake up; the others keep
 * it for their next request, so the origin sees one request per key whatever the number of
 * workers), relays invalidations and purge rules,
 * and hands the rules made so far to workers that start later. It also carries asks (admin
 * operations, reloads) to workers and their answers back.
 */
export class Relay {
  private askSeq = 0;
  private readonly answers = new Map<number, (body: unknown) => void>();
  /** key → the lock holder and when it lapses. */
  private readonly locks = new Map<string, { owner: string; worker: number; until: number }>();
  /** key → workers told "held", who want the filled entry. */
  private readonly waiting = new Map<string, Set<number>>();
  /** Purge rules made so far, handed to workers that start later. */
  private rules: PurgeRule[] = [];

  constructor(private readonly d: RelayDeps) {}

  /** Handles a message from worker `w`. */
  receive(w: WorkerLink, m: unknown): void {
    if (!isMsg(m)) return;
    switch (m.t) {
      case 'lock':
        return this.lock(w, m);
      case 'renew': {
        const held = this.locks.get(m.key);
        if (held?.owner === m.owner) held.until = this.d.clock.now() + m.ttl;
        return;
      }
      case 'unlock':
        if (this.locks.get(m.key)?.owner === m.owner) this.locks.delete(m.key);
        return;
      case 'filled':
        return this.filled(w, m);
      case 'invalidate':
        return this.others(w, m);
      case 'rule':
        return this.rule(w, m);
      case 'answer':
        this.answers.get(m.id)?.(m.body);
        this.answers.delete(m.id);
        return;
      case 'listening':
        if (this.rules.length) send(w, { t: 'rules', rules: this.rules });
        return;
      default:
        return;
    }
  }

  /** Asks worker `w` to carry out `what`; resolves to its answer, or an error after ASK_TIMEOUT. */
  ask(w: WorkerLink, what: Ask, body?: unknown): Promise<unknown> {
    return new Promise((resolve) => {
      const id = ++this.askSeq;
      const timer = setTimeout(() => {
        this.answers.delete(id);
        resolve({ error: 'the worker did not answer in time' });
      }, ASK_TIMEOUT);
      this.answers.set(id, (b) => {
        clearTimeout(timer);
        resolve(b);
      });
      send(w, { t: 'ask', id, what, ...(body === undefined ? {} : { body }) });
    });
  }

  /** Releases the locks a worker that exited held. */
  exited(workerId: number): void {
    for (const [k, l] of this.locks) if (l.worker === workerId) this.locks.delete(k);
  }

  private lock(w: WorkerLink, m: Extract<Msg, { t: 'lock' }>): void {
    const now = this.d.clock.now();
    const held = this.locks.get(m.key);
    if (held !== undefined && held.until > now && this.d.byId(held.worker)?.isConnected()) {
      let set = this.waiting.get(m.key);
      if (set === undefined) this.waiting.set(m.key, (set = new Set()));
      set.add(w.id);
      send(w, { t: 'lock-reply', id: m.id, result: 'held', heldFor: held.until - now });
      return;
    }
    this.locks.set(m.key, { owner: m.owner, worker: w.id, until: now + m.ttl });
    send(w, { t: 'lock-reply', id: m.id, result: 'acquired' });
  }

  /**
   * A fill goes to every other worker that is connected, and to any worker that waited for it
   * (one that reconnected is no longer live, but was told "held").
   */
  private filled(from: WorkerLink, m: Extract<Msg, { t: 'filled' }>): void {
    const set = this.waiting.get(m.key);
    this.waiting.delete(m.key);
    const sent = new Set<number>([from.id]);
    for (const w of this.d.live()) {
      if (sent.has(w.id)) continue;
      sent.add(w.id);
      send(w, m);
    }
    for (const id of set ?? []) {
      const target = sent.has(id) ? undefined : this.d.byId(id);
      if (target !== undefined) send(target, m);
    }
  }

  private rule(w: WorkerLink, m: Extract<Msg, { t: 'rule' }>): void {
    if (!Array.isArray(m.rules)) return;
    const now = this.d.clock.now();
    this.rules = [...this.rules.filter((r) => r.until > now), ...m.rules.filter(isRule)].slice(-MAX_RULES);
    this.others(w, m);
  }

  /** Sends `m` to every connected worker but `from`. */
  private others(from: WorkerLink, m: Msg): void {
    for (const w of this.d.live()) if (w.id !== from.id) send(w, m);
  }
}

function send(w: WorkerLink, m: Msg): void {
  if (w.isConnected()) w.send(m);
}
