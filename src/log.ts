import pino, { type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger & {
  flush(): void;
  /** Writes one line as it is (an access line), in order with the application lines. */
  line(text: string): void;
};

/**
 * Structured JSON logs on stdout, written asynchronously in batches so that request lines
 * cost the request path little; `flush()` writes out what is buffered (call it before exit).
 * Times are ISO 8601 (`"time":"2026-12-01T17:20:00.000Z"`) and levels are names
 * (`"level":"info"`), as log shippers and people read them.
 */
export function createLogger(level = 'info'): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino(
    {
      level,
      base: { name: 'larder', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  ) as Logger;
  logger.flush = () => {
    try {
      destination.flushSync();
    } catch {
      // Nothing buffered, or stdout already closed: nothing to save.
    }
  };
  logger.line = (text) => {
    destination.write(text + '\n');
  };
  // Batching must not hold a quiet process's lines back for long.
  setInterval(() => logger.flush(), 1_000).unref();
  return logger;
}
