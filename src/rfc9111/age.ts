import type { CacheEntry, HeaderMap } from '../types.js';
import { DELTA_SECONDS_MAX } from './cache-control.js';
import { parseHttpDate } from './dates.js';
import { nonNegative, single } from './fields.js';

/**
 * RFC 9111 §5.1: Age is a non-negative integer of seconds, and a cache ignores an invalid
 * value. With several values (several lines, or a list on one line) only the first counts,
 * and only if it is valid. Returns seconds.
 */
export function parseAge(value: string | string[] | undefined): number | undefined {
  const line = single(value);
  if (line === undefined) return undefined;
  const first = line.split(',')[0]!.trim();
  if (!/^[0-9]+$/.test(first)) return undefined;
  // RFC 9111 §1.2.2: an overlarge delta-seconds is taken as 2^31.
  return Math.min(Number(first), DELTA_SECONDS_MAX);
}

/**
 * RFC 9111 §4.2.3: corrected_initial_age = max(apparent_age, age_value + response_delay), where
 * apparent_age = max(0, response_time - date_value) and response_delay = response_time -
 * request_time. Returns ms.
 */
export function initialAge(headers: HeaderMap, requestTime: number, responseTime: number): number {
  const date = parseHttpDate(headers['date']);
  // RFC 9110 §6.6.1: a response without a valid Date is dated on receipt, so its apparent age is 0.
  const apparentAge = date === undefined ? 0 : nonNegative(responseTime - date);
  const ageValue = (parseAge(headers['age']) ?? 0) * 1000;
  const correctedAgeValue = ageValue + nonNegative(responseTime - requestTime);
  return Math.max(apparentAge, correctedAgeValue);
}

/** RFC 9111 §4.2.3: current_age = corrected_initial_age + resident_time (now - response_time). ms. */
export function currentAge(entry: Pick<CacheEntry, 'initialAge' | 'responseTime'>, now: number): number {
  return nonNegative(entry.initialAge) + nonNegative(now - entry.responseTime);
}

/**
 * RFC 9111 §5.1: Age is sent in whole seconds; a value past 2^31 is sent as 2147483648.
 */
export function ageHeader(entry: Pick<CacheEntry, 'initialAge' | 'responseTime'>, now: number): string {
  const seconds = Math.floor(currentAge(entry, now) / 1000);
  return String(Math.min(seconds, DELTA_SECONDS_MAX));
}
