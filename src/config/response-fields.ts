/**
 * `routes[].responseHeaders`: the response fields meant for caches (Surrogate-Key, Cache-Tag,
 * Surrogate-Control, X-Accel-*) that larder reads and then removes before a response reaches
 * a client. Compiled once per route into one sorted list of lower-case names, where a
 * trailing `*` is a prefix; `hiddenBy` turns a list into a test on a field name.
 */

/** Framing fields larder writes itself: no list may remove them. */
const FRAMING = ['content-length', 'transfer-encoding'];

/** The route's list: `base` less `keep`, plus `strip` (compile.ts checks `strip` with framingCovered first). */
export function responseFieldList(base: readonly string[], strip: readonly string[], keep: readonly string[]): string[] {
  const kept = new Set(keep.filter((n) => typeof n === 'string').map((n) => n.toLowerCase()));
  const out = new Set(base.filter((n) => !kept.has(n)));
  for (const raw of strip) if (typeof raw === 'string' && framingCovered(raw) === undefined) out.add(raw.toLowerCase());
  return [...out].sort();
}

/** The framing field a list entry would remove (an exact name or a prefix covering it), if any. */
export function framingCovered(entry: string): string | undefined {
  const name = entry.toLowerCase();
  if (name.endsWith('*')) return FRAMING.find((f) => f.startsWith(name.slice(0, -1)));
  return FRAMING.find((f) => f === name);
}

const matchers = new WeakMap<readonly string[], (name: string) => boolean>();
const NONE = (): boolean => false;

/** A test on lower-case field names for a compiled list (built once per list). */
export function hiddenBy(list: readonly string[]): (name: string) => boolean {
  if (list.length === 0) return NONE;
  let test = matchers.get(list);
  if (test === undefined) {
    const exact = new Set(list.filter((e) => !e.endsWith('*')));
    const prefixes = list.filter((e) => e.endsWith('*')).map((e) => e.slice(0, -1));
    test = (name: string): boolean => {
      if (exact.has(name)) return true;
      for (const p of prefixes) if (name.startsWith(p)) return !FRAMING.includes(name);
      return false;
    };
    matchers.set(list, test);
  }
  return test;
}
