import { single } from './fields.js';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const LONG_DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

// The three formats of RFC 9110 §5.6.7. Names are matched case-insensitively, but the
// separators are exact: a doubled space, a numeric zone, missing seconds or a bare number
// make the date invalid (cache-tests treats "Thu, 18  Aug  2050 ..." as invalid, which for
// Expires means already expired). asctime pads a one-digit day with a space.
const IMF_FIXDATE = /^([a-z]{3}), (\d{1,2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/;
const RFC850_DATE = /^([a-z]{6,9}), (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/;
const ASCTIME_DATE = /^([a-z]{3}) ([a-z]{3}) ( \d|\d{2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

const MAX_FORMATTABLE = Date.UTC(9999, 11, 31, 23, 59, 59);

/**
 * RFC 9110 §5.6.7: an HTTP-date is an IMF-fixdate, or one of the obsolete RFC 850 and
 * asctime formats that recipients must still accept. Returns ms since the epoch.
 *
 * Several field lines: the first is used (RFC 9111 §4.2.1 allows using the first occurrence).
 * `now` only matters for RFC 850 two-digit years (see below).
 */
export function parseHttpDate(value: string | string[] | undefined, now?: number): number | undefined {
  const raw = single(value);
  if (raw === undefined) return undefined;
  const s = raw.trim().toLowerCase();
  let m = IMF_FIXDATE.exec(s);
  if (m) {
    if (!DAYS.includes(m[1]!)) return undefined;
    return build(Number(m[4]), m[3]!, m[2]!, m[5]!, m[6]!, m[7]!);
  }
  m = RFC850_DATE.exec(s);
  if (m) {
    if (!LONG_DAYS.includes(m[1]!)) return undefined;
    return build(fullYear(Number(m[4]), now), m[3]!, m[2]!, m[5]!, m[6]!, m[7]!);
  }
  m = ASCTIME_DATE.exec(s);
  if (m) {
    if (!DAYS.includes(m[1]!)) return undefined;
    return build(Number(m[7]), m[2]!, m[3]!.trim(), m[4]!, m[5]!, m[6]!);
  }
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in the future is the
 * most recent past year with those digits. Without `now` there is no clock to compare with,
 * so the POSIX pivot is used instead (00-68 → 20xx, 69-99 → 19xx).
 */
function fullYear(yy: number, now: number | undefined): number {
  const current = now === undefined ? NaN : new Date(now).getUTCFullYear();
  if (!Number.isFinite(current)) return yy < 69 ? 2000 + yy : 1900 + yy;
  let year = current - (current % 100) + yy;
  if (year > current + 50) year -= 100;
  else if (year <= current - 50) year += 100;
  return year;
}

function build(year: number, mon: string, day: string, hh: string, mm: string, ss: string): number | undefined {
  const month = MONTHS.indexOf(mon);
  const d = Number(day);
  const h = Number(hh);
  const mi = Number(mm);
  // RFC 9110 §5.6.7 allows second 60 for a leap second; the epoch scale has none, so clamp it.
  const sec = Math.min(Number(ss), 59);
  if (month < 0 || d < 1 || h > 23 || mi > 59 || Number(ss) > 60) return undefined;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: the latter maps years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month, d);
  date.setUTCHours(h, mi, sec, 0);
  // Reject dates that rolled over, such as 31 Feb.
  if (date.getUTCDate() !== d || date.getUTCMonth() !== month) return undefined;
  const t = date.getTime();
  return Number.isFinite(t) ? t : undefined;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** RFC 9110 §5.6.7: senders generate HTTP-dates only in IMF-fixdate form, in GMT. */
export function formatHttpDate(ms: number): string {
  // Out-of-range instants cannot be written as an HTTP-date; clamp rather than throw.
  const t = Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_FORMATTABLE) : 0;
  const d = new Date(t);
  return (
    `${DAY_NAMES[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTH_NAMES[d.getUTCMonth()]} ` +
    `${pad(d.getUTCFullYear(), 4)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`
  );
}
