/**
 * The error catalogue: every code larder emits, with the HTTP status of the answer that
 * carries it and the message said when the thrower has nothing more specific. Each code is
 * stable: operators grep logs and alerts for it, clients read it at the start of an error
 * body. docs/errors.md says what each one means and what to do about it; a test keeps the
 * two in step, and keeps every code spelled out here only.
 */
export interface ErrorSpec {
  /**
   * The status of the answer carrying the code (a thrower may give another, e.g. 505 for a
   * request larder refuses as LARDER_BAD_REQUEST); null for codes only logged or printed.
   */
  readonly status: number | null;
  /** Short, safe to show to clients, and says what to change. */
  readonly message: string;
}

export const CATALOGUE = {
  // Startup, reload and the command line: logged or printed, never an HTTP answer.
  /** rules.yaml failed validation; the details list every problem with file, line and key. */
  LARDER_CONFIG_INVALID: { status: null, message: 'the configuration is invalid' },
  /** rules.yaml could not be read. */
  LARDER_CONFIG_UNREADABLE: { status: null, message: 'the configuration file could not be read' },
  /** The listen address could not be bound. */
  LARDER_LISTEN_FAILED: { status: null, message: 'the listen address could not be bound' },
  /** A command-line argument was not understood. */
  LARDER_USAGE: { status: null, message: 'a command-line argument was not understood' },

  // The proxy listener (plain text: `CODE: message`).
  /** The client's request was refused before routing: bad framing, target, Host or Connection (also 408, 431, 501, 505). */
  LARDER_BAD_REQUEST: { status: 400, message: 'the request was refused' },
  /** A client's request body is over security.maxRequestBodySize, or an admin purge body over 1 MB. */
  LARDER_TOO_LARGE: { status: 413, message: 'the request body is over the limit (security.maxRequestBodySize)' },
  /** only-if-cached was asked and nothing usable is stored (RFC 9111 §5.2.1.7). */
  LARDER_NOT_CACHED: { status: 504, message: 'only-if-cached was requested and no usable response is stored' },
  /** The origin refused the connection or sent an unparsable response. */
  LARDER_ORIGIN_UNREACHABLE: { status: 502, message: 'the origin could not be reached' },
  /** The origin did not connect, send headers, or send the body in time. */
  LARDER_ORIGIN_TIMEOUT: { status: 504, message: 'timed out waiting for the origin' },
  /** The origin's body ended early or did not match its Content-Length. */
  LARDER_ORIGIN_INCOMPLETE: { status: 502, message: 'the origin closed the connection before the response was complete' },
  /** The origin framed its response with a transfer coding other than chunked (e.g. Transfer-Encoding: gzip). */
  LARDER_ORIGIN_UNSUPPORTED: { status: 502, message: 'the origin used a transfer coding other than chunked' },
  /** The pass-through (requests with a body, on any route) could not reach the origin. */
  LARDER_PROXY_FAILED: { status: 502, message: 'the origin could not be reached' },
  /** An unexpected failure inside larder while handling a request (a bug); 500 on the admin listener. */
  LARDER_INTERNAL: { status: 502, message: 'larder could not handle this request' },

  // The admin listener (JSON: {"error": message, "code": CODE}).
  /** A GET to an endpoint that changes state. */
  LARDER_METHOD: { status: 405, message: 'use POST' },
  /** No such admin endpoint, or warming is not available in this process. */
  LARDER_NOT_FOUND: { status: 404, message: 'admin endpoints: GET /, /status, /metrics, /healthz, /readyz, /explain?url=; POST /purge, /warm' },
  /** POST /purge or /warm without the right bearer token. */
  LARDER_UNAUTHORIZED: { status: 401, message: 'send Authorization: Bearer <admin.token>' },
  /** POST /purge while admin.token is not set. */
  LARDER_PURGE_DISABLED: { status: 403, message: 'the purge API is off: set admin.token (e.g. ${LARDER_ADMIN_TOKEN}) to turn it on' },
  /** POST /warm while admin.token is not set. */
  LARDER_WARM_DISABLED: { status: 403, message: 'the warm API is off: set admin.token (e.g. ${LARDER_ADMIN_TOKEN}) to turn it on' },
  /** A purge body that is not what POST /purge accepts; the message names the field. */
  LARDER_BAD_PURGE: { status: 400, message: 'the body must be JSON: {"urls": [...], "prefixes": [...], "tags": [...], "soft": false}' },
  /** A purge would go over the number of purge rules kept; nothing of it was applied. */
  LARDER_PURGE_RULES_FULL: {
    status: 507,
    message: 'the purge rule set is full: purge whole URLs instead, purge by a shared tag or a shorter prefix, or wait for older rules to expire',
  },
} as const satisfies Record<`LARDER_${string}`, ErrorSpec>;

export type ErrorCode = keyof typeof CATALOGUE;

type ShortName<C> = C extends `LARDER_${infer S}` ? S : never;

/** The codes by short name: `ErrorCodes.ORIGIN_TIMEOUT` is `'LARDER_ORIGIN_TIMEOUT'`. */
export const ErrorCodes = Object.freeze(
  Object.fromEntries(Object.keys(CATALOGUE).map((code) => [code.slice('LARDER_'.length), code])),
) as { readonly [C in ErrorCode as ShortName<C>]: C };

export interface LarderErrorOptions {
  cause?: unknown;
  /** Every individual problem, for errors that collect several (config validation). */
  details?: string[];
  /** Another status than the catalogue's for this answer. */
  status?: number;
  /** Answer with Connection: close: what follows on the connection cannot be trusted. */
  close?: boolean;
}

/** The one error class: a catalogue code, its status, and a message (the catalogue's unless given). */
export class LarderError extends Error {
  readonly code: ErrorCode;
  /** The HTTP status of the answer; 500 for codes the catalogue gives none. */
  readonly status: number;
  /** Every individual problem, for errors that collect several (config validation). */
  readonly details: string[];
  readonly close: boolean;
  constructor(code: ErrorCode, message: string = CATALOGUE[code].message, options?: LarderErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LarderError';
    this.code = code;
    this.status = options?.status ?? CATALOGUE[code].status ?? 500;
    this.details = options?.details ?? [];
    this.close = options?.close ?? false;
  }
}
