import type { KeyRule } from '../config/types.js';

/**
 * The primary cache key and the exact upstream target it was built from.
 *
 * Larder forwards `target`, not the client's raw URL, so the origin always answers the
 * request the key describes: two requests that share a key also share an upstream request.
 */
export interface RequestKey {
  /** host + path + '?' + normalised query (the query part only when non-empty). */
  primary: string;
  /** Path plus normalised query, as sent to the origin. */
  target: string;
}

/** Separates the primary key from a variant id; cannot occur in a host, path or query. */
export const VARIANT_SEPARATOR = '\u0001';

export function variantKey(primary: string, variantId: string): string {
  return primary + VARIANT_SEPARATOR + variantId;
}

/**
 * Builds the key. `host` is the lower-case Host header value; `url` is the request-target
 * in origin-form (`/path?query`).
 */
export function buildKey(rule: KeyRule, host: string, url: string): RequestKey {
  const q = url.indexOf('?');
  if (q === -1) return { primary: host + url, target: url };
  const path = url.slice(0, q);
  const query = normaliseQuery(rule, url.slice(q + 1));
  const target = query === '' ? path : path + '?' + query;
  return { primary: host + target, target };
}

/**
 * Sorts the query's parameters by name (stable for repeated names) and keeps only the
 * configured ones. Parameters are compared in their encoded form: larder never decodes
 * and re-encodes what it forwards.
 */
export function normaliseQuery(rule: KeyRule, query: string): string {
  if (query === '') return '';
  const parts = query.split('&').filter((p) => p !== '');
  const kept =
    rule.query === 'all' ? parts : parts.filter((p) => (rule.query as readonly string[]).includes(paramName(p)));
  if (kept.length <= 1) return kept.join('&');
  // Array.prototype.sort is stable, so repeated names keep their relative order.
  return kept
    .map((p) => [paramName(p), p] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((e) => e[1])
    .join('&');
}

function paramName(pair: string): string {
  const eq = pair.indexOf('=');
  return eq === -1 ? pair : pair.slice(0, eq);
}
