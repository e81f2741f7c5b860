/**
 * The error catalogue. Each code is stable: operators grep logs and alerts for it,
 * and clients may see it in the body of a 502/504. Messages say what to change.
 */
export const ErrorCodes = {
  /** rules.yaml failed validation; the message lists every problem with file, line and key. */
  CONFIG_INVALID: 'LARDER_CONFIG_INVALID',
  /** rules.yaml could not be read. */
  CONFIG_UNREADABLE: 'LARDER_CONFIG_UNREADABLE',
  /** The origin refused or reset the connection, or sent an unparsable response. */
  ORIGIN_UNREACHABLE: 'LARDER_ORIGIN_UNREACHABLE',
  /** The origin did not connect, send headers, or send the body in time. */
  ORIGIN_TIMEOUT: 'LARDER_ORIGIN_TIMEOUT',
  /** The origin's body ended early or did not match its Content-Length. */
  ORIGIN_INCOMPLETE: 'LARDER_ORIGIN_INCOMPLETE',
  /** The client's request was refused before routing: bad framing, target, Host or Connection. */
  BAD_REQUEST: 'LARDER_BAD_REQUEST',
  /** The origin framed its response with a transfer coding other than chunked (e.g. Transfer-Encoding: gzip). */
  ORIGIN_UNSUPPORTED: 'LARDER_ORIGIN_UNSUPPORTED',
  /** A client's request body is over security.maxRequestBodySize (413), or an admin purge body over 1 MB. */
  TOO_LARGE: 'LARDER_TOO_LARGE',
  /** only-if-cached was asked and nothing usable is stored (RFC 9111 §5.2.1.7). */
  NOT_CACHED: 'LARDER_NOT_CACHED',
  /** The pass-through proxy failed. */
  PROXY_FAILED: 'LARDER_PROXY_FAILED',
  /** The listen address could not be bound. */
  LISTEN_FAILED: 'LARDER_LISTEN_FAILED',
  /** An unexpected failure inside larder while handling a request (a bug); the client gets a 502. */
  INTERNAL: 'LARDER_INTERNAL',
  /** A command-line argument was not understood. */
  USAGE: 'LARDER_USAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class LarderError extends Error {
  readonly code: ErrorCode;
  /** Every individual problem, for errors that collect several (config validation). */
  readonly details: string[];
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LarderError';
    this.code = code;
    this.details = options?.details ?? [];
  }
}
