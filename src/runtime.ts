import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { AccessLog } from './ops/access-log.js';
import { basename, dirname, resolve } from 'node:path';
import { loadConfig } from './config/load.js';
import type { Config } from './config/types.js';
import { LarderError, ErrorCodes } from './errors.js';
import { createLarder, type Larder } from './app.js';
import type { Logger } from './log.js';
import type { Peers } from './cache/peers.js';

/**
 * What a running process does around its larder, in one process or in a cluster worker:
 * loading and reloading the rules file, logging, warming.
 */

/** Loads and validates the file, printing every problem; undefined when it is not usable. */
export function tryLoad(file: string): Config | undefined {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof LarderError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      for (const d of err.details) process.stderr.write(`  - ${d}\n`);
      return undefined;
    }
    throw err;
  }
}

/** Builds larder with logging attached: state changes, failures, and the access log. */
export function startLarder(config: Config, log: Logger, peers?: Peers): Larder {
  let current = config;
  const access = new AccessLog({ settings: () => current.log.access, config: () => current, now: () => Date.now(), write: (line) => log.line(line) });
  const larder = createLarder(config, {
    ...(peers === undefined ? {} : { peers }),
    access,
    onBackgroundError: (err) => log.warn({ err }, 'background refresh failed'),
    onError: (err) => log.error({ err, code: ErrorCodes.INTERNAL }, 'request failed inside larder'),
    onRedisState: (state, previous) =>
      (state === 'up' ? log.info.bind(log) : log.warn.bind(log))({ redis: state, previous }, `redis is ${state}`),
    onRedisError: (op, err) => log.debug({ op, err: String(err) }, 'redis operation failed'),
    onUpstreamChange: (upstream, server, up) =>
      (up ? log.info.bind(log) : log.warn.bind(log))({ upstream, server, up }, `upstream ${upstream}: ${server} is ${up ? 'up' : 'down'}`),
  });
  for (const r of config.routes) {
    if (r.unsafeShareSetCookie) log.warn({ route: r.name }, 'route stores and replays Set-Cookie to every client (unsafeShareSetCookie)');
  }
  const reload = larder.reload.bind(larder);
  larder.reload = (next) => {
    current = next;
    return reload(next);
  };
  return larder;
}

/** Warms the cache in the background, with a progress line every tenth of the way. */
export function runWarm(larder: Larder, log: Logger): void {
  larder
    .warm((done, total) => log.info({ done, total }, `warming ${done}/${total}`))
    .then(
      (r) => {
        if (r !== undefined) log.info(r, `warming done: ${r.ok} of ${r.total} in ${r.ms} ms`);
        log.flush();
      },
      (err: unknown) => log.error({ err }, 'warming failed'),
    );
}

/**
 * Reloads from `file` on each call (SIGHUP, a file change, the primary's ask): validates the
 * file again and swaps it in; a bad file keeps the old rules and is reported. The same rejected
 * content is counted once however many triggers retry it (a config manager that rewrites the
 * file and sends SIGHUP fires both), and a second trigger within a second for the content just
 * applied is the same reload, not another.
 */
export function reloader(file: string, larder: Larder, log: Logger): () => boolean {
  let last: { digest: string; ok: boolean; at: number } | undefined;
  return () => {
    const digest = fileDigest(file);
    const now = Date.now();
    if (last !== undefined && digest !== undefined && digest === last.digest) {
      if (!last.ok) {
        log.error('reload rejected again: the rules file has not changed since (not counted again)');
        log.flush();
        return false;
      }
      if (now - last.at < 1_000) return true;
    }
    let next: Config;
    try {
      next = loadConfig(file);
    } catch (err) {
      last = digest === undefined ? undefined : { digest, ok: false, at: now };
      const message = err instanceof LarderError ? err.message : String(err);
      larder.reloadFailed(message);
      if (err instanceof LarderError) log.error({ code: err.code, problems: err.details }, `reload rejected, the previous rules stay in force: ${err.message}`);
      else log.error({ err }, 'reload failed, the previous rules stay in force');
      log.flush();
      return false;
    }
    last = digest === undefined ? undefined : { digest, ok: true, at: now };
    const { needsRestart } = larder.reload(next);
    log.info({ routes: next.routes.length, needsRestart }, needsRestart.length ? `rules reloaded; restart to apply ${needsRestart.join(', ')}` : 'rules reloaded');
    log.flush();
    return true;
  };
}

function fileDigest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Calls `onChange` (debounced) when the rules file changes. The directory is watched, not
 * the file, because editors and config managers replace files by renaming a new one over it.
 */
export function watchConfig(file: string, log: Logger, onChange: () => void, enabled = true): () => void {
  if (!enabled) return () => undefined;
  const path = resolve(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, name) => {
      if (name !== null && name !== basename(path)) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, 200);
    });
    watcher.on('error', (err) => log.warn({ err }, 'cannot watch the rules file; reload with SIGHUP'));
  } catch (err) {
    log.warn({ err }, 'cannot watch the rules file; reload with SIGHUP');
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
