import type { CacheEntry, HeaderMap, StoredValue, VaryIndex } from '../types.js';
import { entrySize, markPrepared, preparedLists } from './entry.js';
import { HOP_BY_HOP } from '../rfc9111/hop-by-hop.js';
import type { EntryCipher } from './crypto.js';
import { TOKEN } from '../rfc9111/fields.js';
import { RUNTIME_CODINGS } from './compress.js';

/**
 * The shared-tier wire format of a stored value:
 *
 *   0  4  magic "LRDR"
 *   4  1  format version (FORMAT_VERSION)
 *   5  1  kind (1 = entry, 2 = vary index, 3 = sealed entry)
 *   6  4  metadata length n, u32 big-endian
 *  10  n  metadata: an entry's binary record (below), or an index's JSON
 * 10+n    the raw body bytes (entries only)
 *
 * An entry's metadata (format 5; formats 1 to 3 held JSON, format 4 had no prepared-for
 * lists, and all are refused, as a miss) is every field but the body (and the entry's size). Numbers are big-endian; strings are kept
 * apart from the structure, end to end in three UTF-8 sections, each string's length given in
 * UTF-16 units (its length as a JS string), so a section is decoded once and cut in JS:
 *
 *   u8   flags: 1 mustRevalidate, 2 noCache, 4 authShareable, 8 etag present,
 *        16 lastModified present, 32 key present; the other bits are 0
 *   u8   lifetimeSource, an index into LIFETIME_SOURCES
 *   u8   coding: 0 none (the origin's bytes), 1 gzip, 2 br, 3 zstd (WIRE_CODINGS)
 *   u16  status
 *   u32  body length (the bytes after the metadata must be exactly this many)
 *   f64 × 8  requestTime, responseTime, initialAge, lifetime, freshUntil,
 *        staleWhileRevalidateUntil, staleIfErrorUntil, fetchDuration
 *   u32 × 4  counts: header map fields F, rawHeaders pairs R, Vary names V (and as many
 *        values), tags T
 *   u32 × 3  byte lengths of the text, tokens and values sections
 *   u32 × F  per header map field, its number of values, or 0xffffffff for a single string
 *        (a field whose value is a list, however long, stays a list)
 *   u32 × …  the length of every string, section by section, in the order below
 *   text section:   [k, the store key the value was written under, with flag 32], route,
 *                   prepared-for lists, the V Vary values, the T tags
 *   tokens section: the F header map names, the R rawHeaders names, the V Vary names
 *   values section: statusMessage, [etag], [lastModified], the header map values (field by
 *                   field), the R rawHeaders values
 *
 * Sorting the strings by what they must be lets decode check each section at once: every
 * character of the tokens section is a token character (and no token is empty), every
 * character of the values section one node:http writes in a field value.
 *
 * `headers` (the semantic map, for revalidation and 304s) and `rawHeaders` (what a hit
 * writes) are both stored: the second is not derivable from the first without the writer's
 * route settings (targeted and hidden fields), nor the first from the second (Via is
 * rewritten, consumed fields are dropped, a compressed body's fields describe the coding).
 * The prepared-for lists (entry.ts listsText: the writer's responseHeaders and targeted lists
 * and its PREPARED_BY) say which settings `rawHeaders` was made for, or are empty when the
 * writer did not know: a reader whose own lists give the same text writes `rawHeaders` as it
 * is, any other rebuilds it from `headers` (entry.ts prepareFor).
 *
 * A vary index's metadata stays JSON ({ v, kind, varyNames, variants, k }): the Lua scripts
 * that update an index atomically with its variants read and write it with cjson. Entries may
 * be encrypted and are never read by a script.
 *
 * Decoding reads every number with a bounds check against the metadata length, every string
 * within its section, and must consume the lengths, the sections and the metadata exactly; a
 * value that is cut short, has bytes left over, or holds a field that fails its check is
 * undefined, never a throw. A value read back under another key than
 * its `k` is a miss: a collision of the key hash in the Redis key, or a value copied or moved
 * to another key, is never served. The framing fields of an entry (Content-Length,
 * Transfer-Encoding) and hop-by-hop fields are never taken from storage: they are dropped on
 * decode and Content-Length is rebuilt from the body, so a stored value cannot make a
 * response claim another length than the bytes it carries. Field names must be tokens and
 * values (and the status message and validators) characters node:http writes; a coding this
 * Node cannot undo (zstd written by a newer Node) is a miss.
 *
 * The body travels as raw bytes so that binary responses cost no base64 and no escaping.
 * Anything that does not decode to a value passing these checks is a miss: the bytes may come
 * from an older or newer larder, another program sharing the Redis, or a hand-typed `SET`, and
 * a response writer must never be handed a malformed header.
 *
 * With `cache.redis.encryption`, an entry is stored sealed (kind 3): "LRDR", the version, 3,
 * then crypto.ts's sealed form of the whole entry frame (header, metadata and body); the
 * authenticated data covers those six bytes, the key id and the store key.
 */
