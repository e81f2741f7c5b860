import type { CacheEntry, HeaderMap, StoredValue, VaryIndex } from '../types.js';
import { entrySize } from './entry.js';
import { HOP_BY_HOP } from '../rfc9111/hop-by-hop.js';
import type { EntryCipher } from './crypto.js';
import { TOKEN } from '../rfc9111/fields.js';
import { RUNTIME_CODINGS } from './compress.js';

/**
 * The shared-tier wire format of a stored value:
 *
 *   0  4  magic "LRDR"
 *   4  1  format version (FORMAT_VERSION)
 *   5  1  kind (1 = entry, 2 = vary index)
 *   6  4  metadata length, u32 big-endian
 *  10  n  metadata: JSON of every field except the body (and an entry's size), plus `k`, the
 *          store key the value was written under
 *          (format 3 added an entry's `coding`: the content coding larder compressed the body
 *          into; format 2 values are refused, and so is a coding this Node cannot undo)
 * 10+n    the raw body bytes (entries only)
 *
 * A value read back under another key than its `k` is a miss: a collision of the key hash in
 * the Redis key, or a value copied or moved to another key, is never served. The framing
 * fields of an entry (Content-Length, Transfer-Encoding) and hop-by-hop fields are never
 * taken from storage: they are dropped on decode and Content-Length is rebuilt from the body,
 * so a stored value cannot make a response claim another length than the bytes it carries.
 *
 * The body travels as raw bytes so that binary responses cost no base64 and no JSON
 * escaping. Anything that does not decode to a value passing `validate*` is a miss: the
 * bytes may come from an older or newer larder, another program sharing the Redis, or a
 * hand-typed `SET`, and a response writer must never be handed a malformed header.
 */
const MAGIC = Buffer.from('LRDR', 'latin1');
export const FORMAT_VERSION = 3;
const KIND_ENTRY = 1;
const KIND_INDEX = 2;
/** An entry frame sealed with AES-256-GCM (see crypto.ts): only with `cache.redis.encryption`. */
const KIND_SEALED = 3;
const HEADER_BYTES = 10;

const LIFETIME_SOURCES: ReadonlySet<string> = new Set(['s-maxage', 'max-age', 'expires', 'heuristic', 'route', 'forced', 'none']);
/** RFC 9110 §5.6.2 token: what node:http accepts as a field name. */
/** Characters node:http refuses in a field value or status message (it would throw while writing). */
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
/** Fields a stored entry never supplies: framing (rebuilt from the body) and hop-by-hop fields. */
const NEVER_FROM_STORAGE: ReadonlySet<string> = new Set(['content-length', ...HOP_BY_HOP]);

/**
 * The stored form of `value`. `key` is the store key it is written under (primary key, or
 * primary + separator + variant id); decode checks it.
 */
export function encode(value: StoredValue, key?: string, cipher?: EntryCipher): Buffer {
  const k = key === undefined ? {} : { k: key };
  if ('kind' in value) {
    // Indexes stay in the clear even with encryption: the index script reads them, and they
    // hold only field names and hashed variant ids; a variant is checked against the request.
    const meta = { v: value.v, kind: value.kind, varyNames: value.varyNames, variants: value.variants, ...k };
    return frame(KIND_INDEX, meta, undefined);
  }
  // size is derived and local (what the memory tier is charged), so it is recomputed on
  // decode rather than trusted; bodyLength lets decode detect a truncated value.
  // hits and preparedFor belong to this instance's copy.
  const { body, size: _size, hits: _hits, preparedFor: _prepared, ...meta } = value;
  const fullMeta = { ...meta, bodyLength: body.length, ...k };
  if (cipher === undefined) return frame(KIND_ENTRY, fullMeta, body);
  const head = Buffer.from(frame(KIND_ENTRY, fullMeta, undefined));
  const outer = sealedHeader();
  return Buffer.concat([outer, cipher.seal([head, body], (id) => sealedAad(outer, id, key))]);
}

function sealedHeader(): Buffer {
  const h = Buffer.allocUnsafe(6);
  MAGIC.copy(h, 0);
  h[4] = FORMAT_VERSION;
  h[5] = KIND_SEALED;
  return h;
}

/** What a sealed entry's tag covers besides the ciphertext: the frame header, the key id and the store key. */
function sealedAad(outer: Buffer, id: Buffer, key: string | undefined): Buffer {
  return Buffer.concat([outer.subarray(0, 6), id, Buffer.from(key ?? '', 'utf8')]);
}

function frame(kind: number, meta: object, body: Buffer | undefined): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + json.length + (body?.length ?? 0));
  MAGIC.copy(out, 0);
  out[4] = FORMAT_VERSION;
  out[5] = kind;
  out.writeUInt32BE(json.length, 6);
  json.copy(out, HEADER_BYTES);
  body?.copy(out, HEADER_BYTES + json.length);
  return out;
}

