import { describe, expect, it } from 'vitest';
import { ageHeader, currentAge, initialAge, parseAge } from '../../../src/rfc9111/age.js';
import { formatHttpDate } from '../../../src/rfc9111/dates.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('parseAge', () => {
  it('reads a non-negative integer of seconds', () => {
    expect(parseAge('0')).toBe(0);
    expect(parseAge(' 120 ')).toBe(120);
  });

  it('ignores invalid values (cache-tests age-parse)', () => {
    for (const v of ['abc', '-7200', '7200.0', '', '1e3', '+5']) expect(parseAge(v), v).toBeUndefined();
    expect(parseAge(undefined)).toBeUndefined();
  });

  it('uses the first of several values, only if it is valid', () => {
    expect(parseAge(['10', '20'])).toBe(10);
    expect(parseAge('10, 20')).toBe(10);
    expect(parseAge('old, 0')).toBeUndefined();
    expect(parseAge(['x', '20'])).toBeUndefined();
  });

  it('caps an overlarge value at 2^31', () => {
    expect(parseAge('99999999999999999999')).toBe(2147483648);
  });
});

describe('initialAge', () => {
  const requestTime = NOW - 2000;
  const responseTime = NOW;

  it('is the response delay when Date is now and there is no Age', () => {
    expect(initialAge({ date: formatHttpDate(NOW) }, requestTime, responseTime)).toBe(2000);
  });

  it('adds the response delay to the Age value', () => {
    expect(initialAge({ date: formatHttpDate(NOW), age: '30' }, requestTime, responseTime)).toBe(32_000);
  });

  it('uses the apparent age when Date is further in the past', () => {
    expect(initialAge({ date: formatHttpDate(NOW - 100_000), age: '30' }, requestTime, responseTime)).toBe(100_000);
  });

  it('never lets a Date in the future make the age negative', () => {
    expect(initialAge({ date: formatHttpDate(NOW + 60_000) }, NOW, NOW)).toBe(0);
  });

  it('treats an invalid Date as received now, and an invalid Age as absent', () => {
    expect(initialAge({ date: '0', age: 'abc' }, requestTime, responseTime)).toBe(2000);
    expect(initialAge({}, responseTime + 5, responseTime)).toBe(0);
  });
});

describe('currentAge and ageHeader', () => {
  const entry = { initialAge: 1500, responseTime: NOW };

  it('adds the resident time', () => {
    expect(currentAge(entry, NOW)).toBe(1500);
    expect(currentAge(entry, NOW + 10_000)).toBe(11_500);
  });

  it('floors to whole seconds', () => {
    expect(ageHeader(entry, NOW)).toBe('1');
    expect(ageHeader(entry, NOW + 499)).toBe('1');
    expect(ageHeader(entry, NOW + 500)).toBe('2');
  });

  it('is never negative, even when the clock goes backwards', () => {
    expect(currentAge({ initialAge: 0, responseTime: NOW }, NOW - 5000)).toBe(0);
    expect(ageHeader({ initialAge: -3000, responseTime: NOW }, NOW - 5000)).toBe('0');
  });

  it('caps at 2147483648', () => {
    expect(ageHeader({ initialAge: 3e12, responseTime: NOW }, NOW)).toBe('2147483648');
  });
});
