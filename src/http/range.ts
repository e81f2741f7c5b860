/**
 * Byte ranges served from a stored complete response (RFC 9110 §14). Only a single range is
 * answered with 206; several ranges get the whole representation, which §14.2 allows.
 */

export type RangeAnswer =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * RFC 9110 §14.2: a server may ignore Range; it answers a satisfiable single byte range with
 * 206, and a range that selects nothing with 416. Anything it cannot parse is ignored.
 */
export function selectRange(range: string | undefined, size: number): RangeAnswer {
  if (range === undefined) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (m === null) return { kind: 'full' };
  const [, first, last] = m;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // RFC 9110 §14.1.2: a suffix range selects the last N bytes.
    const n = Number(last);
    if (n === 0) return { kind: 'unsatisfiable' };
    if (size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'full' }; // invalid: ignore the field
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

/**
 * RFC 9110 §13.1.5: with If-Range, the range applies only if the validator still matches:
 * a strong ETag compared strongly, or a Last-Modified date equal to the stored one.
 */
export function ifRangeHolds(ifRange: string | undefined, etag: string | undefined, lastModified: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"')) return etag !== undefined && !etag.startsWith('W/') && etag === v;
  if (v.startsWith('W/')) return false;
  return lastModified !== undefined && v === lastModified.trim();
}
