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
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  for (const line of items) {
    if (typeof line !== 'string') continue;
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
 */
export function stripHopByHop<T extends Record<string, unknown>>(headers: T): T {
  const out: Record<string, unknown> = {};
  const listed = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'connection') for (const n of connectionOptions(value)) listed.add(n);
  }
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    out[name] = value;
  }
  return out as T;
}
