import { STATUS_CODES, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors.js';
import type { CacheEntry, CacheResult, HeaderMap } from '../types.js';
import { HOP_BY_HOP, VIA, ageHeader, appendVia, connectionOptions, notModifiedHeaders, stripHopByHop } from '../rfc9111/index.js';
import { ifRangeHolds, selectRange, type RangeAnswer } from './range.js';
import { TOKEN } from '../rfc9111/fields.js';
import { hiddenBy } from '../config/response-fields.js';

/**
 * What every answer to a client leaves out, decided once per request by the handler:
 * `debug` says whether X-Cache, Cache-Status and X-Cache-Hits go out (debugHeaders), and
 * `hidden` is the route's responseHeaders list, fields meant for caches only.
 */
export interface Reply {
  debug: boolean;
  hidden: readonly string[];
  /** X-Cache-Hits of an answer from an entry: the requests it has answered, this one included (0 for a MISS). */
  hits: number;
}

/** Appends larder's report on the cache (when the request may see it); `hits` as X-Cache-Hits. */
export function pushReport(headers: string[], reply: Reply, xCache: CacheResult, cacheStatus: string, hits = reply.hits): void {
  if (reply.debug) headers.push('x-cache', xCache, 'cache-status', cacheStatus, 'x-cache-hits', String(hits));
}

/**
 * Writes a stored entry. The prepared header list is copied once and three fields are
 * appended; nothing is parsed.
 */
export function writeEntry(
  res: ServerResponse,
  entry: CacheEntry,
  now: number,
  xCache: CacheResult,
  cacheStatus: string,
  reply: Reply,
  head: boolean,
  range?: string,
  ifRange?: string,
): void {
  if (range !== undefined && entry.status === 200 && ifRangeHolds(ifRange, entry.etag, entry.lastModified)) {
    const answer = selectRange(range, entry.body.length);
    if (answer.kind !== 'full') return writeRange(res, entry, now, xCache, cacheStatus, reply, head, answer);
  }
  const headers = entry.status === 204 ? withoutContentLength(entry.rawHeaders) : entry.rawHeaders.slice();
  headers.push('age', ageHeader(entry, now));
  pushReport(headers, reply, xCache, cacheStatus);
  res.writeHead(entry.status, entry.statusMessage, headers);
  if (head) res.end();
  else res.end(entry.body);
}

/** A 206 or 416 cut from the stored body (RFC 9110 §15.3.7, §15.5.17). */
function writeRange(
  res: ServerResponse,
  entry: CacheEntry,
  now: number,
  xCache: CacheResult,
  cacheStatus: string,
  reply: Reply,
  head: boolean,
  answer: Exclude<RangeAnswer, { kind: 'full' }>,
): void {
  const size = entry.body.length;
  const headers: string[] = [];
  for (let i = 0; i < entry.rawHeaders.length; i += 2) {
    if (entry.rawHeaders[i] !== 'content-length') headers.push(entry.rawHeaders[i]!, entry.rawHeaders[i + 1]!);
  }
  headers.push('age', ageHeader(entry, now));
  pushReport(headers, reply, xCache, cacheStatus);
  if (answer.kind === 'unsatisfiable') {
    headers.push('content-range', `bytes */${size}`, 'content-length', '0');
    res.writeHead(416, headers);
    res.end();
    return;
  }
  const part = entry.body.subarray(answer.start, answer.end + 1);
  headers.push('content-range', `bytes ${answer.start}-${answer.end}/${size}`, 'content-length', String(part.length));
  res.writeHead(206, headers);
  if (head) res.end();
  else res.end(part);
}

/** Answers a client's satisfied condition from an entry (RFC 9110 §15.4.5): no body, selected fields. */
export function writeNotModified(
  res: ServerResponse,
  entry: CacheEntry,
  now: number,
  xCache: CacheResult,
  cacheStatus: string,
  reply: Reply,
): void {
  const selected = notModifiedHeaders(entry.headers);
  const hide = hiddenBy(reply.hidden);
  for (const name of Object.keys(selected)) if (hide(name)) delete selected[name];
  const headers = flatten(selected);
  headers.push('age', ageHeader(entry, now), 'via', VIA);
  pushReport(headers, reply, xCache, cacheStatus);
  res.writeHead(304, headers);
  res.end();
}

/** Writes a response that was fetched but not stored. */
export function writeFetched(
  res: ServerResponse,
  status: number,
  statusMessage: string,
  originHeaders: HeaderMap,
  body: Buffer | undefined,
  xCache: CacheResult,
  cacheStatus: string,
  reply: Reply,
  head: boolean,
  consumed: readonly string[] = [],
): void {
  writeForwardedHead(res, status, originHeaders, xCache, cacheStatus, reply, consumed, statusMessage, body?.length);
  if (head || body === undefined) res.end();
  else res.end(body);
}

/**
 * Writes the head of a response that was not stored: the origin's end-to-end fields, a
 * Content-Length (`bodyLength` when larder holds the body, else the origin's, for a body
 * relayed byte for byte as it streams), then larder's report.
 */
export function writeForwardedHead(
  res: ServerResponse,
  status: number,
  originHeaders: HeaderMap,
  xCache: CacheResult,
  cacheStatus: string,
  reply: Reply,
  consumed: readonly string[] = [],
  statusMessage = STATUS_CODES[status] ?? '',
  bodyLength?: number,
): void {
  const headers = relayedFields(originHeaders, consumed, reply.hidden);
  const length = bodyLength === undefined ? originHeaders['content-length'] : String(bodyLength);
  // RFC 9110 §8.6: a 204 has no Content-Length, and a 304's would describe a body it does not have.
  if (typeof length === 'string' && status !== 204 && status !== 304) headers.push('content-length', length);
  pushReport(headers, reply, xCache, cacheStatus, 0);
  res.writeHead(status, statusMessage, headers);
}

/** Fields of the origin's response that larder writes itself, or never relays. */
const NOT_RELAYED: ReadonlySet<string> = new Set(['content-length', 'x-cache', 'x-cache-hits', 'cache-status']);

/**
 * The origin's end-to-end fields, ready to relay, as a flat name/value list in the origin's
 * order: hop-by-hop fields and those named in Connection out (RFC 9110 §7.6.1), framing and
 * cache-report fields are larder's, `consumed` names fields larder acted on, and `hidden` (a
 * responseHeaders list) names fields meant for caches only. larder's Via member is appended
 * to the origin's Via, or added last. One pass with no intermediate object: this runs on
 * every response relayed as it streams.
 */
export function relayedFields(h: HeaderMap, consumed: readonly string[] = [], hidden: readonly string[] = []): string[] {
  const names = Object.keys(h);
  let listed: Set<string> | undefined;
  for (const name of names) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    const value = h[name];
    if (value === 'keep-alive' || value === 'close') continue;
    listed ??= new Set();
    for (const n of connectionOptions(value)) listed.add(n);
  }
  const hide = hiddenBy(hidden);
  const out: string[] = [];
  let via = false;
  for (const name of names) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (listed !== undefined && listed.has(lower))) continue;
    if (NOT_RELAYED.has(name) || hide(name) || (consumed.length !== 0 && consumed.includes(name))) continue;
    const value = h[name];
    if (name === 'via') {
      out.push('via', appendVia(value));
      via = true;
    } else if (Array.isArray(value)) {
      for (const v of value) out.push(name, v);
    } else if (value !== undefined) {
      out.push(name, value);
    }
  }
  if (!via) out.push('via', VIA);
  return out;
}

