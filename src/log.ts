import pino, { type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger & { flush(): void };

/**
 * Structured JSON logs on stdout, written asynchronously in batches so that request lines
 * cost the request path little; `flush()` writes out what is buffered (call it before exit).
 */
export function createLogger(level = 'info'): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino({ level, base: { name: 'larder', pid: process.pid } }, destination) as Logger;
  logger.flush = () => {
    try {
      destination.flushSync();
    } catch {
      // Nothing buffered, or stdout already closed: nothing to save.
    }
  };
  // Batching must not hold a quiet process's lines back for long.
  setInterval(() => logger.flush(), 1_000).unref();
  return logger;
}
