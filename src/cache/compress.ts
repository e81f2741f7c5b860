import os from 'node:os';
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { CompressionSettings } from '../config/types.js';
import type { HeaderMap } from '../types.js';
import { CODINGS, codingOf, forbidsTransform, single, type Coding } from '../rfc9111/index.js';

/**
 * The zlib side of content coding: which codings this Node has, compression of a body off the
 * event loop (zlib's asynchronous API runs in libuv's thread pool), bounded in how many run at
 * once, and decoder and encoder streams for answers made on the fly.
 */

type Compressed = Exclude<Coding, 'identity'>;

/** zstd is in node:zlib from Node 22.15 / 23.8 only; it is never offered where it is absent. */
export const HAS_ZSTD = typeof (zlib as unknown as Record<string, unknown>)['createZstdCompress'] === 'function';

/** The compressed codings this runtime can produce and undo, in larder's order of preference. */
export const RUNTIME_CODINGS: readonly Compressed[] = CODINGS.filter((c) => c !== 'zstd' || HAS_ZSTD);

/** Every coding this runtime serves, identity last. */
export const SERVABLE: readonly Coding[] = [...RUNTIME_CODINGS, 'identity'];

/** The configured codings this runtime has, in the configured order; the first is the one stored. */
export function usableCodings(settings: CompressionSettings): Compressed[] {
  return settings.codings.filter((c) => RUNTIME_CODINGS.includes(c));
}

/**
 * Compression jobs running at once: at most 2 (libuv's pool has 4 threads by default, and DNS
 * and files need some), and one core fewer than the machine has, so that compressing never
 * takes every core from the event loop.
 */
const MAX_RUNNING = Math.max(1, Math.min(2, os.availableParallelism() - 1));
/** Jobs waiting beyond this are not compressed: the response is stored as the origin sent it. */
const MAX_WAITING = 64;

let running = 0;
const waiting: Array<() => void> = [];

/** The body in `coding`, or undefined when the compressor is saturated or the result is no smaller. Never rejects. */
export async function compressBody(body: Buffer, coding: Compressed, settings: CompressionSettings): Promise<Buffer | undefined> {
  if (running >= MAX_RUNNING) {
    if (waiting.length >= MAX_WAITING) return undefined;
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  running++;
  try {
    const out = await compressNow(body, coding, settings);
    return out.length < body.length ? out : undefined;
  } catch {
    return undefined;
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function compressNow(body: Buffer, coding: Compressed, settings: CompressionSettings): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer): void => (err ? reject(err) : resolve(out));
    if (coding === 'gzip') zlib.gzip(body, { level: settings.level.gzip }, done);
    else if (coding === 'br') zlib.brotliCompress(body, brotliOptions(settings.level.br, body.length), done);
    else zstd().zstdCompress(body, { params: { [zstdParams().ZSTD_c_compressionLevel]: settings.level.zstd } }, done);
  });
}

function brotliOptions(quality: number, size?: number): zlib.BrotliOptions {
  const params: Record<number, number> = { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT };
  if (size !== undefined) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = size;
  return { params };
}

/** A stream that undoes `coding`. */
export function decoder(coding: Compressed): Transform {
  if (coding === 'gzip') return zlib.createGunzip();
  if (coding === 'br') return zlib.createBrotliDecompress();
  return zstd().createZstdDecompress();
}

/** A stream that applies `coding` at the configured level. */
export function encoder(coding: Compressed, settings: CompressionSettings): Transform {
  if (coding === 'gzip') return zlib.createGzip({ level: settings.level.gzip });
  if (coding === 'br') return zlib.createBrotliCompress(brotliOptions(settings.level.br));
  return zstd().createZstdCompress({ params: { [zstdParams().ZSTD_c_compressionLevel]: settings.level.zstd } });
}

interface ZstdApi {
  zstdCompress(buf: Buffer, opts: object, cb: (err: Error | null, out: Buffer) => void): void;
  createZstdCompress(opts: object): Transform;
  createZstdDecompress(): Transform;
}

function zstd(): ZstdApi {
  return zlib as unknown as ZstdApi;
}

function zstdParams(): { ZSTD_c_compressionLevel: number } {
  return zlib.constants as unknown as { ZSTD_c_compressionLevel: number };
}

/** Compiled `cache.compression.types`: whether a Content-Type is one to compress. */
export function typeMatcher(patterns: readonly string[]): (contentType: unknown) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: Array<[string, string]> = [];
  for (const p of patterns) {
    const [type, sub] = p.split('/') as [string, string];
    if (sub === '*') prefixes.push(`${type}/`);
    else if (sub.startsWith('*+')) suffixes.push([`${type}/`, sub.slice(1)]);
    else exact.add(p);
  }
  return (contentType) => {
    const raw = single(contentType);
    if (raw === undefined) return false;
    const media = raw.split(';')[0]!.trim().toLowerCase();
    if (exact.has(media)) return true;
    if (prefixes.some((p) => media.startsWith(p))) return true;
    return suffixes.some(([t, s]) => media.startsWith(t) && media.endsWith(s) && media.length > t.length + s.length);
  };
}

const matchers = new WeakMap<readonly string[], (contentType: unknown) => boolean>();

/**
 * The coding a stored response should be compressed into, or undefined to store it as it came:
 * only a 200 without Content-Encoding (or identity), of a listed type, at least minSize, and
 * without no-transform (RFC 9110 §7.7).
 */
export function compressionFor(status: number, headers: HeaderMap, bodyLength: number, settings: CompressionSettings): Compressed | undefined {
  const coding = usableCodings(settings)[0];
  if (coding === undefined || status !== 200 || bodyLength < settings.minSize || bodyLength === 0) return undefined;
  if (codingOf(headers['content-encoding'], SERVABLE) !== 'identity' || headers['content-range'] !== undefined) return undefined;
  if (forbidsTransform(headers)) return undefined;
  let match = matchers.get(settings.types);
  if (match === undefined) {
    match = typeMatcher(settings.types);
    matchers.set(settings.types, match);
  }
  return match(headers['content-type']) ? coding : undefined;
}

/** The body with `coding` undone, in zlib's thread pool; undefined when it is corrupt or inflates beyond `cap` bytes. */
export function decodeBody(body: Buffer, coding: Compressed, cap: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (err: Error | null, out: Buffer): void => resolve(err ? undefined : out);
    const opts = { maxOutputLength: Math.max(1, cap) };
    if (coding === 'gzip') zlib.gunzip(body, opts, done);
    else if (coding === 'br') zlib.brotliDecompress(body, opts, done);
    else (zlib as unknown as { zstdDecompress(b: Buffer, o: object, cb: typeof done): void }).zstdDecompress(body, opts, done);
  });
}