/** A 204 is written without Content-Length (RFC 9110 §8.6), whatever was prepared for the entry. */
function withoutContentLength(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i] !== 'content-length') out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/**
 * Fields never relayed in a trailer section (RFC 9110 §6.5.1): framing, routing, request
 * modifiers, authentication, response control and content metadata belong in the head,
 * and a recipient could not act on them at the end of the body.
 */
const NOT_TRAILERS = new Set([
  'age', 'authorization', 'cache-control', 'connection', 'content-encoding', 'content-length', 'content-location',
  'content-range', 'content-type', 'date', 'expect', 'expires', 'host', 'keep-alive', 'last-modified', 'location',
  'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'range', 'retry-after',
  'set-cookie', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'vary', 'warning', 'www-authenticate', 'etag',
]);

/** Whether the client said it accepts trailer fields (RFC 9110 §10.1.4, TE: trailers). */
export function acceptsTrailers(te: string | string[] | undefined): boolean {
  if (te === undefined) return false;
  for (const part of (Array.isArray(te) ? te.join(',') : te).split(',')) {
    const coding = part.split(';')[0]!.trim().toLowerCase();
    if (coding === 'trailers') return true;
  }
  return false;
}

/**
 * Relays the trailer section of a response relayed as it streams, when the client sent
 * TE: trailers and the response goes out chunked (an HTTP/1.0 client gets a body delimited
 * by the connection close, which has no room for trailers). Otherwise the fields are dropped.
 */
