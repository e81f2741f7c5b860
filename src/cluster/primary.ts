import type http from 'node:http';
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PurgeAnswer } from '../http/admin.js';
import { systemClock } from '../clock.js';
import { startAdmin, type AdminOps } from '../ops/admin.js';
import { tryLoad, watchConfig } from '../runtime.js';
import { clusterMetrics } from './metrics.js';
import { mergeSnapshots, type StatusSnapshot } from '../ops/status.js';
import { statusPageAssets } from '../ops/status-page.js';
import { Relay } from './relay.js';

export interface PrimaryOptions {
  config: Config;
  file: string;
  workers: number;
  log: Logger;
}

/**
 * The cluster primary: forks the workers (and replaces one that dies), relays between them,
 * runs the admin listener over all of them, reloads the rules file and stops the workers.
 */
export async function runPrimary(o: PrimaryOptions): Promise<number> {
  const { log } = o;
  let config = o.config;
  let stopping = false;
  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  const relay = new Relay({ live, byId: (id) => cluster.workers?.[id], clock: systemClock });
  forkWorkers(o.workers, relay, log, () => stopping);
  let admin: http.Server | undefined;
  if (config.admin !== undefined) {
    const ops = adminOps(config, relay, live, () => stopping);
    admin = (await startAdmin(config.admin, ops, (err) => log.error({ err }, 'admin request failed'))).server;
  }
  log.info({ workers: o.workers, port: config.listen.port, admin: config.admin ? `${config.admin.listen.host}:${config.admin.listen.port}` : null }, 'larder primary started');

  // Every worker reads the file again and reports (and counts) a rejection itself; the primary
  // keeps the new rules for what it reads of them (the shutdown grace).
  const reload = (): void => {
    const next = tryLoad(o.file);
    if (next !== undefined) config = next;
    for (const w of live()) void relay.ask(w, 'reload');
  };
  const stopWatching = watchConfig(o.file, log, reload, config.reload.watch);
  process.on('SIGHUP', reload);

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      stopWatching();
      log.info({ signal }, 'shutting down workers');
      void stopWorkers(live, config.shutdownGrace + 2_000).then(() => {
        admin?.close();
        log.info('stopped');
        log.flush();
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Forks `n` workers, and another whenever one dies before the primary stops. */
function forkWorkers(n: number, relay: Relay, log: Logger, stopping: () => boolean): void {
  const fork = (): void => {
    const w = cluster.fork();
    w.on('message', (m: unknown) => relay.receive(w, m));
  };
  cluster.on('exit', (w, code, signal) => {
    relay.exited(w.id);
    if (stopping()) return;
    log.error({ worker: w.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 500).unref();
  });
  for (let i = 0; i < n; i++) fork();
}

/** The admin operations of a cluster: readiness asks every worker, the others ask one. */
function adminOps(config: Config, relay: Relay, live: () => Worker[], stopping: () => boolean): AdminOps {
  const first = (): Worker | undefined => live()[0];
  return {
    metrics: clusterMetrics(),
    ready: async () => {
      const ws = live();
      const each = (await Promise.all(ws.map((w) => relay.ask(w, 'ready')))) as { ready?: boolean }[];
      return { ready: !stopping() && ws.length > 0 && each.every((r) => r.ready === true), workers: each.length, each };
    },
    // One worker carries out a purge; its invalidations and rules reach the others through
    // Redis or the primary's relay, so each rule exists once per worker, not once per asker.
    purge: async (p) => {
      const w = first();
      if (w === undefined) return { purged: 0, soft: p.soft, urls: p.urls.length, prefixes: p.prefixes.length, tags: p.tags.length };
      return (await relay.ask(w, 'purge', p)) as PurgeAnswer;
    },
    warm: async () => {
      const w = first();
      return w === undefined ? { error: 'no worker is running' } : relay.ask(w, 'warm');
    },
    ...(config.admin?.status === true
      ? {
          status: async () => {
            const each = (await Promise.all(live().map((w) => relay.ask(w, 'status')))) as Array<StatusSnapshot | null | { error: string }>;
            return mergeSnapshots(each.filter((s): s is StatusSnapshot => s !== null && 'version' in s), Date.now()) ?? { error: 'no worker is running' };
          },
          page: statusPageAssets(),
        }
      : {}),
    explain: async (url, headers) => {
      const w = first();
      return w === undefined ? { error: 'no worker is running' } : relay.ask(w, 'explain', { url, headers });
    },
  };
}

/** Sends SIGTERM to every worker, SIGKILL to those still running after `deadline` ms; resolves when none is left. */
function stopWorkers(live: () => Worker[], deadline: number): Promise<void> {
  for (const w of live()) w.process.kill('SIGTERM');
  const kill = setTimeout(() => {
    for (const w of live()) w.process.kill('SIGKILL');
  }, deadline);
  return new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (live().length > 0) return;
      clearInterval(check);
      clearTimeout(kill);
      resolve();
    }, 50);
  });
}
