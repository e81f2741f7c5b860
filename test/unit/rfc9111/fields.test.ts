import { describe, expect, it } from 'vitest';
import { TOKEN, VIA, appendVia, lines, nonNegative, single } from '../../../src/rfc9111/fields.js';

describe('field helpers', () => {
  it('reads lines and the first line of any value', () => {
    expect(lines('a')).toEqual(['a']);
    expect(lines(['a', 1, 'b'])).toEqual(['a', 'b']);
    expect(lines(undefined)).toEqual([]);
    expect(single(['a', 'b'])).toBe('a');
    expect(single([])).toBeUndefined();
    expect(single(42)).toBeUndefined();
  });

  it('matches tokens (RFC 9110 §5.6.2)', () => {
    expect(TOKEN.test('max-age')).toBe(true);
    expect(TOKEN.test('a b')).toBe(false);
    expect(TOKEN.test('')).toBe(false);
  });

  it('keeps durations non-negative and finite', () => {
    expect(nonNegative(5)).toBe(5);
    expect(nonNegative(-1)).toBe(0);
    expect(nonNegative(NaN)).toBe(0);
    expect(nonNegative(Infinity)).toBe(0);
  });

  it('appends the Via member after the ones already there (RFC 9110 §7.6.3)', () => {
    expect(appendVia(undefined)).toBe(VIA);
    expect(appendVia('1.0 a')).toBe(`1.0 a, ${VIA}`);
    expect(appendVia(['1.0 a', '1.1 b'])).toBe(`1.0 a, 1.1 b, ${VIA}`);
    expect(appendVia('1.0 a', '1.1 other')).toBe('1.0 a, 1.1 other');
  });
});
