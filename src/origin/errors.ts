import { CATALOGUE, ErrorCodes, type ErrorCode } from '../errors.js';

export interface OriginFailure {
  kind: 'error';
  /** 502 for a refused, reset or malformed answer; 504 for a timeout (the catalogue's status for `code`). */
  status: 502 | 504;
  code: ErrorCode;
  /** Short, safe to show to clients: names the cause, never internals. */
  message: string;
}

type OriginCode = (typeof ErrorCodes)['ORIGIN_UNREACHABLE' | 'ORIGIN_TIMEOUT' | 'ORIGIN_INCOMPLETE' | 'ORIGIN_UNSUPPORTED'];

function failure(code: OriginCode, message: string = CATALOGUE[code].message): OriginFailure {
  return { kind: 'error', status: CATALOGUE[code].status, code, message };
}

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const INCOMPLETE = new Set(['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_ABORTED', 'ECONNRESET', 'UND_ERR_SOCKET']);

/** A response framed with a transfer coding other than chunked (RFC 9112 §6.1). */
export function unsupportedCoding(): OriginFailure {
  return failure(ErrorCodes.ORIGIN_UNSUPPORTED);
}

/** Maps an undici or socket error onto the status and stable code a client sees. */
export function classifyOriginError(err: unknown, phase: 'headers' | 'body'): OriginFailure {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  if (TIMEOUTS.has(code)) {
    const what = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connecting to' : code === 'UND_ERR_BODY_TIMEOUT' ? 'reading the body from' : 'waiting for';
    return failure(ErrorCodes.ORIGIN_TIMEOUT, `timed out ${what} the origin`);
  }
  if (code === 'ECONNREFUSED') return failure(ErrorCodes.ORIGIN_UNREACHABLE, 'the origin refused the connection');
  if (phase === 'body' || INCOMPLETE.has(code)) return failure(ErrorCodes.ORIGIN_INCOMPLETE);
  if (code.startsWith('HPE_')) return failure(ErrorCodes.ORIGIN_UNREACHABLE, 'the origin sent a malformed response');
  return failure(ErrorCodes.ORIGIN_UNREACHABLE);
}

/** Every server of the upstream is down (passive or active health): nothing was sent. */
export function noHealthyServer(upstream: string): OriginFailure {
  return failure(ErrorCodes.ORIGIN_UNREACHABLE, `no healthy server in upstream ${upstream}`);
}