/**
 * The stored value, or undefined for anything that is not a valid value of this format, or
 * (when `key` is given) a value that was written under another key. Never throws.
 */
export function decode(buf: Buffer, key?: string, cipher?: EntryCipher): StoredValue | undefined {
  try {
    if (!Buffer.isBuffer(buf) || buf.length < 6) return undefined;
    if (buf.compare(MAGIC, 0, MAGIC.length, 0, MAGIC.length) !== 0) return undefined;
    if (buf[4] !== FORMAT_VERSION) return undefined;
    const kind = buf[5];
    if (kind === KIND_SEALED) {
      if (cipher === undefined) return undefined;
      const plain = cipher.open(buf.subarray(6), (id) => sealedAad(buf, id, key));
      if (plain === undefined || plain[5] !== KIND_ENTRY) return undefined;
      return decode(plain, key);
    }
    // With encryption on, an entry in the clear was not written by this deployment.
    if (kind === KIND_ENTRY && cipher !== undefined) return undefined;
    if (buf.length < HEADER_BYTES) return undefined;
    const metaLength = buf.readUInt32BE(6);
    if (metaLength > buf.length - HEADER_BYTES) return undefined;
    const meta: unknown = JSON.parse(buf.toString('utf8', HEADER_BYTES, HEADER_BYTES + metaLength));
    if (key !== undefined && (!isRecord(meta) || meta['k'] !== key)) return undefined;
    const rest = buf.subarray(HEADER_BYTES + metaLength);
    if (kind === KIND_INDEX) return rest.length === 0 ? validateIndex(meta) : undefined;
    if (kind === KIND_ENTRY) return validateEntry(meta, rest);
    return undefined;
  } catch {
    return undefined;
  }
}

/** A vary index built only from fields that check out, or undefined. */
export function validateIndex(m: unknown): VaryIndex | undefined {
  if (!isRecord(m) || m['v'] !== 1 || m['kind'] !== 'vary') return undefined;
  const varyNames = m['varyNames'];
  const variants = m['variants'];
  if (!isArrayOf(varyNames, isToken) || !isArrayOf(variants, isNonEmptyString)) return undefined;
  return { v: 1, kind: 'vary', varyNames, variants };
}

/**
 * An entry built only from fields that check out, or undefined. `body` is used as it is: it
 * may be a view into a larger read buffer, so whoever keeps the entry (the memory tier) must
 * copy it first (see ownBody).
 */
export function validateEntry(m: unknown, body: Buffer): CacheEntry | undefined {
  if (!isRecord(m) || m['v'] !== 1) return undefined;
  const raw = checkHead(m, body);
  if (raw === undefined || !checkTimes(m) || !checkMeta(m)) return undefined;
  // Every field below was checked by the three functions above.
  const f = m as unknown as Omit<CacheEntry, 'rawHeaders' | 'body' | 'size'>;
  const entry: CacheEntry = {
    v: 1,
    status: f.status,
    statusMessage: f.statusMessage,
    headers: f.headers,
    rawHeaders: raw,
    body,
    requestTime: f.requestTime,
    responseTime: f.responseTime,
    initialAge: f.initialAge,
    lifetime: f.lifetime,
    lifetimeSource: f.lifetimeSource,
    freshUntil: f.freshUntil,
    staleWhileRevalidateUntil: f.staleWhileRevalidateUntil,
    staleIfErrorUntil: f.staleIfErrorUntil,
    mustRevalidate: f.mustRevalidate,
    noCache: f.noCache,
    authShareable: f.authShareable,
    ...(f.etag === undefined ? {} : { etag: f.etag }),
    ...(f.lastModified === undefined ? {} : { lastModified: f.lastModified }),
    varyNames: f.varyNames,
    varyValues: f.varyValues,
    tags: f.tags,
    route: f.route,
    size: 0,
    fetchDuration: f.fetchDuration,
    ...(f.coding === undefined ? {} : { coding: f.coding }),
  };
  entry.size = entrySize(entry);
  return entry;
}

/** Status line and fields; returns the header list to write, with framing rebuilt from the body. */
function checkHead(m: Record<string, unknown>, body: Buffer): string[] | undefined {
  const { status, statusMessage, headers, rawHeaders, bodyLength } = m;
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599) return undefined;
  if (!isFieldValue(statusMessage) || !isHeaderMap(headers)) return undefined;
  if (!isArrayOf(rawHeaders, isString) || rawHeaders.length % 2 !== 0) return undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!isToken(rawHeaders[i]) || !isFieldValue(rawHeaders[i + 1])) return undefined;
  }
  if (bodyLength !== body.length) return undefined;
  // Framing comes from the body alone. larder stores one Content-Length equal to the body's
  // length and no other framing or hop-by-hop field: anything else was not written by larder.
  const raw = framedFor(rawHeaders, body.length);
  return raw === undefined || hasFraming(headers) ? undefined : raw;
}

