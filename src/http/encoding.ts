import type { ServerResponse } from 'node:http';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import type { CacheSettings, CompressionSettings } from '../config/types.js';
import type { CacheEntry, CacheResult, HeaderMap, RequestInfo } from '../types.js';
import { compressBody, compressionFor, decoder, encoder, RUNTIME_CODINGS, SERVABLE, usableCodings } from '../cache/compress.js';
import { entrySize, prepareRawHeaders, shownHeaders, withCoding } from '../cache/entry.js';
import { pushReport, type Reply } from './respond.js';
import {
  ageHeader,
  codingOf,
  identityRank,
  parseAcceptEncoding,
  preferredCoding,
  recodedHeaders,
  single,
  weightOf,
  type Coding,
  type Preference,
} from '../rfc9111/index.js';

/**
 * Content coding on the request path:
 *
 * - every cacheable request's Accept-Encoding is reduced to the one coding larder would serve
 *   it (normaliseAcceptEncoding), and that value selects variants and goes to the origin;
 * - a stored 200 of a compressible type is compressed once, off the event loop (compressEntry);
 * - each client gets the stored bytes when it accepts their coding, else a copy in a coding it
 *   accepts (made once from the stored bytes and kept with the entry, charged to memory), or,
 *   until that copy exists, the body recoded as it streams (writeRecoded).
 */

/** Parsed Accept-Encoding values, by raw value: the same few strings arrive on every request. */
const PARSED = new Map<string, Preference[]>();
const PARSED_MAX = 256;

function prefsOf(raw: unknown): Preference[] | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') return parseAcceptEncoding(raw);
  let p = PARSED.get(raw);
  if (p === undefined) {
    if (PARSED.size >= PARSED_MAX) PARSED.clear();
    p = parseAcceptEncoding(raw);
    PARSED.set(raw, p);
  }
  return p;
}

/**
 * Replaces the request's Accept-Encoding with the one coding larder would serve it (br, zstd
 * where Node has it, gzip or identity), so that the Vary value that selects a variant and the
 * field the origin receives are that one value; returns the client's own field, which decides
 * what it is served. At most one variant per coding exists for a URL.
 */
export function normaliseAcceptEncoding(headers: RequestInfo['headers']): unknown {
  const raw = headers['accept-encoding'];
  headers['accept-encoding'] = raw === undefined ? 'identity' : preferredCodingCached(raw);
  return raw;
}

const PREFERRED = new Map<string, Coding>();

function preferredCodingCached(raw: string | string[]): Coding {
  if (typeof raw !== 'string') return preferredCoding(raw, RUNTIME_CODINGS);
  let c = PREFERRED.get(raw);
  if (c === undefined) {
    if (PREFERRED.size >= PARSED_MAX) PREFERRED.clear();
    c = preferredCoding(raw, RUNTIME_CODINGS);
    PREFERRED.set(raw, c);
  }
  return c;
}

/** Whether compressEntry would compress this entry (cache.compression applies to it). */
export function needsCompression(entry: CacheEntry, settings: CacheSettings): boolean {
  return entry.coding === undefined && compressionFor(entry.status, entry.headers, entry.body.length, settings.compression) !== undefined;
}

/**
 * The entry to store for a storable response: compressed into the first configured coding
 * when compressionFor says so and the compressor is not saturated, else as it came. Runs in
 * zlib's thread pool; never rejects.
 */
export async function compressEntry(entry: CacheEntry, settings: CacheSettings): Promise<CacheEntry> {
  if (entry.coding !== undefined) return entry;
  const coding = compressionFor(entry.status, entry.headers, entry.body.length, settings.compression);
  if (coding === undefined) return entry;
  const body = await compressBody(entry.body, coding, settings.compression);
  return body === undefined ? entry : withCoding(entry, coding, body, settings.targeted);
}

/** What a client gets of an entry. */
export type Choice =
  /** The stored bytes as they are: the plain write of every hit today. */
  | { kind: 'stored' }
  /** A copy in another coding, kept with the entry, as an entry of its own. */
  | { kind: 'copy'; view: CacheEntry }
  /** The stored body recoded from `from` to `to` as it streams; `headers` are the result's. */
  | { kind: 'recode'; from: Coding; to: Coding; headers: HeaderMap };

