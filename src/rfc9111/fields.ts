/**
 * Helpers for reading field lines, shared by the rules in this folder. A field value arrives
 * as node:http gives it: one string, an array of lines, or (from a careless caller) anything.
 */

/** RFC 9110 §5.6.2: token = 1*tchar; a field name (§5.1) and a directive name are tokens. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The string lines of a field value; anything that is not a string is dropped. */
export function lines(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * The first line of a field value, for fields whose first occurrence counts (RFC 9111 §4.2.1
 * allows using the first of several values), or undefined when there is none.
 */
export function single(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' ? v : undefined;
}

/** A duration or age that cannot be negative, infinite or NaN: such a value counts as 0. */
export function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The Via member larder adds (RFC 9110 §7.6.3): protocol version 1.1, pseudonym "larder". */
export const VIA = '1.1 larder';

/**
 * RFC 9110 §7.6.3: a proxy appends its own member to the Via field of each message it
 * forwards, in both directions, and keeps the members before it.
 */
export function appendVia(value: string | number | readonly string[] | undefined, member: string = VIA): string {
  if (value === undefined) return member;
  return (Array.isArray(value) ? value.join(', ') : String(value)) + ', ' + member;
}
