import { describe, expect, it } from 'vitest';
import { ABSENT, parseVary, variantId, varyMatches, varyValues } from '../../../src/rfc9111/vary.js';

describe('parseVary', () => {
  it('lower-cases, trims, removes duplicates and sorts', () => {
    expect(parseVary('User-Agent, Accept-Encoding ,accept-encoding')).toEqual({
      star: false,
      names: ['accept-encoding', 'user-agent'],
    });
  });

  it('combines several lines and skips empty members', () => {
    expect(parseVary(['Accept', ' , Origin'])).toEqual({ star: false, names: ['accept', 'origin'] });
  });

  it('detects * anywhere', () => {
    expect(parseVary(' * ').star).toBe(true);
    expect(parseVary(['accept', 'origin, *']).star).toBe(true);
    expect(parseVary('x-*').star).toBe(false);
  });

  it('handles absence', () => {
    expect(parseVary(undefined)).toEqual({ star: false, names: [] });
    expect(parseVary('')).toEqual({ star: false, names: [] });
  });
});

describe('varyValues', () => {
  it('normalises whitespace and combines lines', () => {
    expect(varyValues(['accept-encoding'], { 'accept-encoding': '  gzip,\t br;q=0.8  ' })).toEqual(['gzip, br;q=0.8']);
    expect(varyValues(['accept-language'], { 'accept-language': '  en-GB,\t en;q=0.8  ' })).toEqual(['en-gb, en;q=0.8']);
    expect(varyValues(['x'], { x: ['a', 'b'] })).toEqual(varyValues(['x'], { x: 'a,b' }));
  });

  it('tells an absent header from an empty one', () => {
    const [absent] = varyValues(['origin'], {});
    const [empty] = varyValues(['origin'], { origin: '' });
    expect(absent).toBe(ABSENT);
    expect(empty).toBe('');
    expect(absent).not.toBe(empty);
  });

  it('keeps value case (values are compared as sent)', () => {
    expect(varyValues(['x'], { x: 'A' })).not.toEqual(varyValues(['x'], { x: 'a' }));
  });
});

describe('variantId', () => {
  it('is stable, short, url-safe and never empty', () => {
    const id = variantId(['gzip', 'en']);
    expect(id).toBe(variantId(['gzip', 'en']));
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(variantId([])).not.toBe('');
  });

  it('does not collide when values shift across boundaries', () => {
    const ids = new Set([
      variantId(['ab', 'c']),
      variantId(['a', 'bc']),
      variantId(['abc']),
      variantId(['abc', '']),
      variantId(['', 'abc']),
      variantId([ABSENT]),
      variantId(['']),
      variantId([]),
    ]);
    expect(ids.size).toBe(8);
  });
});

describe('varyMatches', () => {
  const entry = { varyNames: ['accept-encoding', 'origin'], varyValues: ['gzip, br', ABSENT] };

  it('matches equivalent requests', () => {
    expect(varyMatches(entry, { 'accept-encoding': 'gzip ,br' })).toBe(true);
    expect(varyMatches(entry, { 'accept-encoding': ['gzip', 'br'] })).toBe(true);
  });

  it('does not match a different or newly present value', () => {
    expect(varyMatches(entry, { 'accept-encoding': 'gzip' })).toBe(false);
    expect(varyMatches(entry, { 'accept-encoding': 'gzip, br', origin: '' })).toBe(false);
  });

  it('matches anything when the response does not vary, and refuses a corrupt entry', () => {
    expect(varyMatches({ varyNames: [], varyValues: [] }, { x: 'y' })).toBe(true);
    expect(varyMatches({ varyNames: ['a'], varyValues: [] }, {})).toBe(false);
  });
});

describe('Accept-Language normalisation', () => {
  it('drops case and whitespace but keeps the order: an origin may prefer the first listed', () => {
    const enFr = varyValues(['accept-language'], { 'accept-language': 'en, FR' });
    expect(enFr).toEqual(['en, fr']);
    expect(varyValues(['accept-language'], { 'accept-language': 'EN,fr' })).toEqual(enFr);
    expect(varyValues(['accept-language'], { 'accept-language': 'fr, en' })).not.toEqual(enFr);
  });

  it('keeps weights apart, and normalises the space around them', () => {
    const a = varyValues(['accept-language'], { 'accept-language': 'en ; q = 0.5, fr' });
    const b = varyValues(['accept-language'], { 'accept-language': 'en, fr;q=0.5' });
    expect(a).not.toEqual(b);
    expect(a).toEqual(['en;q=0.5, fr']);
    expect(varyValues(['accept-language'], { 'accept-language': 'en;;q' })).toEqual(['en;;q']);
    expect(varyValues(['accept-language'], {})).not.toEqual(varyValues(['accept-language'], { 'accept-language': '' }));
  });
});