const STORED: Choice = { kind: 'stored' };

/** Copies of an entry in other codings (entries of their own), made on demand. */
const COPIES = new WeakMap<CacheEntry, Map<Coding, CacheEntry>>();

/** The coding of the stored body: larder's own, the origin's when larder can undo it, undefined otherwise. */
function storedCoding(entry: CacheEntry): Coding | undefined {
  return entry.coding ?? codingOf(entry.headers['content-encoding'], SERVABLE);
}

/** What the client with this Accept-Encoding (its own field, not the normalised one) gets of `entry`. */
export function choose(entry: CacheEntry, acceptEncoding: unknown, settings: CompressionSettings): Choice {
  // Codings larder cannot undo are relayed as the origin sent them; empty bodies have nothing to code.
  const stored = entry.coding === undefined && entry.headers['content-encoding'] === undefined ? 'identity' : storedCoding(entry);
  if (stored === undefined || entry.body.length === 0) return STORED;
  // Most requests: the client takes what is stored (identity bodies: anyone without identity;q=0).
  const prefs = prefsOf(acceptEncoding);
  if (weightOf(prefs, stored) > 0) return STORED;
  const to = target(prefs, stored, settings);
  // A client that refuses identity and accepts nothing larder makes is answered in identity.
  if (to === stored) return STORED;
  const view = COPIES.get(entry)?.get(to);
  if (view !== undefined) return { kind: 'copy', view };
  return { kind: 'recode', from: stored, to, headers: recodedFields(entry, to) };
}

/** The coding to give a client that does not take the stored one: the best it accepts among the configured codings, else identity. */
function target(prefs: Preference[] | undefined, stored: Coding, settings: CompressionSettings): Coding {
  let best: Coding = 'identity';
  let bestQ = 0;
  for (const c of usableCodings(settings)) {
    if (c === stored) continue;
    const q = weightOf(prefs, c);
    if (q > bestQ) {
      best = c;
      bestQ = q;
    }
  }
  return bestQ > 0 && bestQ >= identityRank(prefs) ? best : 'identity';
}

/**
 * The fields of the entry recoded to `to`. For a body larder compressed, identity is exactly
 * the origin's bytes and keeps its fields (and strong ETag); everything else is a changed
 * representation (rfc9111 recodedHeaders).
 */
function recodedFields(entry: CacheEntry, to: Coding): HeaderMap {
  return recodedHeaders(entry.headers, to, entry.coding !== undefined && to === 'identity');
}

/** The fields a conditional request on the stored bytes is evaluated against, and a 304 carries. */
export function storedFields(entry: CacheEntry): HeaderMap {
  return shownHeaders(entry.headers, entry.coding);
}

/** The fields of what `choice` serves: for conditionals evaluated against it, and its 304. */
export function representationFields(entry: CacheEntry, choice: Choice): HeaderMap {
  if (choice.kind === 'copy') return choice.view.headers;
  if (choice.kind === 'recode') return choice.headers;
  return storedFields(entry);
}

/**
 * The entry as seen through other fields: for a 304 answered from it, or a conditional
 * evaluated against it. Not kept.
 */
export function withFields(entry: CacheEntry, headers: HeaderMap): CacheEntry {
  return headers === entry.headers ? entry : { ...entry, headers };
}

export interface RecodeOptions {
  res: ServerResponse;
  entry: CacheEntry;
  choice: Extract<Choice, { kind: 'recode' }>;
  now: number;
  xCache: CacheResult;
  cacheStatus: string;
  /** Who may see larder's report, and the route's hidden response fields. */
  reply: Reply;
  head: boolean;
  settings: CacheSettings;
  /**
   * Charges the memory tier for a finished copy of `bytes` (the copy as an entry of its own);
   * returns whether it was charged, and so may be kept. Not called when the copy would be
   * larger than the largest entry, or recoding failed.
   */
  charge: (bytes: number) => boolean;
}

