/**
 * The listen address and origin URLs: checks a JSON Schema pattern cannot make
 * (port ranges, IPv6 brackets, what `new URL` accepts).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { ListenAddress } from './types.js';
import { LISTEN_EXPECTED, ORIGIN_EXPECTED } from './schema.js';
import { quote } from './units.js';

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Loopback, so that a bare port never exposes the cache to the network by surprise. */
const BARE_PORT_HOST = '127.0.0.1';

/**
 * `"127.0.0.1:8080"`, `"[::1]:8080"`, `"0.0.0.0:8080"`, `8080` or `"8080"` → { host, port }.
 * IPv6 hosts come back without brackets, as node:net wants them.
 * @throws RangeError naming the expected form.
 */
export function parseListen(value: string | number): ListenAddress {
  const fail = (why = ''): never => {
    throw new RangeError(`expected ${LISTEN_EXPECTED}, got ${quote(value)}${why}`);
  };
  const text = String(value);
  if (/^\d+$/.test(text)) return { host: BARE_PORT_HOST, port: port(text, fail) };

  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) {
    if (!isIPv6(bracketed[1] as string)) fail(' (the part in brackets is not an IPv6 address)');
    return { host: bracketed[1] as string, port: port(bracketed[2] as string, fail) };
  }
  if (isIPv6(text) || isIPv6(text.replace(/^\[|\]$/g, ''))) fail(' (add a port, and write IPv6 addresses in brackets: [::1]:8080)');
  const colon = text.lastIndexOf(':');
  if (colon === -1) fail(` (add a port: ${text}:8080)`);
  const host = text.slice(0, colon);
  if (host.includes(':')) fail(' (write IPv6 addresses in brackets: [::1]:8080)');
  if (!isIPv4(host) && !HOSTNAME.test(host)) fail(' (the host is neither an IP address nor a host name)');
  return { host, port: port(text.slice(colon + 1), fail) };
}

function port(text: string, fail: (why?: string) => never): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) fail(' (the port must be 0 to 65535)');
  return Number(text);
}

/**
 * An origin base URL → its canonical form "scheme://host[:port]" (no trailing slash,
 * default port dropped), which the origin pool uses as its key.
 * @throws RangeError naming what to remove or fix.
 */
export function parseOrigin(value: string): string {
  const fail = (why: string): never => {
    throw new RangeError(`expected ${ORIGIN_EXPECTED}, got ${quote(value)} (${why})`);
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`the scheme must be http or https, not ${url.protocol.slice(0, -1)}`);
  if (url.username !== '' || url.password !== '') fail('remove the user name and password; send credentials from the origin side');
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(value)) {
    fail('remove the path, query and fragment: the request path is forwarded as is');
  }
  return url.origin;
}
