import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { matchRoute, normaliseHost } from '../../../src/config/routes.js';
import { yaml } from './helpers.js';

const config = parseConfig(
  yaml(
    'routes:',
    '  - { name: admin-api, match: { path: /api/**, host: admin.example.com } }',
    '  - { name: auth, match: /api/auth/**, cache: false }',
    '  - { name: writes, match: { path: /api/**, methods: [POST, put] } }',
    '  - { name: products, match: /api/products/** }',
    '  - { name: one-level, match: /files/* }',
    '  - { name: wildcard-host, match: { host: "*.cdn.example.com", methods: [GET] } }',
    '  - { name: dotted, match: /** }',
  ),
  { env: {} },
);

const route = (method: string, host: string, path: string) => matchRoute(config, method, host, path).name;

describe('matchRoute', () => {
  it('matches path globs, ** including the directory itself', () => {
    expect(route('GET', 'x', '/api/auth/login')).toBe('auth');
    expect(route('GET', 'x', '/api/auth')).toBe('auth');
    expect(route('GET', 'x', '/api/products/1/reviews')).toBe('products');
    expect(route('GET', 'x', '/files/a.txt')).toBe('one-level');
    expect(route('GET', 'x', '/files/a/b.txt')).toBe('dotted');
  });

  it('ignores the query string', () => {
    expect(route('GET', 'x', '/api/products/1?page=2&sort=asc')).toBe('products');
    expect(route('GET', 'x', '/files/a?x=/y/z')).toBe('one-level');
  });

  it('is case-sensitive on the path', () => {
    expect(route('GET', 'x', '/API/products/1')).toBe('dotted');
  });

  it('matches the host case-insensitively and without port', () => {
    expect(route('GET', 'admin.example.com', '/api/auth')).toBe('admin-api');
    expect(route('GET', 'ADMIN.Example.com:8443', '/api/auth')).toBe('admin-api');
    expect(route('GET', 'other.example.com', '/api/auth')).toBe('auth');
  });

  it('matches host globs', () => {
    expect(route('GET', 'img.cdn.example.com', '/anything')).toBe('wildcard-host');
    expect(route('GET', 'a.b.cdn.example.com:80', '/x')).toBe('wildcard-host');
    expect(route('GET', 'cdn.example.com', '/x')).toBe('dotted');
  });

  it('matches methods; GET implies HEAD; default any', () => {
    expect(route('POST', 'x', '/api/anything')).toBe('writes');
    expect(route('PUT', 'x', '/api/anything')).toBe('writes');
    expect(route('DELETE', 'x', '/api/anything')).toBe('dotted');
    expect(route('HEAD', 'img.cdn.example.com', '/x')).toBe('wildcard-host');
    expect(route('POST', 'img.cdn.example.com', '/x')).toBe('dotted');
    expect(route('DELETE', 'x', '/api/auth/x')).toBe('auth');
  });

  it('takes the first match in file order', () => {
    // /api/products/** would match, but writes comes first for POST.
    expect(route('POST', 'x', '/api/products/1')).toBe('writes');
    expect(route('GET', 'x', '/api/products/1')).toBe('products');
  });

  it('matches dot segments such as /.well-known', () => {
    expect(route('GET', 'x', '/.well-known/security.txt')).toBe('dotted');
  });

  it('falls back to the default route', () => {
    const empty = parseConfig('{}', { env: {} });
    expect(matchRoute(empty, 'GET', 'x', '/')).toBe(empty.defaultRoute);
    const narrow = parseConfig(yaml('routes:', '  - { name: a, match: /a }'), { env: {} });
    expect(matchRoute(narrow, 'GET', 'x', '/b')).toBe(narrow.defaultRoute);
    expect(matchRoute(narrow, 'GET', 'x', '/a/b')).toBe(narrow.defaultRoute);
    expect(matchRoute(narrow, 'GET', 'x', '/a')).toBe(narrow.routes[0]);
  });
});

describe('normaliseHost', () => {
  it.each([
    ['example.com', 'example.com'],
    ['Example.COM:8080', 'example.com'],
    ['[::1]:8080', '[::1]'],
    ['[::1]', '[::1]'],
    ['', ''],
  ])('%j → %j', (input, output) => {
    expect(normaliseHost(input)).toBe(output);
  });
});
