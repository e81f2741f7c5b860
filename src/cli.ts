import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import cluster from 'node:cluster';
import type { Config } from './config/types.js';
import { ErrorCodes } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { reloader, runWarm, startLarder, tryLoad, watchConfig } from './runtime.js';
import { runPrimary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { probe } from './ops/readiness.js';
import { runStatus } from './cli/status.js';

const HELP = `larder: an HTTP caching reverse proxy

Usage: larder [--config rules.yaml] [--check] [--workers N|auto]
       larder status [--admin http://127.0.0.1:9091] [--token T] [--json]

Options:
  -c, --config <file>  rules file (default: ./rules.yaml)
      --check          validate the rules file, print every problem, exit 0 or 1
  -w, --workers <n>    run n worker processes (or "auto": one per core) sharing the port
  -h, --help           show this help
  -v, --version        print the version

Commands:
  status               print the status of a running larder as tables (larder status --help)

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
  if (argv[0] === 'status') return runStatus(argv.slice(1));
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

function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 256 ? n : undefined;
}

/**
 * A start-up warning for each origin that does not accept a connection: every request to it
 * would answer 502. (`npm run demo` starts larder with an origin that answers.)
 */
export function warnUnreachable(config: Config, log: Logger): void {
  const origins = [...new Set([config.origin, ...config.routes.map((r) => r.origin)])];
  for (const origin of origins) {
    void probe(origin).then((ok) => {
      if (ok) return;
      log.warn({ origin }, `the origin ${origin} does not answer: requests routed to it get 502 until it does (set origin or LARDER_ORIGIN; npm run demo starts a demo origin)`);
      log.flush();
    });
  }
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
    warnUnreachable(config, log);
  } catch (err) {
    log.error({ code: ErrorCodes.LISTEN_FAILED, err }, `cannot listen on ${config.listen.host}:${config.listen.port}; change listen or LARDER_LISTEN`);
    await larder.close(0);
    return 1;
  }
  runWarm(larder, log);
  const reloadFile = reloader(file, larder, log);
  const reload = (): void => {
    if (reloadFile()) runWarm(larder, log);
  };
  const stopWatching = watchConfig(file, log, reload, config.reload.watch);
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
