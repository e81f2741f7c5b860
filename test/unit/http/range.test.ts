import { describe, expect, it } from 'vitest';
import { ifRangeHolds, selectRange } from '../../../src/http/range.js';

describe('selectRange', () => {
  it('answers first-last, first- and suffix ranges', () => {
    expect(selectRange('bytes=0-1', 11)).toEqual({ kind: 'partial', start: 0, end: 1 });
    expect(selectRange('bytes=5-', 11)).toEqual({ kind: 'partial', start: 5, end: 10 });
    expect(selectRange('bytes=-3', 11)).toEqual({ kind: 'partial', start: 8, end: 10 });
    expect(selectRange('bytes=-30', 11)).toEqual({ kind: 'partial', start: 0, end: 10 });
    expect(selectRange('bytes=3-100', 11)).toEqual({ kind: 'partial', start: 3, end: 10 });
  });

  it('says unsatisfiable when the range starts past the end', () => {
    expect(selectRange('bytes=11-', 11)).toEqual({ kind: 'unsatisfiable' });
    expect(selectRange('bytes=-0', 11)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores what it does not answer: several ranges, other units, garbage, reversed', () => {
    for (const r of ['bytes=0-1,3-4', 'items=0-1', 'bytes=x', 'bytes=5-2', 'bytes=-', undefined]) {
      expect(selectRange(r, 11), String(r)).toEqual({ kind: 'full' });
    }
  });
});

describe('ifRangeHolds', () => {
  it('needs a strong ETag match or the same Last-Modified', () => {
    expect(ifRangeHolds(undefined, undefined, undefined)).toBe(true);
    expect(ifRangeHolds('"a"', '"a"', undefined)).toBe(true);
    expect(ifRangeHolds('"a"', '"b"', undefined)).toBe(false);
    expect(ifRangeHolds('W/"a"', 'W/"a"', undefined)).toBe(false);
    expect(ifRangeHolds('"a"', 'W/"a"', undefined)).toBe(false);
    const lm = 'Wed, 01 Jan 2020 00:00:00 GMT';
    expect(ifRangeHolds(lm, undefined, lm)).toBe(true);
    expect(ifRangeHolds('Thu, 02 Jan 2020 00:00:00 GMT', undefined, lm)).toBe(false);
  });
});
