import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { LarderError, ErrorCodes } from './errors.js';
import { createLarder } from './app.js';
import { createLogger } from './log.js';

const HELP = `larder: an HTTP caching reverse proxy

Usage: larder [--config rules.yaml] [--check]

Options:
  -c, --config <file>  rules file (default: ./rules.yaml)
      --check          validate the rules file, print every problem, exit 0 or 1
  -h, --help           show this help
  -v, --version        print the version

Environment:
  LARDER_LISTEN        overrides listen (host:port)
  LARDER_ORIGIN        overrides origin (http://host:port)
  LARDER_LOG_LEVEL     trace | debug | info | warn | error (default info)
  \${VAR} inside rules.yaml is replaced by the environment variable VAR.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the command line; resolves to an exit code, or never resolves while serving. */
export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: 'rules.yaml' },
        check: { type: 'boolean', default: false },
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
  let config;
  try {
    config = loadConfig(values.config);
  } catch (err) {
    if (err instanceof LarderError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      for (const d of err.details) process.stderr.write(`  - ${d}\n`);
      return 1;
    }
    throw err;
  }
  if (values.check) {
    process.stdout.write(`${config.file ?? values.config}: OK (${config.routes.length} routes)\n`);
    return 0;
  }

  const log = createLogger();
  const larder = createLarder(config, {
    onBackgroundError: (err) => log.warn({ err }, 'background refresh failed'),
    onError: (err) => log.error({ err, code: ErrorCodes.INTERNAL }, 'request failed inside larder'),
    onRedisState: (state, previous) =>
      (state === 'up' ? log.info.bind(log) : log.warn.bind(log))({ redis: state, previous }, `redis is ${state}`),
    onRedisError: (op, err) => log.debug({ op, err: String(err) }, 'redis operation failed'),
  });
  try {
    const addr = await larder.listen();
    log.info({ address: addr.address, port: addr.port, origin: config.origin, routes: config.routes.length }, 'larder listening');
  } catch (err) {
    log.error({ code: ErrorCodes.LISTEN_FAILED, err }, `cannot listen on ${config.listen.host}:${config.listen.port}; change listen or LARDER_LISTEN`);
    return 1;
  }
  for (const r of config.routes) {
    if (r.unsafeShareSetCookie) log.warn({ route: r.name }, 'route stores and replays Set-Cookie to every client (unsafeShareSetCookie)');
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      larder.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
