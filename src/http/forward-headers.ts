import type { IncomingMessage } from 'node:http';
import { HOP_BY_HOP, appendVia, connectionOptions } from '../rfc9111/index.js';
import { acceptsTrailers } from './respond.js';
import { forwardedFields } from './trusted-proxies.js';

/**
 * Fields a cache fill must not forward: the fill asks for the full representation so it can
 * be stored, and the client's own conditions and ranges are then answered from the entry.
 */
const FILL_DROP: ReadonlySet<string> = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']);

/** A GET or HEAD carries no body upstream, whatever the client sent (framing fields go too). */
const NO_BODY: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'expect']);

/**
 * The headers sent to the origin for a cacheable GET or HEAD: the client's end-to-end
 * fields, Host as resolved, X-Forwarded-For appended to, X-Forwarded-Proto and X-Forwarded-Host set by
 * larder: a client cannot choose them, a peer on trustedProxies can (http/trusted-proxies.ts), and Via.
 */
export function originHeaders(req: IncomingMessage, host: string, fill: boolean): Record<string, string | string[]> {
  const src = req.headers as Record<string, string | string[] | undefined>;
  const names = Object.keys(src);
  // RFC 9110 §7.6.1: the fields named in Connection go with it (the server removed them
  // already on HTTP/1.1; this holds for every way a request arrives).
  let listed: Set<string> | undefined;
  for (const name of names) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    const value = src[name];
    if (value === 'keep-alive' || value === 'close') continue;
    listed ??= new Set();
    for (const n of connectionOptions(value)) listed.add(n);
  }
  // One pass, in the client's order, with no field deleted afterwards.
  const out: Record<string, string | string[]> = {};
  for (const name of names) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (listed !== undefined && listed.has(lower))) continue;
    if (NO_BODY.has(name) || (fill && FILL_DROP.has(name))) continue;
    // The authority the request was routed and keyed on (an absolute-form target's, RFC 9112 §3.2.2).
    // An HTTP/1.0 request without Host leaves it to the origin client, which sends the origin's.
    if (name === 'host') {
      if (host !== '') out['host'] = host;
      continue;
    }
    const v = src[name];
    if (v !== undefined) out[name] = v;
  }
  if (host !== '' && out['host'] === undefined) out['host'] = host;
  // TE is hop-by-hop, but larder can take trailer fields itself, and relays them to a client
  // that asked for them (RFC 9110 §10.1.4): say so to the origin on its behalf.
  if (acceptsTrailers(req.headers.te)) out['te'] = 'trailers';
  const xff = out['x-forwarded-for'];
  Object.assign(out, forwardedFields(req, host, xff === undefined ? undefined : Array.isArray(xff) ? xff.join(', ') : xff));
  out['via'] = appendVia(out['via']);
  return out;
}
