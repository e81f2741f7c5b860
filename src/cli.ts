import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import cluster from 'node:cluster';
import { loadConfig } from './config/load.js';
import type { Config } from './config/types.js';
import { LarderError, ErrorCodes } from './errors.js';
import { createLarder, type Larder } from './app.js';
import { createLogger, type Logger } from './log.js';
import { runPrimary, runWorker } from './workers.js';
import type { Peers } from './cache/peers.js';

const HELP = `larder: an HTTP caching reverse proxy

Usage: larder [--config rules.yaml] [--check] [--workers N|auto]

Options:
  -c, --config <file>  rules file (default: ./rules.yaml)
      --check          validate the rules file, print every problem, exit 0 or 1
  -w, --workers <n>    run n worker processes (or "auto": one per core) sharing the port
  -h, --help           show this help
  -v, --version        print the version

Environment:
  LARDER_LISTEN        overrides listen (host:port)
  LARDER_ORIGIN        overrides origin (http://host:port)
  LARDER_LOG_LEVEL     overrides log.level: trace | debug | info | warn | error | silent
  \${VAR} inside rules.yaml is replaced by the environment variable VAR.

Signals:
  SIGHUP               reload rules.yaml (it is also reloaded when the file changes)
  SIGTERM, SIGINT      stop accepting, finish requests in flight (shutdownGrace), exit 0
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the command line; resolves to an exit code, or stays pending while serving. */
export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: 'rules.yaml' },
        check: { type: 'boolean', default: false },
        workers: { type: 'string', short: 'w' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    process.stderr.write(`${ErrorCodes.USAGE}: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values } = args;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`larder ${version()}\n`);
    return 0;
  }
  const config = tryLoad(values.config);
  if (config === undefined) return 1;
  if (values.check) {
    process.stdout.write(`${config.file ?? values.config}: OK (${config.routes.length} routes)\n`);
    return 0;
  }
  const workers = parseWorkers(values.workers);
  if (workers === undefined) {
    process.stderr.write(`${ErrorCodes.USAGE}: --workers takes a number from 1 to 256 or "auto", got "${values.workers}"\n`);
    return 2;
  }
  const log = createLogger(process.env['LARDER_LOG_LEVEL'] ?? config.log.level);
  if (workers > 1 && cluster.isPrimary) return runPrimary({ config, file: values.config, workers, log });
  if (cluster.isWorker) return runWorker({ config, file: values.config, log });
  return serve(config, values.config, log);
}

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

function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 256 ? n : undefined;
}

/** One process: the proxy, the admin listener, reloads and a graceful stop. */
async function serve(config: Config, file: string, log: Logger): Promise<number> {
  const larder = startLarder(config, log);
  try {
    const addr = await larder.listen();
    const admin = await larder.listenAdmin();
    log.info(
      { address: addr.address, port: addr.port, admin: admin ? `${admin.address}:${admin.port}` : null, origin: config.origin, routes: config.routes.length },
      'larder listening',
    );
    log.flush();
  } catch (err) {
    log.error({ code: ErrorCodes.LISTEN_FAILED, err }, `cannot listen on ${config.listen.host}:${config.listen.port}; change listen or LARDER_LISTEN`);
    await larder.close(0);
    return 1;
  }
  runWarm(larder, log);
  const reload = (): void => {
    if (reloadFrom(file, larder, log)) runWarm(larder, log);
  };
  const stopWatching = watchConfig(file, log, reload);
  process.on('SIGHUP', reload);
  return new Promise<number>((resolvePromise) => {
    const stop = (signal: string): void => {
      log.info({ signal, grace: larder.config().shutdownGrace }, 'shutting down: finishing requests in flight');
      stopWatching();
      larder.close(larder.config().shutdownGrace).then(
        () => {
          log.info('stopped');
          log.flush();
          resolvePromise(0);
        },
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          log.flush();
          resolvePromise(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Builds larder with logging attached: state changes, failures, and sampled request lines. */
export function startLarder(config: Config, log: Logger, peers?: Peers): Larder {
  let sample = config.log.requests;
  const larder = createLarder(config, {
    ...(peers === undefined ? {} : { peers }),
    onOutcome: (o) => {
      if (sample <= 0 || (sample < 1 && Math.random() >= sample)) return;
      log.info(
        { route: o.route, method: o.method, cache: o.result, tier: o.tier, status: o.status, ms: Math.round(o.ms * 100) / 100, reason: o.reason, stale: o.stale, collapsed: o.collapsed },
        'request',
      );
    },
    onBackgroundError: (err) => log.warn({ err }, 'background refresh failed'),
    onError: (err) => log.error({ err, code: ErrorCodes.INTERNAL }, 'request failed inside larder'),
    onRedisState: (state, previous) =>
      (state === 'up' ? log.info.bind(log) : log.warn.bind(log))({ redis: state, previous }, `redis is ${state}`),
    onRedisError: (op, err) => log.debug({ op, err: String(err) }, 'redis operation failed'),
  });
  for (const r of config.routes) {
    if (r.unsafeShareSetCookie) log.warn({ route: r.name }, 'route stores and replays Set-Cookie to every client (unsafeShareSetCookie)');
  }
  const reload = larder.reload.bind(larder);
  larder.reload = (next) => {
    sample = next.log.requests;
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

/** Validates the file again and swaps it in; a bad file keeps the old rules and is reported. */
export function reloadFrom(file: string, larder: Larder, log: Logger): boolean {
  let next: Config;
  try {
    next = loadConfig(file);
  } catch (err) {
    larder.recorder.reload('error');
    if (err instanceof LarderError) log.error({ code: err.code, problems: err.details }, `reload rejected, the previous rules stay in force: ${err.message}`);
    else log.error({ err }, 'reload failed, the previous rules stay in force');
    log.flush();
    return false;
  }
  const { needsRestart } = larder.reload(next);
  log.info({ routes: next.routes.length, needsRestart }, needsRestart.length ? `rules reloaded; restart to apply ${needsRestart.join(', ')}` : 'rules reloaded');
  log.flush();
  return true;
}

/**
 * Calls `onChange` (debounced) when the rules file changes. The directory is watched, not
 * the file, because editors and config managers replace files by renaming a new one over it.
 */
export function watchConfig(file: string, log: Logger, onChange: () => void): () => void {
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
