import { describe, expect, it } from 'vitest';
import { formatHttpDate, parseHttpDate } from '../../../src/rfc9111/dates.js';

const T = Date.UTC(1994, 10, 6, 8, 49, 37); // Sun, 06 Nov 1994 08:49:37 GMT

describe('parseHttpDate', () => {
  it('parses the three RFC 9110 formats to the same instant', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(T);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(T);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(T);
    expect(parseHttpDate('Sun Nov 16 08:49:37 1994')).toBe(Date.UTC(1994, 10, 16, 8, 49, 37));
  });

  it('is lenient about case and surrounding white space', () => {
    expect(parseHttpDate('  sun, 06 NOV 1994 08:49:37 gmt ')).toBe(T);
  });

  it('rejects doubled spaces inside the date (invalid_multiple_spaces regression)', () => {
    expect(parseHttpDate('Thu, 18  Aug  2050 02:01:18 GMT')).toBeUndefined();
    expect(parseHttpDate('Sun, 06 Nov 1994  08:49:37 GMT')).toBeUndefined();
    expect(parseHttpDate('Sun  Nov  6 08:49:37 1994')).toBeUndefined();
  });

  it('handles years outside 1970-2038', () => {
    expect(parseHttpDate('Tue, 19 Jan 2038 14:14:08 GMT')).toBe(2147523248000);
    expect(parseHttpDate('Sun, 21 Nov 2286 04:46:39 GMT')).toBe(Date.UTC(2286, 10, 21, 4, 46, 39));
    expect(parseHttpDate('Thu, 01 Jan 1970 00:00:00 GMT')).toBe(0);
    expect(parseHttpDate('Fri, 01 Jan 0099 00:00:00 GMT')).toBe(-59042995200000);
  });

  it('maps RFC 850 two-digit years with the 50-year rule when given now', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', now)).toBe(Date.UTC(2050, 7, 18, 2, 1, 18));
    expect(parseHttpDate('Saturday, 01-Jan-77 00:00:00 GMT', now)).toBe(Date.UTC(1977, 0, 1));
    expect(parseHttpDate('Sunday, 01-Jan-76 00:00:00 GMT', now)).toBe(Date.UTC(2076, 0, 1));
  });

  it('maps RFC 850 two-digit years with the POSIX pivot without now', () => {
    expect(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT')).toBe(Date.UTC(2050, 7, 18, 2, 1, 18));
    expect(parseHttpDate('Saturday, 01-Jan-77 00:00:00 GMT')).toBe(Date.UTC(1977, 0, 1));
  });

  it('accepts leap second 60 as :59', () => {
    expect(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT')).toBe(Date.UTC(2016, 11, 31, 23, 59, 59));
  });

  it('uses the first of several lines', () => {
    expect(parseHttpDate(['Sun, 06 Nov 1994 08:49:37 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT'])).toBe(T);
    expect(parseHttpDate(['garbage', 'Sun, 06 Nov 1994 08:49:37 GMT'])).toBeUndefined();
  });

  it('rejects invalid values', () => {
    for (const v of [
      '0',
      '-1',
      '',
      'garbage',
      '1994-11-06T08:49:37Z',
      'Sun, 06 Nov 1994 08:49:37 +0000',
      'Sun, 06 Nov 1994 08:49:37 UTC',
      'Sun, 06 Nov 1994 08:49 GMT',
      'Sun, 31 Feb 1994 08:49:37 GMT',
      'Sun, 06 Foo 1994 08:49:37 GMT',
      'Xyz, 06 Nov 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 24:00:00 GMT',
      'Sun, 06 Nov 1994 08:60:00 GMT',
      'Sun, 00 Nov 1994 08:49:37 GMT',
      'Sun, 06 Nov 94 08:49:37 GMT',
      'Sunday, 06-Nov-1994 08:49:37 GMT',
      'Sun Nov  6 08:49:37 1994 GMT',
    ]) {
      expect(parseHttpDate(v), v).toBeUndefined();
    }
    expect(parseHttpDate(undefined)).toBeUndefined();
    expect(parseHttpDate([])).toBeUndefined();
  });
});

describe('formatHttpDate', () => {
  it('writes IMF-fixdate', () => {
    expect(formatHttpDate(T)).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(formatHttpDate(Date.UTC(2026, 0, 1, 0, 0, 0, 999))).toBe('Thu, 01 Jan 2026 00:00:00 GMT');
  });

  it('round-trips through parseHttpDate at second precision', () => {
    const t = Date.UTC(2031, 5, 30, 12, 0, 5);
    expect(parseHttpDate(formatHttpDate(t + 700))).toBe(t);
  });

  it('never throws on out-of-range input', () => {
    expect(formatHttpDate(NaN)).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
    expect(formatHttpDate(-5)).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
    expect(formatHttpDate(1e20)).toBe('Fri, 31 Dec 9999 23:59:59 GMT');
  });
});