/** The times and flags the freshness decisions read. */
function checkTimes(m: Record<string, unknown>): boolean {
  const { requestTime, responseTime, initialAge, lifetime, lifetimeSource, freshUntil, staleWhileRevalidateUntil, staleIfErrorUntil } = m;
  if (!isFiniteNumber(requestTime) || !isFiniteNumber(responseTime)) return false;
  if (!isFiniteNumber(initialAge) || initialAge < 0 || !isFiniteNumber(lifetime) || lifetime < 0) return false;
  if (typeof lifetimeSource !== 'string' || !LIFETIME_SOURCES.has(lifetimeSource)) return false;
  if (!isFiniteNumber(freshUntil) || !isFiniteNumber(staleWhileRevalidateUntil) || !isFiniteNumber(staleIfErrorUntil)) return false;
  return typeof m['mustRevalidate'] === 'boolean' && typeof m['noCache'] === 'boolean' && typeof m['authShareable'] === 'boolean';
}

/** Validators, Vary values, tags, route and fetch time. */
function checkMeta(m: Record<string, unknown>): boolean {
  const { etag, lastModified, varyNames, varyValues, tags, route, fetchDuration, coding } = m;
  // A coding this runtime cannot undo (zstd written by a newer Node) is not served from here.
  if (coding !== undefined && !(typeof coding === 'string' && (RUNTIME_CODINGS as readonly string[]).includes(coding))) return false;
  if (etag !== undefined && !isFieldValue(etag)) return false;
  if (lastModified !== undefined && !isFieldValue(lastModified)) return false;
  if (!isArrayOf(varyNames, isToken) || !isArrayOf(varyValues, isString)) return false;
  if (varyNames.length !== varyValues.length) return false;
  return isArrayOf(tags, isString) && typeof route === 'string' && isFiniteNumber(fetchDuration);
}

/**
 * The header list to write, rebuilt: the stored fields less Content-Length, and a
 * Content-Length of `bodyLength` where larder writes it (before the final Via). Undefined
 * when the stored list carries a Content-Length that is not the body's, or any other framing
 * or hop-by-hop field, in any case: such a value is tampered with or corrupt.
 */
function framedFor(rawHeaders: string[], bodyLength: number): string[] | undefined {
  const length = String(bodyLength);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (NEVER_FROM_STORAGE.has(name.toLowerCase())) {
      if (name === 'content-length' && value === length) continue;
      return undefined;
    }
    out.push(name, value);
  }
  if (out.length >= 2 && out[out.length - 2] === 'via') out.splice(out.length - 2, 0, 'content-length', length);
  else out.push('content-length', length);
  return out;
}

/** Whether a stored header map names a framing or hop-by-hop field (larder never stores one). */
function hasFraming(headers: HeaderMap): boolean {
  for (const name of Object.keys(headers)) if (NEVER_FROM_STORAGE.has(name.toLowerCase())) return true;
  return false;
}

/**
 * The body in an allocation of its own, copied only when it is a view into a larger buffer
 * (a Redis reply is a slice of the socket's read buffer; Buffer.from would place small
 * bodies in a shared 8 KB pool slab). What the memory tier charges is then what it holds.
 */
export function ownBody(src: Buffer): Buffer {
  if (src.byteOffset === 0 && src.buffer.byteLength === src.length) return src;
  const out = Buffer.allocUnsafeSlow(src.length);
  src.copy(out);
  return out;
}

/** Whether a value has the shape `decode` can produce; for callers that accept values from elsewhere. */
export function isValidStoredValue(value: unknown): value is StoredValue {
  if (!isRecord(value)) return false;
  if (value['kind'] !== undefined) return validateIndex(value) !== undefined;
  const body = value['body'];
  if (!Buffer.isBuffer(body)) return false;
  const decoded = validateEntry({ ...value, bodyLength: body.length }, body);
  return decoded !== undefined && decoded.size === value['size'];
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isString(x: unknown): x is string {
  return typeof x === 'string';
}

function isNonEmptyString(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0;
}

function isToken(x: unknown): x is string {
  return typeof x === 'string' && TOKEN.test(x);
}

function isFieldValue(x: unknown): x is string {
  return typeof x === 'string' && !INVALID_VALUE_CHAR.test(x);
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function isArrayOf<T>(x: unknown, item: (y: unknown) => y is T): x is T[] {
  return Array.isArray(x) && x.every(item);
}

function isHeaderMap(x: unknown): x is HeaderMap {
  if (!isRecord(x)) return false;
  for (const name of Object.keys(x)) {
    if (!isToken(name)) return false;
    const value = x[name];
    if (Array.isArray(value) ? !value.every(isFieldValue) : !isFieldValue(value)) return false;
  }
  return true;
}
