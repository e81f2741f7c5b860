import { describe, expect, it } from 'vitest';
import { HOP_BY_HOP, stripHopByHop } from '../../../src/rfc9111/hop-by-hop.js';

describe('stripHopByHop', () => {
  it('lists the hop-by-hop fields', () => {
    expect([...HOP_BY_HOP].sort()).toEqual([
      'connection',
      'keep-alive',
      'proxy-authenticate',
      'proxy-authorization',
      'proxy-connection',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
    ]);
  });

  it('removes hop-by-hop fields and every field named in Connection', () => {
    const input = {
      connection: 'keep-alive, X-Private , close',
      'keep-alive': 'timeout=5',
      'x-private': 'secret',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      te: 'trailers',
      'content-type': 'text/html',
      'set-cookie': ['a=b'],
    };
    expect(stripHopByHop(input)).toEqual({ 'content-type': 'text/html', 'set-cookie': ['a=b'] });
  });

  it('reads Connection on several lines and leaves the input untouched', () => {
    const input = { connection: ['x-a', 'x-b'], 'x-a': '1', 'x-b': '2', 'x-c': '3' };
    const out = stripHopByHop(input);
    expect(out).toEqual({ 'x-c': '3' });
    expect(out).not.toBe(input);
    expect(input['x-a']).toBe('1');
  });

  it('copes with undefined values and odd Connection values', () => {
    expect(stripHopByHop({ connection: undefined, host: 'a' })).toEqual({ host: 'a' });
    expect(stripHopByHop({ connection: 42, host: 'a' })).toEqual({ host: 'a' });
  });
});
