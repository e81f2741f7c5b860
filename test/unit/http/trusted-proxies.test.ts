import { describe, expect, it } from 'vitest';
import { isTrusted, plainAddress } from '../../../src/http/trusted-proxies.js';

describe('trustedProxies matching', () => {
  const list = ['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1'];
  it('matches IPv4 blocks and addresses, IPv4-mapped IPv6 included', () => {
    expect(isTrusted('10.1.2.3', list)).toBe(true);
    expect(isTrusted('::ffff:10.1.2.3', list)).toBe(true);
    expect(isTrusted('127.0.0.1', list)).toBe(true);
    expect(isTrusted('127.0.0.2', list)).toBe(false);
    expect(isTrusted('11.0.0.1', list)).toBe(false);
  });
  it('matches IPv6 blocks and addresses', () => {
    expect(isTrusted('fd12::1', list)).toBe(true);
    expect(isTrusted('::1', list)).toBe(true);
    expect(isTrusted('fe80::1', list)).toBe(false);
  });
  it('trusts nobody with an empty list or an unknown peer', () => {
    expect(isTrusted('10.1.2.3', [])).toBe(false);
    expect(isTrusted(undefined, list)).toBe(false);
    expect(isTrusted('not-an-ip', list)).toBe(false);
  });
  it('plainAddress unwraps IPv4-mapped IPv6 only', () => {
    expect(plainAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(plainAddress('::1')).toBe('::1');
  });
});