const MAGIC = Buffer.from('LRDR', 'latin1');
export const FORMAT_VERSION = 5;
const KIND_ENTRY = 1;
const KIND_INDEX = 2;
/** An entry frame sealed with AES-256-GCM (see crypto.ts): only with `cache.redis.encryption`. */
const KIND_SEALED = 3;
const HEADER_BYTES = 10;

/** An entry's lifetimeSource on the wire is its index in this list: append only. */
const LIFETIME_SOURCES: readonly CacheEntry['lifetimeSource'][] = ['s-maxage', 'max-age', 'expires', 'heuristic', 'route', 'forced', 'none'];
const LIFETIME_SOURCE_SET: ReadonlySet<string> = new Set(LIFETIME_SOURCES);
/** An entry's coding on the wire: 0 for none, else its index in this list + 1: append only. */
const WIRE_CODINGS: readonly NonNullable<CacheEntry['coding']>[] = ['gzip', 'br', 'zstd'];

/** Bits of an entry's flags byte. */
const F_MUST_REVALIDATE = 1;
const F_NO_CACHE = 2;
const F_AUTH_SHAREABLE = 4;
const F_ETAG = 8;
const F_LAST_MODIFIED = 16;
const F_KEY = 32;
const KNOWN_FLAGS = 63;
/**
 * Bytes of an entry's metadata before its lists: flags, lifetimeSource, coding, status, body
 * length, 8 × f64, the four list counts and the three section lengths.
 */
const FIXED_BYTES = 9 + 8 * 8 + 4 * 4 + 3 * 4;
/** A header map field's value count that stands for one string (not a list). */
const ONE_VALUE = 0xffffffff;

/** Characters node:http refuses in a field value or status message (it would throw while writing). */
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
/** The tokens section: token characters only (each token's length is checked to be 1 or more). */
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$/;
/** An upper-case letter: names without one are compared as they are. */
const UPPER = /[A-Z]/;
/** Fields a stored entry never supplies: framing (rebuilt from the body) and hop-by-hop fields. */
const NEVER_FROM_STORAGE: ReadonlySet<string> = new Set(['content-length', ...HOP_BY_HOP]);

/**
 * The stored form of `value`. `key` is the store key it is written under (primary key, or
 * primary + separator + variant id); decode checks it. Throws only for a value that is not a
 * StoredValue at all (a field of the wrong type, a string that is not well-formed UTF-16).
 */
export function encode(value: StoredValue, key?: string, cipher?: EntryCipher): Buffer {
  if ('kind' in value) {
    // Indexes stay in the clear even with encryption: the index script reads them, and they
    // hold only field names and hashed variant ids; a variant is checked against the request.
    const meta = { v: value.v, kind: value.kind, varyNames: value.varyNames, variants: value.variants, ...(key === undefined ? {} : { k: key }) };
    return frame(KIND_INDEX, Buffer.from(JSON.stringify(meta), 'utf8'), undefined);
  }
  // size is derived and local (what the memory tier is charged), so it is recomputed on
  // decode rather than trusted; hits, preparedFor and prepared belong to this instance's copy
  // (prepared travels as its lists text, written below).
  const meta = entryMeta(value, key);
  if (cipher === undefined) return frame(KIND_ENTRY, meta, value.body);
  const head = frame(KIND_ENTRY, meta, undefined);
  const outer = sealedHeader();
  return Buffer.concat([outer, cipher.seal([head, value.body], (id) => sealedAad(outer, id, key))]);
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

function frame(kind: number, meta: Buffer, body: Buffer | undefined): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + meta.length + (body?.length ?? 0));
  MAGIC.copy(out, 0);
  out[4] = FORMAT_VERSION;
  out[5] = kind;
  out.writeUInt32BE(meta.length, 6);
  meta.copy(out, HEADER_BYTES);
  body?.copy(out, HEADER_BYTES + meta.length);
  return out;
}

