import pino, { type Logger } from 'pino';

/** Structured JSON logs on stdout. The level comes from LARDER_LOG_LEVEL (default info). */
export function createLogger(level = process.env['LARDER_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { name: 'larder' } });
}

export type { Logger };
