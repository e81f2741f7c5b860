import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normalisePath, resolveRequest, splitAbsolute } from '../../../src/http/target.js';
import { buildConfig } from '../../../src/config/load.js';

describe('normalisePath', () => {
  it('removes dot-segments, plain and encoded (RFC 3986 §5.2.4)', () => {
    expect(normalisePath('/a/b/../c')).toBe('/a/c');
    expect(normalisePath('/a/%2e%2e/c')).toBe('/c');
    expect(normalisePath('/a/%2E./c')).toBe('/c');
    expect(normalisePath('/a/.%2e/c')).toBe('/c');
    expect(normalisePath('/a/./c')).toBe('/a/c');
    expect(normalisePath('/../../x')).toBe('/x');
    expect(normalisePath('/a/..')).toBe('/');
    expect(normalisePath('/a/b/.')).toBe('/a/b/');
    expect(normalisePath('/a/b/..')).toBe('/a/');
  });

  it('decodes unreserved escapes and upper-cases the others (RFC 3986 §6.2.2)', () => {
    expect(normalisePath('/%61%7e%2D')).toBe('/a~-');
    expect(normalisePath('/%3f%2f%25')).toBe('/%3F%2F%25');
  });

  it('merges empty segments and keeps a trailing slash', () => {
    expect(normalisePath('//a///b/')).toBe('/a/b/');
    expect(normalisePath('/')).toBe('/');
  });

  it('returns the same string when there is nothing to do', () => {
    const p = '/api/v1/items;x=1';
    expect(normalisePath(p)).toBe(p);
  });

  it('refuses a dot-segment with path parameters', () => {
    expect(normalisePath('/a/..;/b')).toEqual({ problem: expect.any(String) });
    expect(normalisePath('/a/%2e;x/b')).toEqual({ problem: expect.any(String) });
  });

  it('is idempotent: what it returns is already normal', () => {
    const seg = fc.constantFrom('a', '.', '..', '%2e', '%2E', '%2f', '%61', '', 'b;c', '%25', '~', '%7E');
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 8 }), (segs) => {
        const once = normalisePath('/' + segs.join('/'));
        if (typeof once !== 'string') return;
        expect(normalisePath(once)).toBe(once);
        expect(once.startsWith('/')).toBe(true);
        expect(once.split('/').includes('..')).toBe(false);
      }),
    );
  });
});

describe('splitAbsolute', () => {
  it('takes the authority and an origin-form target', () => {
    expect(splitAbsolute('http://A.example:8080/x?y')).toEqual({ authority: 'a.example:8080', target: '/x?y' });
    expect(splitAbsolute('https://a.example')).toEqual({ authority: 'a.example', target: '/' });
    expect(splitAbsolute('http://a.example?q')).toEqual({ authority: 'a.example', target: '/?q' });
    expect(splitAbsolute('http://u@a.example/')).toEqual({ problem: expect.any(String) });
    expect(splitAbsolute('http:///x')).toEqual({ problem: expect.any(String) });
  });
});

describe('resolveRequest', () => {
  const config = buildConfig(
    {
      listen: '127.0.0.1:0',
      origin: 'http://127.0.0.1:1',
      routes: [
        { name: 'auth', match: '/api/auth/**', cache: false },
        { name: 'static', match: '/static/**', ttl: '5m', key: { query: ['v'] } },
      ],
    },
    {},
  );

  it('routes and keys the normalised path', () => {
    const r = resolveRequest(config, 'GET', 'Shop.Test', '/static/%2e%2e/api/auth/x?b=1');
    if ('problem' in r) throw new Error(r.problem);
    expect(r.route.name).toBe('auth');
    expect(r.host).toBe('shop.test');
    expect(r.target).toBe('/api/auth/x?b=1');
    expect(r.key.primary).toBe('shop.test/api/auth/x?b=1');
  });

  it('forwards the route key query for keyed requests and the whole query otherwise', () => {
    const r = resolveRequest(config, 'GET', 'h', '/static/./a.css?utm=1&v=2');
    if ('problem' in r) throw new Error(r.problem);
    expect(r.target).toBe('/static/a.css?utm=1&v=2');
    expect(r.key.target).toBe('/static/a.css?v=2');
  });

  it('refuses encoded slashes by default', () => {
    expect(resolveRequest(config, 'GET', 'h', '/static/..%2fapi/auth/x')).toEqual({ problem: expect.any(String) });
    expect(resolveRequest(config, 'GET', 'h', '*')).toEqual({ problem: expect.any(String) });
  });

  it('takes the authority of an absolute-form target', () => {
    const r = resolveRequest(config, 'GET', 'victim.example', 'http://other.example/static/a');
    if ('problem' in r) throw new Error(r.problem);
    expect(r.key.primary).toBe('other.example/static/a');
  });
});