/**
 * Writes the entry recoded as it streams: chunked on HTTP/1.1, buffered and written with its
 * Content-Length on HTTP/1.0 (whose close-delimited body could not show a failure). The
 * decoded size is bounded by cache.memory.maxEntrySize (a body that inflates beyond it is a
 * failure). A failure aborts the response: the client never sees a truncated body as complete.
 */
export function writeRecoded(o: RecodeOptions): void {
  const { res, entry, choice, settings } = o;
  const raw = prepareRawHeaders(choice.headers, 0, settings.targeted, o.reply.hidden);
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i] !== 'content-length') headers.push(raw[i]!, raw[i + 1]!);
  headers.push('age', ageHeader(entry, o.now));
  pushReport(headers, o.reply, o.xCache, o.cacheStatus);
  if (o.head) {
    res.writeHead(entry.status, entry.statusMessage, headers);
    res.end();
    return;
  }
  const cap = settings.memory.maxEntrySize;
  const stages: Transform[] = choice.from === 'identity' ? [] : [decoder(choice.from), new Bounded(cap)];
  if (choice.to !== 'identity') stages.push(encoder(choice.to, settings.compression));
  const collect = new Collect(cap);
  stages.push(collect);
  const buffered = res.req.httpVersion === '1.0';
  const done = (err: Error | null | undefined): void => {
    if (err) {
      res.destroy();
      return;
    }
    const body = collect.body();
    if (buffered) {
      if (body === undefined) return void res.destroy();
      headers.push('content-length', String(body.length));
      res.writeHead(entry.status, entry.statusMessage, headers);
      res.end(body);
    }
    if (body !== undefined) keepCopy(entry, choice.to, copyOf(entry, choice, body, settings, o.reply.hidden), o.charge);
  };
  if (buffered) {
    collect.resume();
    pipeline([Readable.from([entry.body]), ...stages], done);
    return;
  }
  res.writeHead(entry.status, entry.statusMessage, headers);
  pipeline([Readable.from([entry.body]), ...stages, res], done);
}

/** The copy as an entry of its own: the recoded fields, their header list, the new body. */
function copyOf(entry: CacheEntry, choice: Extract<Choice, { kind: 'recode' }>, body: Buffer, settings: CacheSettings, hidden: readonly string[]): CacheEntry {
  const view: CacheEntry = {
    ...entry,
    headers: choice.headers,
    rawHeaders: prepareRawHeaders(choice.headers, body.length, settings.targeted, hidden),
    preparedFor: hidden,
    body,
  };
  delete view.coding;
  const etag = single(choice.headers['etag']);
  if (etag === undefined) delete view.etag;
  else view.etag = etag;
  view.size = entrySize(view);
  return view;
}

/**
 * Keeps a copy with its entry once the memory tier has been charged for it (`charge` returns
 * whether it was). Returns whether the copy is kept.
 */
export function keepCopy(entry: CacheEntry, to: Coding, view: CacheEntry, charge: (bytes: number) => boolean): boolean {
  let copies = COPIES.get(entry);
  if (copies?.has(to)) return false;
  if (!charge(view.size)) return false;
  if (copies === undefined) {
    copies = new Map();
    COPIES.set(entry, copies);
  }
  copies.set(to, view);
  return true;
}

/** Fails once more than `cap` bytes have passed: the bound on what a stored body may inflate to. */
class Bounded extends Transform {
  private n = 0;
  constructor(private readonly cap: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    if (this.n > this.cap) cb(new Error(`decoded body larger than ${this.cap} bytes`));
    else cb(null, chunk);
  }
}

/** Passes bytes on and keeps a copy of them, up to `cap` bytes (beyond it, keeps none). */
class Collect extends Transform {
  private chunks: Buffer[] | undefined = [];
  private n = 0;
  constructor(private readonly cap: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    if (this.chunks !== undefined) {
      if (this.n > this.cap) this.chunks = undefined;
      else this.chunks.push(chunk);
    }
    cb(null, chunk);
  }
  body(): Buffer | undefined {
    return this.chunks === undefined ? undefined : Buffer.concat(this.chunks, this.n);
  }
}
