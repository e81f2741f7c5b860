import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from '../../../src/http/proxy-protocol.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = family;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

function v4body(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

describe('PROXY protocol v1', () => {
  it('reads TCP4, TCP6 and UNKNOWN, and says where the header ends', () => {
    const text = 'PROXY TCP4 203.0.113.7 10.0.0.1 51234 8080\r\nGET / HTTP/1.1\r\n';
    expect(parseProxyHeader(Buffer.from(text))).toEqual({ kind: 'ok', length: text.indexOf('GET'), source: '203.0.113.7', sourcePort: 51234 });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 ::1 1 2\r\n'))).toMatchObject({ kind: 'ok', source: '2001:db8::1' });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ kind: 'ok', length: 15 });
  });

  it('waits for more bytes, and refuses what is not a header', () => {
    expect(parseProxyHeader(Buffer.from('PRO')).kind).toBe('more');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')).kind).toBe('more');
    for (const bad of [
      'GET / HTTP/1.1\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
      'PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n',
      'PROXY TCP4 ::1 5.6.7.8 1 2\r\n',
      'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
    ]) {
      expect(parseProxyHeader(Buffer.from(bad)).kind, bad).toBe('bad');
    }
  });
});

describe('PROXY protocol v2', () => {
  it('reads PROXY over TCP/IPv4 and IPv6, and LOCAL without an address', () => {
    const h = v2(1, 0x11, v4body([198, 51, 100, 9], [10, 0, 0, 1], 40000, 443));
    expect(parseProxyHeader(Buffer.concat([h, Buffer.from('rest')]))).toEqual({ kind: 'ok', length: h.length, source: '198.51.100.9', sourcePort: 40000 });
    const six = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(six, 0);
    six.writeUInt16BE(1234, 32);
    expect(parseProxyHeader(v2(1, 0x21, six))).toMatchObject({ kind: 'ok', source: '2001:db8::1', sourcePort: 1234 });
    const mapped = Buffer.alloc(36);
    Buffer.from('00000000000000000000ffffc0000201', 'hex').copy(mapped, 0);
    expect(parseProxyHeader(v2(1, 0x21, mapped))).toMatchObject({ source: '::ffff:192.0.2.1' });
    expect(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0)))).toEqual({ kind: 'ok', length: 16 });
    // TLVs after the addresses are skipped.
    const tlv = v2(1, 0x11, Buffer.concat([v4body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), Buffer.from([0x04, 0x00, 0x01, 0x00])]));
    expect(parseProxyHeader(tlv)).toMatchObject({ kind: 'ok', length: tlv.length, source: '1.2.3.4' });
  });

  it('waits for the announced length, and refuses bad versions, commands, families and sizes', () => {
    const h = v2(1, 0x11, v4body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    for (let n = 1; n < h.length; n++) expect(parseProxyHeader(h.subarray(0, n)).kind, String(n)).toBe('more');
    const version = Buffer.from(h);
    version[12] = 0x11;
    expect(parseProxyHeader(version).kind).toBe('bad');
    const command = Buffer.from(h);
    command[12] = 0x22;
    expect(parseProxyHeader(command).kind).toBe('bad');
    expect(parseProxyHeader(v2(1, 0x12, v4body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2))).kind).toBe('bad');
    expect(parseProxyHeader(v2(1, 0x11, Buffer.alloc(4))).kind).toBe('bad');
    expect(parseProxyHeader(v2(1, 0x51, Buffer.alloc(12))).kind).toBe('bad');
    const huge = Buffer.from(h);
    huge.writeUInt16BE(60000, 14);
    expect(parseProxyHeader(huge).kind).toBe('bad');
  });

  it('never throws on random bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(Math.random() * 64);
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = Math.floor(Math.random() * 256);
      if (i % 2 === 0) SIG.copy(b, 0, 0, Math.min(12, n));
      expect(() => parseProxyHeader(b)).not.toThrow();
    }
  });
});
