/**
 * Who the client is, and what scheme it spoke: the peer of the connection, or the source a
 * PROXY protocol header named (http/proxy-protocol.ts); its X-Forwarded-* fields are kept
 * only when that peer is on `trustedProxies`.
 */
import { BlockList, isIPv4 } from 'node:net';

/** What larder forwards about a request's client, decided once at the door. */
export interface Forwarding {
  /** The address appended to X-Forwarded-For (the PROXY source, else the socket peer). */
  client: string;
  /** The client's scheme: the listener's, or a trusted peer's X-Forwarded-Proto. */
  proto: 'http' | 'https';
  /** A trusted peer's X-Forwarded-For, to be extended; undefined otherwise. */
  forwardedFor?: string;
  /** A trusted peer's X-Forwarded-Host, forwarded as it is (never used to route or key). */
  forwardedHost?: string;
}

/** What a connection says about its client: set on the socket by the listener (listeners.ts). */
export interface ConnectionInfo {
  /** The PROXY protocol source address, when the connection carried one. */
  source?: string;
  /** The address of the TCP peer. */
  peer: string;
  /** TLS listener. */
  secure: boolean;
}

const INFO = Symbol.for('larder.connection');
const FORWARDING = new WeakMap<object, Forwarding>();
const lists = new WeakMap<readonly string[], BlockList>();

/** Marks a socket with what its listener learned; read back through the request. */
export function setConnectionInfo(socket: object, info: ConnectionInfo): void {
  (socket as Record<symbol, ConnectionInfo>)[INFO] = info;
}

/** A socket's info; on HTTP/2, req.socket forwards property reads to the session's socket. */
export function connectionInfo(socket: object | null | undefined): ConnectionInfo | undefined {
  return socket == null ? undefined : (socket as Record<symbol, ConnectionInfo | undefined>)[INFO];
}

/** `::ffff:10.0.0.1` → `10.0.0.1`, so one IPv4 block matches both spellings. */
export function plainAddress(address: string): string {
  // Most peers are plain IPv4 or IPv6: only a "::ffff:" start can be a mapped address.
  if (address.length < 7 || address.charCodeAt(0) !== 0x3a /* : */) return address;
  const m = MAPPED_V4.exec(address);
  return m ? m[1]! : address;
}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** The compiled `trustedProxies` list (cached per config list). */
export function trustList(entries: readonly string[]): BlockList {
  let list = lists.get(entries);
  if (list === undefined) {
    list = new BlockList();
    for (const entry of entries) {
      const [address = '', bits] = entry.split('/');
      const v4 = isIPv4(address);
      const prefix = bits === undefined ? (v4 ? 32 : 128) : Number(bits);
      list.addSubnet(address, prefix, v4 ? 'ipv4' : 'ipv6');
    }
    lists.set(entries, list);
  }
  return list;
}

/** Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6) is on the list. */
export function isTrusted(address: string | undefined, entries: readonly string[]): boolean {
  if (address === undefined || address === '' || entries.length === 0) return false;
  const plain = plainAddress(address);
  try {
    return trustList(entries).check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}

interface RequestLike {
  socket: object | null;
  headers: Record<string, string | string[] | undefined>;
}

/** The peer of the request's connection: the TCP peer (a trusted proxy, or the client itself). */
function peerOf(req: RequestLike): string {
  const info = connectionInfo(req.socket);
  if (info !== undefined) return info.peer;
  return plainAddress((req.socket as { remoteAddress?: string } | null)?.remoteAddress ?? '');
}

/** The client address larder reports (X-Forwarded-For, logs): the PROXY source, else the peer. */
export function clientAddress(req: { socket: object | null }): string {
  const f = FORWARDING.get(req);
  if (f !== undefined) return f.client;
  const info = connectionInfo(req.socket);
  return info?.source ?? info?.peer ?? plainAddress((req.socket as { remoteAddress?: string } | null)?.remoteAddress ?? '');
}

const FORWARD_FIELDS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'] as const;

function joined(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Decides the request's Forwarding. From a trusted peer, its X-Forwarded-For, -Proto and -Host
 * are taken out of the headers (so that the strip list does not drop them) and kept here;
 * from anyone else they are left to the strip list.
 *
 * Only a trusted peer's decision is remembered: anyone else's is the connection's alone, and
 * forwardingOf works it out from the socket when a request is forwarded. Without
 * trustedProxies nothing is done here: a hit costs nothing for forwarding.
 */
export function decideForwarding(req: RequestLike, trusted: readonly string[]): void {
  if (trusted.length === 0) return;
  const peer = peerOf(req);
  if (!isTrusted(peer, trusted)) return;
  const f = fromConnection(req);
  const xff = joined(req.headers['x-forwarded-for']);
  const xfp = joined(req.headers['x-forwarded-proto']);
  const xfh = joined(req.headers['x-forwarded-host']);
  // The first entry is the scheme the original client spoke.
  const first = xfp?.split(',')[0]?.trim().toLowerCase();
  if (first === 'http' || first === 'https') f.proto = first;
  if (xff !== undefined && xff.trim() !== '') f.forwardedFor = xff;
  if (xfh !== undefined && xfh.trim() !== '') f.forwardedHost = xfh;
  // Kept in Forwarding; forward-headers.ts writes them, whatever the strip list says.
  for (const name of FORWARD_FIELDS) delete req.headers[name];
  FORWARDING.set(req, f);
}

/** What the connection alone says: the PROXY protocol source (else the peer) and the listener's scheme. */
function fromConnection(req: RequestLike): Forwarding {
  const info = connectionInfo(req.socket);
  // The PROXY protocol source is the client; the peer that sent it is the proxy.
  const client = info?.source ?? peerOf(req);
  const proto = info?.secure === true || (req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
  return { client, proto };
}

/** The request's Forwarding: a trusted peer's as decided at the door, else the connection's. */
export function forwardingOf(req: RequestLike): Forwarding {
  return FORWARDING.get(req) ?? fromConnection(req);
}

/**
 * The X-Forwarded-* fields sent to an origin: the chain extended with the client, the
 * client's scheme, and the trusted peer's host or else the authority routed on.
 */
export function forwardedFields(req: RequestLike, host: string, existingFor?: string): Record<string, string> {
  const f = forwardingOf(req);
  const prior = f.forwardedFor ?? existingFor;
  return {
    'x-forwarded-for': prior === undefined ? f.client : `${prior}, ${f.client}`,
    'x-forwarded-proto': f.proto,
    'x-forwarded-host': f.forwardedHost ?? host,
  };
}