/** An entry's binary metadata (see the layout above). */
function entryMeta(e: CacheEntry, key: string | undefined): Buffer {
  const lifetimeSource = LIFETIME_SOURCES.indexOf(e.lifetimeSource);
  const coding = e.coding === undefined ? 0 : WIRE_CODINGS.indexOf(e.coding) + 1;
  if (e.v !== 1 || lifetimeSource < 0 || (e.coding !== undefined && coding === 0) || !Number.isInteger(e.status) || e.status < 0 || e.status > 0xffff) {
    throw new TypeError('not a cache entry: v, status, lifetimeSource or coding');
  }
  const names = Object.keys(e.headers);
  const shapes: number[] = [];
  const text: string[] = key === undefined ? [e.route, preparedLists(e)] : [key, e.route, preparedLists(e)];
  text.push(...e.varyValues, ...e.tags);
  const tokens: string[] = [...names];
  const values: string[] = [e.statusMessage];
  if (e.etag !== undefined) values.push(e.etag);
  if (e.lastModified !== undefined) values.push(e.lastModified);
  for (const name of names) {
    const value = e.headers[name]!;
    if (Array.isArray(value)) {
      shapes.push(value.length);
      values.push(...value);
    } else {
      shapes.push(ONE_VALUE);
      values.push(value);
    }
  }
  const raw = e.rawHeaders;
  if (raw.length % 2 !== 0) throw new TypeError('not a cache entry: rawHeaders');
  for (let i = 0; i < raw.length; i += 2) tokens.push(raw[i]!);
  tokens.push(...e.varyNames);
  for (let i = 1; i < raw.length; i += 2) values.push(raw[i]!);
  const sections = [joined(text), joined(tokens), joined(values)];
  const lengths = text.length + tokens.length + values.length;
  const w = new Writer(Buffer.allocUnsafe(FIXED_BYTES + 4 * shapes.length + 4 * lengths + sections[0]!.bytes + sections[1]!.bytes + sections[2]!.bytes));
  w.u8(
    flag(e.mustRevalidate, F_MUST_REVALIDATE) |
      flag(e.noCache, F_NO_CACHE) |
      flag(e.authShareable, F_AUTH_SHAREABLE) |
      (e.etag === undefined ? 0 : F_ETAG) |
      (e.lastModified === undefined ? 0 : F_LAST_MODIFIED) |
      (key === undefined ? 0 : F_KEY),
  );
  w.u8(lifetimeSource);
  w.u8(coding);
  w.u16(e.status);
  w.u32(e.body.length);
  for (const t of [e.requestTime, e.responseTime, e.initialAge, e.lifetime, e.freshUntil, e.staleWhileRevalidateUntil, e.staleIfErrorUntil, e.fetchDuration]) w.f64(t);
  if (e.varyValues.length !== e.varyNames.length) throw new TypeError('not a cache entry: varyNames and varyValues');
  for (const n of [names.length, raw.length / 2, e.varyNames.length, e.tags.length]) w.u32(n);
  for (const section of sections) w.u32(section.bytes);
  for (const n of shapes) w.u32(n);
  for (const list of [text, tokens, values]) for (const s of list) w.u32(s.length);
  for (const section of sections) w.utf8(section.text, section.bytes);
  if (w.pos !== w.buf.length) throw new Error(`entry metadata: wrote ${w.pos} bytes of ${w.buf.length}`);
  return w.buf;
}

function flag(x: boolean, bit: number): number {
  if (typeof x !== 'boolean') throw new TypeError('not a cache entry: a flag is not a boolean');
  return x ? bit : 0;
}

/** A section's strings end to end, and its UTF-8 length; throws for a string UTF-8 cannot carry unchanged. */
function joined(list: readonly string[]): { text: string; bytes: number } {
  for (const s of list) {
    if (typeof s !== 'string' || !(s as string & WellFormed).isWellFormed()) throw new TypeError('not a cache entry: a string field is not well-formed text');
  }
  const text = list.join('');
  return { text, bytes: Buffer.byteLength(text, 'utf8') };
}

