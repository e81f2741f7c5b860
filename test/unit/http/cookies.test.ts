import { describe, expect, it } from 'vitest';
import { applyCookiePolicy, keepCookies } from '../../../src/http/cookies.js';

describe('cookies policy', () => {
  it('keeps only the named cookies, sorted by name, repeated names in order', () => {
    expect(keepCookies('sid=1; lang=fr; currency=EUR', ['currency', 'lang'])).toBe('currency=EUR; lang=fr');
    expect(keepCookies('lang=fr;lang=en ;  x=1', ['lang'])).toBe('lang=fr; lang=en');
    expect(keepCookies('sid=1; =lang; lang', ['lang'])).toBe('');
    expect(keepCookies('langx=1; xlang=2', ['lang'])).toBe('');
  });

  it('strips, filters or keeps the Cookie field', () => {
    const h = (cookie?: string): { cookie?: string } => (cookie === undefined ? {} : { cookie });
    const strip = h('sid=1');
    applyCookiePolicy(strip, 'strip');
    expect(strip).toEqual({});
    const list = h('sid=1; lang=fr');
    applyCookiePolicy(list, ['lang']);
    expect(list).toEqual({ cookie: 'lang=fr' });
    const none = h('sid=1');
    applyCookiePolicy(none, ['lang']);
    expect(none).toEqual({});
    const keep = h('sid=1');
    applyCookiePolicy(keep, 'keep');
    expect(keep).toEqual({ cookie: 'sid=1' });
  });
});
