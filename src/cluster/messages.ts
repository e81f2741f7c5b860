import type { PurgeRule } from '../cache/purge-rules.js';
import type { LockResult } from '../cache/redis-store.js';

/**
 * `--workers N`: node:cluster runs N worker processes that share the listening socket. Each
 * worker has its own memory tier. With Redis they coordinate through it like separate
 * instances; without, the primary process is their lock manager and message relay (IPC):
 * one origin request per key across workers (every fill is handed to every worker), and
 * purges and invalidations reach all.
 * The primary also runs the admin listener, aggregating metrics across workers.
 */

/** What the primary asks a worker to do on behalf of the admin listener or a reload. */
export type Ask = 'purge' | 'explain' | 'ready' | 'reload' | 'warm' | 'status';

/** Messages between the primary and the workers. */
export type Msg =
  | { t: 'lock'; id: number; key: string; owner: string; ttl: number }
  | { t: 'lock-reply'; id: number; result: LockResult; heldFor?: number }
  | { t: 'renew'; key: string; owner: string; ttl: number }
  | { t: 'unlock'; key: string; owner: string }
  | { t: 'filled'; key: string; primary: string; entry?: string }
  | { t: 'invalidate'; primary: string }
  | { t: 'rule'; rules: PurgeRule[] }
  | { t: 'rules'; rules: PurgeRule[] }
  | { t: 'ask'; id: number; what: Ask; body?: unknown }
  | { t: 'answer'; id: number; body: unknown }
  | { t: 'listening' };

export function isMsg(m: unknown): m is Msg {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
