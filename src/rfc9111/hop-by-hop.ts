import { lines } from './fields.js';

/**
 * RFC 9110 §7.6.1: connection-specific fields that apply to one hop only and must not be
 * forwarded or stored. Proxy-Connection and Keep-Alive are legacy fields treated the same way.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The lower-case field names listed in Connection (RFC 9110 §7.6.1 connection-option). */
export function connectionOptions(value: unknown): Set<string> {
  const out = new Set<string>();
  for (const line of lines(value)) {
    for (const part of line.split(',')) {
      const name = part.trim().toLowerCase();
      if (name !== '') out.add(name);
    }
  }
  return out;
}

/**
 * RFC 9110 §7.6.1: an intermediary removes the hop-by-hop fields and every field named in
 * Connection before forwarding a message. Returns a new object; the input is untouched.
 * This runs on every forwarded request and response, so it makes one pass over the names
 * and parses Connection only when it names more than keep-alive or close.
 */
export function stripHopByHop<T extends Record<string, unknown>>(headers: T): T {
  const out: Record<string, unknown> = {};
  const names = Object.keys(headers);
  let listed: Set<string> | undefined;
  for (const name of names) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    const value = headers[name];
    if (value === 'keep-alive' || value === 'close') continue;
    listed ??= new Set();
    for (const n of connectionOptions(value)) listed.add(n);
  }
  for (const name of names) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (listed !== undefined && listed.has(lower))) continue;
    out[name] = headers[name];
  }
  return out as T;
}
