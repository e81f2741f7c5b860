/**
 * Durations and sizes as people write them in rules.yaml.
 *
 * Durations always carry a unit: a bare `300` could mean seconds (Cache-Control thinks in
 * seconds) or milliseconds (Node thinks in ms), and guessing wrong by 1000x is the kind of
 * mistake nobody notices until production. Sizes may be bare: a bare size is bytes, which
 * is the only sensible reading.
 */

/** The regular expressions below are also the JSON Schema patterns, so editors agree with us. */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$';
export const SIZE_PATTERN = '^[0-9]+([bB]|[kKmMgG][bB])?$';

export const DURATION_EXPECTED = 'a duration such as 30s, 5m or 1h';
export const SIZE_EXPECTED = 'a size such as 512kb, 8mb or 1gb';

const DURATION_RE = new RegExp(DURATION_PATTERN);
const SIZE_RE = new RegExp(SIZE_PATTERN);

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// Binary multiples: memory limits are compared with Buffer lengths, and "8mb" meaning
// 8 MiB is what most people expect from a cache size.
const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
};

/** Renders a value the way error messages quote it. */
export function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return String(value);
}

/**
 * `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"` → milliseconds. One integer and one lower-case unit;
 * no fractions, no compounds ("1h30m" → write "90m"), no negatives.
 * @throws RangeError whose message says what was expected and what was found.
 */
export function parseDuration(text: string): number {
  const match = typeof text === 'string' ? DURATION_RE.exec(text) : null;
  if (match === null) {
    const hint =
      Number.isSafeInteger(text) && (text as unknown as number) >= 0
        ? ` (a duration needs a unit: write ${text}s or ${text}ms)`
        : '';
    throw new RangeError(`expected ${DURATION_EXPECTED}, got ${quote(text)}${hint}`);
  }
  const unit = match[1] as string;
  const ms = Number(text.slice(0, -unit.length)) * (MS_PER_UNIT[unit] as number);
  if (!Number.isSafeInteger(ms)) throw new RangeError(`duration ${quote(text)} is too large`);
  return ms;
}

/**
 * `"100b"`, `"512kb"`, `"8mb"`, `"1gb"` (any case; 1kb = 1024 bytes) or a bare integer → bytes.
 * @throws RangeError whose message says what was expected and what was found.
 */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (Number.isSafeInteger(text) && text >= 0) return text;
    throw new RangeError(`expected ${SIZE_EXPECTED} (a bare number is bytes), got ${quote(text)}`);
  }
  const match = typeof text === 'string' ? SIZE_RE.exec(text) : null;
  if (match === null) throw new RangeError(`expected ${SIZE_EXPECTED}, got ${quote(text)}`);
  const unit = (match[1] ?? '').toLowerCase();
  const bytes = Number(text.slice(0, text.length - unit.length)) * (BYTES_PER_UNIT[unit] as number);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`size ${quote(text)} is too large`);
  return bytes;
}
