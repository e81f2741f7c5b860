import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize } from '../../../src/config/units.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['0s', 0],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['90m', 5_400_000],
  ])('%s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['5 minutes', '-5s', '1.5h', '1h30m', '5', '', 's', '5S', '5w', ' 5s', '5s '])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/expected a duration such as 30s, 5m or 1h, got/);
  });

  it('tells a bare number to take a unit', () => {
    expect(() => parseDuration(300 as unknown as string)).toThrow('write 300s or 300ms');
  });

  it('rejects values beyond safe integers', () => {
    expect(() => parseDuration('99999999999999999d')).toThrow(/too large/);
  });
});

describe('parseSize', () => {
  it.each([
    ['100b', 100],
    ['512kb', 512 * 1024],
    ['8mb', 8 * 1024 ** 2],
    ['8MB', 8 * 1024 ** 2],
    ['1Gb', 1024 ** 3],
    ['1024', 1024],
    [4096, 4096],
    [0, 0],
  ])('%j → %i bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['8 mb', '-1kb', '1.5mb', '8m', '1tb', 'big', '', '8kib'])('rejects %j', (text) => {
    expect(() => parseSize(text)).toThrow(/expected a size such as 512kb, 8mb or 1gb, got/);
  });

  it.each([-1, 1.5, Number.MAX_SAFE_INTEGER + 2])('rejects the number %d', (n) => {
    expect(() => parseSize(n)).toThrow(/a bare number is bytes/);
  });
});