export function writeTrailers(res: ServerResponse, fields: HeaderMap, hidden: readonly string[] = []): void {
  const names = Object.keys(fields);
  if (names.length === 0 || !res.chunkedEncoding || res.writableEnded || !acceptsTrailers(res.req.headers.te)) return;
  const out: Array<[string, string]> = [];
  const hide = hiddenBy(hidden);
  for (const name of names) {
    if (NOT_TRAILERS.has(name) || !TOKEN.test(name) || hide(name)) continue;
    const value = fields[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (FIELD_VALUE.test(v)) out.push([name, v]);
  }
  if (out.length > 0) res.addTrailers(out);
}

/**
 * An error answer: a catalogue code, the status it goes out with, a message safe to show.
 * A LarderError is one, and so is an OriginFailure.
 */
export interface ErrorAnswer {
  code: ErrorCode;
  status: number;
  message: string;
  /** Answer with Connection: close: what follows on the connection cannot be trusted. */
  close?: boolean;
}

/** The body of every error answer on the proxy listener: `CODE: message`, one line of plain text. */
function errorBody(e: ErrorAnswer): string {
  return `${e.code}: ${e.message}\n`;
}

/**
 * Writes an error answer on the proxy listener. The handler's error path is its only caller,
 * and emits the request's Outcome when this returns true. When the response head has
 * already gone out, the client must see an aborted response rather than a complete-looking
 * one: the response is destroyed, and false says nothing was answered (the Outcome went out
 * with that head).
 */
export function writeError(res: ServerResponse, e: ErrorAnswer, xCache: CacheResult, cacheStatus: string, debug: boolean): boolean {
  if (res.headersSent) {
    res.destroy();
    return false;
  }
  const body = errorBody(e);
  const headers: OutgoingHttpHeaders = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(debug ? { 'x-cache': xCache, 'cache-status': cacheStatus, 'x-cache-hits': '0' } : {}),
  };
  if (e.close === true) {
    // node ends the connection once this is written: nothing after it on the socket is served.
    res.shouldKeepAlive = false;
    headers['connection'] = 'close';
  }
  res.writeHead(e.status, headers);
  res.end(body);
  return true;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

/**
 * The same answer as raw bytes, for a socket that has no ServerResponse: a request node's
 * parser rejected, a body found broken after the request was handed over, a refused
 * upgrade. It always closes the connection. Without `e` (a parse error) the body is empty.
 */
export function errorBytes(status: number, e?: ErrorAnswer): string {
  const body = e === undefined ? '' : errorBody(e);
  return (
    `HTTP/1.1 ${status} ${REASONS[status] ?? STATUS_CODES[status] ?? 'Error'}\r\nconnection: close\r\ncache-control: no-store\r\n` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

export function flatten(h: HeaderMap): string[] {
  const out: string[] = [];
  for (const name of Object.keys(h)) {
    const v = h[name]!;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return out;
}

/** Field names and values that can be written as they are (RFC 9110 §5.1, §5.5). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Relays an interim response (102 Processing, 103 Early Hints, ...) to the client before the
 * final one (RFC 9110 §15.2). Interim responses are never stored. 100 and 101 are node's and
 * the pass-through's business, and nothing is written once the final response has started.
 */
export function writeInterim(res: ServerResponse, status: number, headers: Record<string, string | string[]>, hidden: readonly string[] = []): void {
  if (status < 102 || status > 199 || res.headersSent || res.destroyed) return;
  const raw = (res as unknown as { _writeRaw?: (data: string, encoding: string) => boolean })._writeRaw;
  if (typeof raw !== 'function') return;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Interim'}\r\n`;
  const fields = stripHopByHop(headers);
  const hide = hiddenBy(hidden);
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    if (!TOKEN.test(name) || value === undefined || hide(name.toLowerCase())) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (FIELD_VALUE.test(v)) head += `${name}: ${v}\r\n`;
  }
  // node:http writes raw interim responses this way itself (writeProcessing, writeEarlyHints).
  raw.call(res, head + '\r\n', 'latin1');
}