/** String.prototype.isWellFormed (ES2024; every Node larder runs on has it). */
interface WellFormed {
  isWellFormed(): boolean;
}

/** Writes big-endian numbers and UTF-8 text into a buffer sized for them. */
class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u8(x: number): void {
    this.buf[this.pos++] = x;
  }
  u16(x: number): void {
    this.pos = this.buf.writeUInt16BE(x, this.pos);
  }
  u32(x: number): void {
    this.pos = this.buf.writeUInt32BE(x, this.pos);
  }
  f64(x: number): void {
    if (typeof x !== 'number') throw new TypeError('not a cache entry: a time is not a number');
    this.pos = this.buf.writeDoubleBE(x, this.pos);
  }
  utf8(s: string, bytes: number): void {
    if (this.buf.write(s, this.pos, 'utf8') !== bytes) throw new Error('entry metadata: text did not fit');
    this.pos += bytes;
  }
}

/** Thrown by the readers past the end of what they read; caught in decode. */
const CUT_SHORT = new Error('value cut short');

/** Reads big-endian numbers, each checked against `end`. */
class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    private readonly end: number,
  ) {}
  /** Moves past `n` bytes; returns where they start. */
  private take(n: number): number {
    const at = this.pos;
    if (n > this.end - at) throw CUT_SHORT;
    this.pos = at + n;
    return at;
  }
  u8(): number {
    return this.buf[this.take(1)]!;
  }
  u16(): number {
    const at = this.take(2);
    return (this.buf[at]! << 8) | this.buf[at + 1]!;
  }
  u32(): number {
    const at = this.take(4);
    const b = this.buf;
    return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  }
  f64(): number {
    return this.buf.readDoubleBE(this.take(8));
  }
  get done(): boolean {
    return this.pos === this.end;
  }
  /** A count of items that take at least `each` bytes of what is left. */
  count(each: number): number {
    const n = this.u32();
    if (n * each > this.end - this.pos) throw CUT_SHORT;
    return n;
  }
}

/**
 * Takes the strings of one section in order: each is `length` UTF-16 units (read from the
 * lengths list) of the section's text, and the section must be used up exactly.
 */
class Section {
  private at = 0;
  constructor(
    private readonly text: string,
    private readonly lengths: Reader,
  ) {}
  next(): string {
    const n = this.lengths.u32();
    const at = this.at;
    if (n > this.text.length - at) throw CUT_SHORT;
    this.at = at + n;
    return this.text.slice(at, at + n);
  }
  /** A token: one character or more (the section holds token characters only). */
  token(): string {
    const s = this.next();
    if (s.length === 0) throw CUT_SHORT;
    return s;
  }
  list(n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }
  /** Whether every string and every length was taken. */
  get done(): boolean {
    return this.at === this.text.length && this.lengths.done;
  }
}

/**
 * Buffer#utf8Slice, which Buffer#toString('utf8', start, end) calls once it has checked its
 * arguments; readEntry has checked the bounds already.
 */
interface Utf8Slice {
  utf8Slice(start: number, end: number): string;
}

/**
 * The stored value, or undefined for anything that is not a valid value of this format, or
 * (when `key` is given) a value that was written under another key. Never throws.
 */
export function decode(buf: Buffer, key?: string, cipher?: EntryCipher): StoredValue | undefined {
  try {
    if (!Buffer.isBuffer(buf) || buf.length < 6) return undefined;
    if (buf[0] !== 0x4c || buf[1] !== 0x52 || buf[2] !== 0x44 || buf[3] !== 0x52) return undefined; // LRDR
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
    const metaEnd = HEADER_BYTES + metaLength;
    if (kind === KIND_ENTRY) return readEntry(buf, metaEnd, key);
    if (kind !== KIND_INDEX || metaEnd !== buf.length) return undefined;
    const meta: unknown = JSON.parse(buf.toString('utf8', HEADER_BYTES, metaEnd));
    if (key !== undefined && (!isRecord(meta) || meta['k'] !== key)) return undefined;
    return validateIndex(meta);
  } catch {
    return undefined;
  }
}

/**
 * An entry read from its binary metadata (which ends at `metaEnd`; the body is the rest of
 * `buf`) with every field checked, or undefined. The body is a view into `buf`, so whoever
 * keeps the entry (the memory tier) must copy it first (see ownBody).
 */
