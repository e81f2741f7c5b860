import type { IncomingMessage } from 'node:http';
import { appendVia, stripHopByHop } from '../rfc9111/index.js';
import { acceptsTrailers } from './respond.js';
import { forwardedFields } from './trusted-proxies.js';

/**
 * Fields a cache fill must not forward: the fill asks for the full representation so it can
 * be stored, and the client's own conditions and ranges are then answered from the entry.
 */
const FILL_DROP = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range'];

/** A GET or HEAD carries no body upstream, whatever the client sent (framing fields go too). */
const NO_BODY = ['content-length', 'transfer-encoding', 'expect'];

/**
 * The headers sent to the origin for a cacheable GET or HEAD: the client's end-to-end
 * fields, Host as resolved, X-Forwarded-For appended to, X-Forwarded-Proto and X-Forwarded-Host set by
 * larder: a client cannot choose them, a peer on trustedProxies can (http/trusted-proxies.ts), and Via.
 */
export function originHeaders(req: IncomingMessage, host: string, fill: boolean): Record<string, string | string[]> {
  const src = stripHopByHop(req.headers as Record<string, string | string[] | undefined>);
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(src)) {
    const v = src[name];
    if (v !== undefined) out[name] = v;
  }
  for (const name of NO_BODY) delete out[name];
  // The authority the request was routed and keyed on (an absolute-form target's, RFC 9112 §3.2.2).
  // An HTTP/1.0 request without Host leaves it to the origin client, which sends the origin's.
  if (host === '') delete out['host'];
  else out['host'] = host;
  // TE is hop-by-hop, but larder can take trailer fields itself, and relays them to a client
  // that asked for them (RFC 9110 §10.1.4): say so to the origin on its behalf.
  if (acceptsTrailers(req.headers.te)) out['te'] = 'trailers';
  if (fill) for (const name of FILL_DROP) delete out[name];
  const xff = out['x-forwarded-for'];
  Object.assign(out, forwardedFields(req, host, xff === undefined ? undefined : Array.isArray(xff) ? xff.join(', ') : xff));
  out['via'] = appendVia(out['via']);
  return out;
}
