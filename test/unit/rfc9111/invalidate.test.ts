import { describe, expect, it } from 'vitest';
import { invalidationTargets } from '../../../src/rfc9111/invalidate.js';

const hrefs = (urls: URL[]) => urls.map((u) => u.href);
const target = new URL('http://example.com/items/1?x=1#frag');

describe('invalidationTargets', () => {
  it('invalidates the target URI after a 2xx or 3xx', () => {
    expect(hrefs(invalidationTargets(target, 204, {}))).toEqual(['http://example.com/items/1?x=1']);
    expect(hrefs(invalidationTargets(target, 303, {}))).toEqual(['http://example.com/items/1?x=1']);
  });

  it('does nothing after an error or an interim status', () => {
    expect(invalidationTargets(target, 404, { location: '/a' })).toEqual([]);
    expect(invalidationTargets(target, 500, {})).toEqual([]);
    expect(invalidationTargets(target, 100, {})).toEqual([]);
  });

  it('adds same-origin Location and Content-Location, resolved against the target', () => {
    const out = invalidationTargets(target, 201, {
      location: '/items/2',
      'content-location': 'http://EXAMPLE.com:80/items/3',
    });
    expect(hrefs(out)).toEqual([
      'http://example.com/items/1?x=1',
      'http://example.com/items/2',
      'http://example.com/items/3',
    ]);
  });

  it('ignores other origins (scheme, host or port) and bad URLs', () => {
    const out = invalidationTargets(target, 200, { location: 'https://example.com/a', 'content-location': 'http://evil.com/b' });
    expect(hrefs(out)).toEqual(['http://example.com/items/1?x=1']);
    expect(hrefs(invalidationTargets(target, 200, { location: 'http://example.com:8080/a' }))).toHaveLength(1);
    expect(hrefs(invalidationTargets(target, 200, { location: 'http://[bad', 'content-location': '' }))).toHaveLength(1);
  });

  it('does not repeat the target', () => {
    expect(invalidationTargets(target, 200, { 'content-location': '/items/1?x=1' })).toHaveLength(1);
  });

  it('does not return the caller URL object itself', () => {
    expect(invalidationTargets(target, 200, {})[0]).not.toBe(target);
    expect(target.hash).toBe('#frag');
  });
});