function readEntry(buf: Buffer, metaEnd: number, key: string | undefined): CacheEntry | undefined {
  const r = new Reader(buf, HEADER_BYTES, metaEnd);
  const flags = r.u8();
  if ((flags & ~KNOWN_FLAGS) !== 0) return undefined;
  const lifetimeSource = LIFETIME_SOURCES[r.u8()];
  if (lifetimeSource === undefined) return undefined;
  const codingByte = r.u8();
  const coding = codingByte === 0 ? undefined : WIRE_CODINGS[codingByte - 1];
  // A coding this runtime cannot undo (zstd written by a newer Node) is not served from here.
  if (codingByte !== 0 && (coding === undefined || !RUNTIME_CODINGS.includes(coding))) return undefined;
  const status = r.u16();
  if (status < 100 || status > 599) return undefined;
  const bodyLength = r.u32();
  if (bodyLength !== buf.length - metaEnd) return undefined;
  const requestTime = r.f64();
  const responseTime = r.f64();
  const initialAge = r.f64();
  const lifetime = r.f64();
  const freshUntil = r.f64();
  const staleWhileRevalidateUntil = r.f64();
  const staleIfErrorUntil = r.f64();
  const fetchDuration = r.f64();
  if (!Number.isFinite(requestTime) || !Number.isFinite(responseTime) || !Number.isFinite(fetchDuration)) return undefined;
  if (!(initialAge >= 0 && initialAge < Infinity && lifetime >= 0 && lifetime < Infinity)) return undefined;
  if (!Number.isFinite(freshUntil) || !Number.isFinite(staleWhileRevalidateUntil) || !Number.isFinite(staleIfErrorUntil)) return undefined;
  // Every count is bounded by the bytes left (4 per length or shape), so nothing large is allocated.
  const fields = r.count(8);
  const pairs = r.count(8);
  const vary = r.count(8);
  const tagCount = r.count(4);
  const textBytes = r.u32();
  const tokenBytes = r.u32();
  const valueBytes = r.u32();
  let fieldValues = 0;
  const shapes: number[] = [];
  for (let i = 0; i < fields; i++) {
    const n = r.u32();
    shapes.push(n);
    fieldValues += n === ONE_VALUE ? 1 : n;
  }
  const hasKey = (flags & F_KEY) !== 0;
  const textCount = (hasKey ? 3 : 2) + vary + tagCount;
  const tokenCount = fields + pairs + vary;
  const valueCount = 1 + ((flags & F_ETAG) === 0 ? 0 : 1) + ((flags & F_LAST_MODIFIED) === 0 ? 0 : 1) + fieldValues + pairs;
  // The three lists of lengths, then the three sections: together exactly the rest of the metadata.
  const lengthsAt = r.pos;
  const sectionsAt = lengthsAt + 4 * (textCount + tokenCount + valueCount);
  if (sectionsAt + textBytes + tokenBytes + valueBytes !== metaEnd) return undefined;
  const tokensAt = sectionsAt + textBytes;
  const valuesAt = tokensAt + tokenBytes;
  const b = buf as Buffer & Utf8Slice;
  const text = new Section(b.utf8Slice(sectionsAt, tokensAt), new Reader(buf, lengthsAt, lengthsAt + 4 * textCount));
  if (hasKey) {
    const k = text.next();
    if (key !== undefined && k !== key) return undefined;
  } else if (key !== undefined) return undefined;
  const tokenText = b.utf8Slice(tokensAt, valuesAt);
  const valueText = b.utf8Slice(valuesAt, metaEnd);
  // Every name and Vary name is a token, and every value (status message and validators
  // included) is made of characters node:http writes: one check for each whole section.
  if (!TOKEN_CHARS.test(tokenText) || INVALID_VALUE_CHAR.test(valueText)) return undefined;
  const tokenLengthsAt = lengthsAt + 4 * textCount;
  const valueLengthsAt = tokenLengthsAt + 4 * tokenCount;
  const tokens = new Section(tokenText, new Reader(buf, tokenLengthsAt, valueLengthsAt));
  // Names are compared with the framing fields in lower case; larder writes them so already.
  const mixedCase = UPPER.test(tokenText);
  const values = new Section(valueText, new Reader(buf, valueLengthsAt, sectionsAt));
  const route = text.next();
  const lists = text.next();
  const varyValues = text.list(vary);
  const tags = text.list(tagCount);
  const statusMessage = values.next();
  const etag = (flags & F_ETAG) === 0 ? undefined : values.next();
  const lastModified = (flags & F_LAST_MODIFIED) === 0 ? undefined : values.next();
  const headers: HeaderMap = {};
  for (let i = 0; i < fields; i++) {
    const name = tokens.token();
    if (NEVER_FROM_STORAGE.has(mixedCase ? name.toLowerCase() : name) || Object.hasOwn(headers, name)) return undefined;
    const shape = shapes[i]!;
    const value = shape === ONE_VALUE ? values.next() : values.list(shape);
    // An own property, as JSON.parse would make it: assigning __proto__ would set the prototype.
    if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
    else headers[name] = value;
  }
  const raw: string[] = [];
  for (let i = 0; i < pairs; i++) raw.push(tokens.token(), '');
  const varyNames: string[] = [];
  for (let i = 0; i < vary; i++) varyNames.push(tokens.token());
  for (let i = 1; i < raw.length; i += 2) raw[i] = values.next();
  if (!text.done || !tokens.done || !values.done) return undefined;
  const rawHeaders = framedFor(raw, bodyLength, mixedCase, true);
  if (rawHeaders === undefined) return undefined;
  const entry: CacheEntry = {
    v: 1,
    status,
    statusMessage,
    headers,
    rawHeaders,
    body: buf.subarray(metaEnd),
    requestTime,
    responseTime,
    initialAge,
    lifetime,
    lifetimeSource,
    freshUntil,
    staleWhileRevalidateUntil,
    staleIfErrorUntil,
    mustRevalidate: (flags & F_MUST_REVALIDATE) !== 0,
    noCache: (flags & F_NO_CACHE) !== 0,
    authShareable: (flags & F_AUTH_SHAREABLE) !== 0,
    varyNames,
    varyValues,
    tags,
    route,
    size: 0,
    fetchDuration,
  };
  if (etag !== undefined) entry.etag = etag;
  if (lastModified !== undefined) entry.lastModified = lastModified;
  if (coding !== undefined) entry.coding = coding;
  entry.size = entrySize(entry);
  if (lists !== '') markPrepared(entry, lists);
  return entry;
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
 * An entry built only from fields that check out, or undefined, from an object holding an
 * entry's fields and `bodyLength` (the form isValidStoredValue checks; decode reads the binary
 * metadata with the same checks). `body` is used as it is.
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
  if (typeof lifetimeSource !== 'string' || !LIFETIME_SOURCE_SET.has(lifetimeSource)) return false;
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
 * or hop-by-hop field, in any case: such a value is tampered with or corrupt. `mixedCase`
 * false promises that no name has an upper-case letter (they are then compared as they are).
 * `owned`: the caller owns `rawHeaders`, which is returned as it is when it needs no change.
 */
