import pino, { type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger & {
  flush(): void;
  /** Writes one line as it is (an access line), in order with the application lines. */
  line(text: string): void;
};

/**
 * Structured JSON logs on stdout; access lines are written in batches so that they cost the
 * request path little; `flush()` writes out what is queued (call it before exit).
 * Times are ISO 8601 (`"time":"2026-12-01T17:20:00.000Z"`) and levels are names
 * (`"level":"info"`), as log shippers and people read them. `dest` is a file descriptor or a
 * file path (tests).
 */
export function createLogger(level = 'info', dest: number | string = 1): Logger {
  // Synchronous writes: access lines are batched below (one write per 64 KB or 100 ms) and
  // application lines are few, so writes are rare; a synchronous write keeps every line in the
  // order it was made, also on flush() at exit (an asynchronous write still in flight could
  // land after the lines flushed behind it).
  const destination = pino.destination({ dest, sync: true });
  /**
   * Access lines waiting to be handed to the destination, in order. They are joined and
   * written as one string when they reach BATCH_BYTES, after at most BATCH_MS, before any
   * application line (so that lines keep their order), and on flush(): one write per batch
   * instead of one per request.
   */
  let pending: string[] = [];
  let pendingBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const drain = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    pendingBytes = 0;
    destination.write(text);
  };
  // pino writes application lines through this: access lines queued before them go first.
  const stream = {
    write(text: string): void {
      drain();
      destination.write(text);
    },
  };
  const logger = pino(
    {
      level,
      base: { name: 'larder', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  ) as Logger;
  logger.flush = () => {
    drain();
    try {
      destination.flushSync();
    } catch {
      // Nothing buffered, or stdout already closed: nothing to save.
    }
  };
  logger.line = (text) => {
    pending.push(text + '\n');
    pendingBytes += text.length + 1;
    if (pendingBytes >= BATCH_BYTES) drain();
    else if (timer === undefined) timer = setTimeout(drain, BATCH_MS).unref();
  };
  // Batching must not hold a quiet process's lines back for long.
  setInterval(() => logger.flush(), 1_000).unref();
  return logger;
}

/** Access lines are written together once this many bytes (UTF-16 units) are waiting... */
const BATCH_BYTES = 64 * 1024;
/** ...or this many ms after the first of them was queued. */
const BATCH_MS = 100;
