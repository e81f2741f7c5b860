import { createHash } from 'node:crypto';
import type { CacheEntry, RequestInfo } from '../types.js';
import { TOKEN, lines } from './fields.js';

/** Stands for "the request did not carry this field", which differs from an empty field. */
export const ABSENT = '\u0000';

/**
 * RFC 9110 §12.5.5: Vary is `*` or a list of case-insensitive field names; `*` means the
 * response varies on something beyond the request's fields. A member that is not a field
 * name (RFC 9110 §5.1: a token; "Accept-Encoding Accept-Language", a control character) cannot be matched against a
 * request, so it counts as `*`: never reused, rather than shared across what it meant to split.
 */
export function parseVary(value: string | string[] | undefined): { star: boolean; names: string[] } {
  const names = new Set<string>();
  let star = false;
  for (const part of lines(value).join(',').split(',')) {
    const name = part.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase();
    if (name === '') continue;
    if (name === '*' || !TOKEN.test(name)) star = true;
    else names.add(name);
  }
  return { star, names: [...names].sort() };
}

/**
 * RFC 9111 §4.1: values match after combining field lines, adding or removing whitespace where
 * the syntax allows it, so lines are joined with ", ", whitespace runs collapse to one space
 * and spaces around commas are normalised.
 */
function normalise(value: unknown): string {
  const parts = lines(value);
  if (parts.length === 0) return ABSENT;
  return parts
    .join(', ')
    .replace(/[ \t]+/g, ' ')
    .replace(/ ?, ?/g, ', ')
    .trim();
}

/** The request's values for the Vary names, in the order of `names`; the secondary key. */
export function varyValues(names: readonly string[], reqHeaders: RequestInfo['headers']): string[] {
  return names.map((name) => {
    const value = normalise(reqHeaders[name]);
    return name === 'accept-language' ? normaliseLanguages(value) : value;
  });
}

/**
 * RFC 9111 §4.1: a cache may normalise Vary'd fields using knowledge of their semantics.
 * Accept-Language (RFC 9110 §12.5.4) is case-insensitive, so case is dropped, and so is the
 * whitespace around ";" and "=". The order of the list is kept: an origin may pick the first
 * language it has among equal weights, so "fr, en" and "en, fr" can select different
 * representations and must not share a variant.
 */
function normaliseLanguages(value: string): string {
  if (value === ABSENT || value === '') return value;
  return value.toLowerCase().replace(/[ \t]*([;=])[ \t]*/g, '$1');
}

/**
 * A short id for a set of Vary values. Each value is length-prefixed so that no choice of
 * values can collide by concatenation, and UTF-16 bytes keep the encoding injective.
 */
export function variantId(values: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(String(values.length), 'utf8');
  for (const v of values) {
    const s = typeof v === 'string' ? v : String(v);
    hash.update(`:${s.length}:`, 'utf8');
    hash.update(s, 'utf16le');
  }
  // 128 bits: collision-resistant for the handful of variants per URL, and short in keys.
  return hash.digest('base64url').slice(0, 22);
}

/** RFC 9111 §4.1: a stored response is reusable only if every field it varies on matches. */
export function varyMatches(
  entry: Pick<CacheEntry, 'varyNames' | 'varyValues'>,
  reqHeaders: RequestInfo['headers'],
): boolean {
  const names = Array.isArray(entry.varyNames) ? entry.varyNames : [];
  const stored = Array.isArray(entry.varyValues) ? entry.varyValues : [];
  if (names.length !== stored.length) return false;
  // Most entries vary on nothing: no allocation on that path, which every hit takes.
  if (names.length === 0) return true;
  const current = varyValues(names, reqHeaders);
  for (let i = 0; i < current.length; i++) if (current[i] !== stored[i]) return false;
  return true;
}