function framedFor(rawHeaders: string[], bodyLength: number, mixedCase = true, owned = false): string[] | undefined {
  const length = String(bodyLength);
  if (owned && inPlace(rawHeaders, length, mixedCase)) return rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (NEVER_FROM_STORAGE.has(mixedCase ? name.toLowerCase() : name)) {
      if (name === 'content-length' && value === length) continue;
      return undefined;
    }
    out.push(name, value);
  }
  if (out.length >= 2 && out[out.length - 2] === 'via') out.splice(out.length - 2, 0, 'content-length', length);
  else out.push('content-length', length);
  return out;
}

/**
 * Whether `raw` is already what framedFor would make of it: larder's own layout, one
 * Content-Length of `length` right before a final Via, and no other framing or hop-by-hop
 * field. framedFor then returns the list it was given (when the caller owns it) instead of a copy.
 */
function inPlace(raw: readonly string[], length: string, mixedCase: boolean): boolean {
  const n = raw.length;
  if (n < 4 || raw[n - 4] !== 'content-length' || raw[n - 3] !== length || raw[n - 2] !== 'via') return false;
  for (let i = 0; i < n - 4; i += 2) {
    const name = raw[i]!;
    if (NEVER_FROM_STORAGE.has(mixedCase ? name.toLowerCase() : name)) return false;
  }
  return true;
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
