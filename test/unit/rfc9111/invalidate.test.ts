import { describe, expect, it } from 'vitest';
import { INVALIDATING_METHODS, invalidationTargets, resolveReference } from '../../../src/rfc9111/invalidate.js';

const base = { host: 'example.com', target: '/items/1?x=1' };
const targets = (status: number, headers: Record<string, string>) => invalidationTargets(base, status, headers).map((t) => t.host + t.target);

describe('invalidationTargets', () => {
  it('invalidates the target URI after a 2xx or 3xx', () => {
    expect(targets(204, {})).toEqual(['example.com/items/1?x=1']);
    expect(targets(303, {})).toEqual(['example.com/items/1?x=1']);
  });

  it('does nothing after an error or an interim status', () => {
    expect(targets(404, { location: '/a' })).toEqual([]);
    expect(targets(500, {})).toEqual([]);
    expect(targets(100, {})).toEqual([]);
  });

  it('adds same-origin Location and Content-Location, resolved against the target', () => {
    expect(targets(201, { location: '/items/2', 'content-location': 'http://EXAMPLE.com:80/items/3' })).toEqual([
      'example.com/items/1?x=1',
      'example.com/items/2',
      'example.com/items/3',
    ]);
    expect(targets(201, { location: '2', 'content-location': '?y=2#top' })).toEqual([
      'example.com/items/1?x=1',
      'example.com/items/2',
      'example.com/items/1?y=2',
    ]);
    expect(targets(201, { location: '//example.com/z' })).toEqual(['example.com/items/1?x=1', 'example.com/z']);
  });

  it('keeps the reference as written for the resolver (no WHATWG re-encoding of the query)', () => {
    expect(targets(201, { location: "/echo/inv?q='x'" })).toEqual(['example.com/items/1?x=1', "example.com/echo/inv?q='x'"]);
    expect(targets(201, { location: '/a b/é' })).toEqual(['example.com/items/1?x=1', 'example.com/a%20b/%C3%A9']);
  });

  it('ignores other origins (scheme, host, port or userinfo) and junk', () => {
    expect(targets(200, { location: 'https://example.com/a', 'content-location': 'http://evil.com/b' })).toHaveLength(1);
    expect(targets(200, { location: 'http://example.com:8080/a' })).toHaveLength(1);
    expect(targets(200, { location: 'http://evil@example.com/a' })).toHaveLength(1);
    expect(targets(200, { location: 'mailto:a@example.com', 'content-location': '' })).toHaveLength(1);
    expect(targets(200, { location: 'http:/x' })).toHaveLength(1);
  });

  it('does not repeat the target', () => {
    expect(targets(200, { 'content-location': '/items/1?x=1' })).toHaveLength(1);
  });

  it('resolves relative references against the base path', () => {
    expect(resolveReference({ host: 'h', target: '/a/b/c' }, '../d')).toEqual({ host: 'h', target: '/a/b/../d' });
    expect(resolveReference({ host: 'h', target: '/' }, 'x')).toEqual({ host: 'h', target: '/x' });
  });
});

describe('INVALIDATING_METHODS', () => {
  it('holds the unsafe methods of RFC 9110 only', () => {
    expect([...INVALIDATING_METHODS].sort()).toEqual(['DELETE', 'PATCH', 'POST', 'PUT']);
    expect(INVALIDATING_METHODS.has('PURGE')).toBe(false);
  });
});
