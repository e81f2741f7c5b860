/**
 * The PROXY protocol (v1 text, v2 binary) that a load balancer sends at the start of a
 * connection to name the client it accepted. A listener with `proxyProtocol: true` reads it
 * before anything else (before TLS); the source address becomes the client address.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type ProxyHeader =
  /** Not enough bytes yet. */
  | { kind: 'more' }
  /** Not a valid header: the connection is closed. */
  | { kind: 'bad'; reason: string }
  /** `length` bytes are the header; `source` is absent for LOCAL / UNKNOWN (health checks). */
  | { kind: 'ok'; length: number; source?: string; sourcePort?: number };

/** v1: "PROXY " ... CRLF, at most 107 bytes (its specification's bound). */
const V1_MAX = 107;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Largest v2 header larder accepts (addresses plus TLVs). */
export const V2_MAX = 16 + 1024;

/** Whether `buf` could still be the start of `prefix`. */
function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

/** Reads a PROXY header at the start of `buf`. */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (buf.length === 0) return { kind: 'more' };
  if (startsLike(buf, V2_SIGNATURE) && buf[0] === 0x0d) return parseV2(buf);
  if (startsLike(buf, V1_PREFIX)) return parseV1(buf);
  return { kind: 'bad', reason: 'no PROXY protocol header' };
}

const PORT = /^(0|[1-9][0-9]{0,4})$/;

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end === -1) return buf.length >= V1_MAX ? { kind: 'bad', reason: 'PROXY v1 header longer than 107 bytes' } : { kind: 'more' };
  if (end + 2 > V1_MAX) return { kind: 'bad', reason: 'PROXY v1 header longer than 107 bytes' };
  const parts = buf.toString('latin1', 0, end).split(' ');
  if (parts[1] === 'UNKNOWN') return { kind: 'ok', length: end + 2 };
  if (parts.length !== 6) return { kind: 'bad', reason: 'PROXY v1 header without its six fields' };
  const [, family, src = '', dst = '', sport = '', dport = ''] = parts;
  const valid = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (valid === undefined) return { kind: 'bad', reason: 'PROXY v1 protocol is neither TCP4, TCP6 nor UNKNOWN' };
  if (!valid(src) || !valid(dst)) return { kind: 'bad', reason: 'PROXY v1 address does not match its family' };
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) {
    return { kind: 'bad', reason: 'PROXY v1 port out of range' };
  }
  return { kind: 'ok', length: end + 2, source: src, sourcePort: Number(sport) };
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return { kind: 'more' };
  const version = buf[12]! >> 4;
  const command = buf[12]! & 0x0f;
  if (version !== 2) return { kind: 'bad', reason: 'PROXY v2 version is not 2' };
  if (command > 1) return { kind: 'bad', reason: 'PROXY v2 command is neither LOCAL nor PROXY' };
  const length = 16 + buf.readUInt16BE(14);
  if (length > V2_MAX) return { kind: 'bad', reason: 'PROXY v2 header over 1040 bytes' };
  if (buf.length < length) return { kind: 'more' };
  // LOCAL: the balancer's own connection (a health check): the peer is the client.
  if (command === 0) return { kind: 'ok', length };
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  if (family === 0) return { kind: 'ok', length };
  if (transport !== 1) return { kind: 'bad', reason: 'PROXY v2 transport is not TCP' };
  const body = buf.subarray(16, length);
  if (family === 1) {
    if (body.length < 12) return { kind: 'bad', reason: 'PROXY v2 IPv4 addresses cut short' };
    return { kind: 'ok', length, source: `${body[0]}.${body[1]}.${body[2]}.${body[3]}`, sourcePort: body.readUInt16BE(8) };
  }
  if (family === 2) {
    if (body.length < 36) return { kind: 'bad', reason: 'PROXY v2 IPv6 addresses cut short' };
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16));
    return { kind: 'ok', length, source: compressIPv6(groups), sourcePort: body.readUInt16BE(32) };
  }
  // AF_UNIX carries no IP address: the peer stays the client.
  if (family === 3) return { kind: 'ok', length };
  return { kind: 'bad', reason: 'PROXY v2 address family unknown' };
}

/** Eight hex groups → the shortest form (the longest run of zero groups as "::"). */
function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === -1) return groups.join(':');
  const mapped = best === 0 && bestLen === 5 && groups[5] === 'ffff';
  if (mapped) {
    const a = parseInt(groups[6]!, 16);
    const b = parseInt(groups[7]!, 16);
    return `::ffff:${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
