import type { CacheEntry } from '../types.js';

/**
 * A purge that cannot be carried out by deleting known keys: every host's copy of a path,
 * a path prefix, or a tag. Instead of scanning Redis, each instance checks the rules when
 * it reads an entry: an entry stored before the rule's time `at` that the rule matches is
 * gone (hard) or stale (soft). A rule lives as long as the longest an entry may be kept
 * (`cache.maxTtl`), after which nothing it could match is left.
 */
export interface PurgeRule {
  /**
   * `url`: one primary key (host + path + query); `path`: one path and query on every host;
   * `prefix`: every path under it, on every host; `tag`: entries carrying the tag.
   */
  kind: 'url' | 'path' | 'prefix' | 'tag';
  value: string;
  /**
   * Entries whose origin request was sent before this instant (ms) are affected. Comparing
   * the request time, not the response time, makes a purge win over a fill that was already
   * under way: the body it brings may predate the change the purge announces.
   */
  at: number;
  /** Mark stale instead of removing. */
  soft: boolean;
  /** The rule is dropped after this instant (ms). */
  until: number;
}

export type RuleVerdict = 'ok' | 'soft' | 'hard';

/** Purge rules added (or stored, or published) between two turns of the event loop. */
export const RULE_SLICE = 500;

/** Lets the event loop serve what is waiting (I/O included) before going on. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Most rules kept at once (URL rules, and each distinct path, prefix or tag with its purge times). */
export const MAX_RULES = 100_000;

/** Thrown by `add` for a purge the rule set has no room for; nothing of it was added. */
export class PurgeRulesFull extends Error {
  constructor(readonly capacity: number) {
    super(
      `the purge rule set is full (${capacity} active rules; path, prefix and tag rules are kept cache.maxTtl): ` +
        'purge whole URLs instead, purge by a shared tag or a shorter prefix, or wait for older rules to expire',
    );
  }
}

/**
 * Every purge of one path, prefix or tag, folded: an entry is gone when its request time is
 * before the latest hard purge, and stale from the earliest soft purge after its request time.
 */
interface Group {
  /** The latest hard purge (ms); -Infinity when there is none. */
  hard: number;
  /** Soft purge times later than `hard`, ascending. */
  soft: number[];
  /** When the group's last rule lapses (ms). */
  until: number;
}

/**
 * The rules in force, indexed so that checking an entry costs the same however many there are:
 * one map lookup for its URL, one for its path, one per tag it carries, and one per distinct
 * prefix length up to its path's length.
 */
export class PurgeRules {
  private readonly urls = new Map<string, Group>();
  private readonly paths = new Map<string, Group>();
  private readonly tags = new Map<string, Group>();
  private readonly prefixes = new Map<string, Group>();
  /** Distinct prefix lengths, ascending. */
  private prefixLengths: number[] = [];
  /** Rules kept: URL rules, groups and their soft purge times. */
  private count = 0;

  /** False when there is nothing to check: the common case costs one property read. */
  active = false;

  constructor(readonly capacity = MAX_RULES) {}

  get size(): number {
    return this.count;
  }

  /**
   * Adds rules. With `enforce`, a batch that would take the set past its capacity is refused
   * whole (PurgeRulesFull) before anything is added; rules from peers are always taken (their
   * sender checked them), so a peer is never less strict than the instance that purged.
   */
  add(rules: PurgeRule | readonly PurgeRule[], enforce = false): void {
    const list = (Array.isArray(rules) ? rules : [rules]) as readonly PurgeRule[];
    if (enforce) this.reserve(list);
    for (const r of list) this.addOne(r);
  }

  /** Throws PurgeRulesFull when `rules` would take the set past its capacity. */
  reserve(rules: readonly PurgeRule[]): void {
    if (this.count + rules.length <= this.capacity) return;
    // A rule that only moves an existing time costs no room; count exactly before refusing.
    let needed = 0;
    for (const r of rules) if (isRule(r) && this.costOf(r) > 0) needed++;
    if (this.count + needed > this.capacity) throw new PurgeRulesFull(this.capacity);
  }

  private costOf(rule: PurgeRule): number {
    const g = this.mapOf(rule.kind).get(rule.value);
    if (g === undefined) return 1;
    return rule.soft && rule.at > g.hard && !g.soft.includes(rule.at) ? 1 : 0;
  }

  private mapOf(kind: PurgeRule['kind']): Map<string, Group> {
    return kind === 'url' ? this.urls : kind === 'path' ? this.paths : kind === 'tag' ? this.tags : this.prefixes;
  }

  private addOne(rule: PurgeRule): void {
    if (!isRule(rule)) return;
    this.active = true;
    const map = this.mapOf(rule.kind);
    let g = map.get(rule.value);
    if (g === undefined) {
      g = { hard: -Infinity, soft: [], until: rule.until };
      map.set(rule.value, g);
      this.count++;
      if (rule.kind === 'prefix' && !this.prefixLengths.includes(rule.value.length)) {
        this.prefixLengths.push(rule.value.length);
        this.prefixLengths.sort((a, b) => a - b);
      }
    }
    g.until = Math.max(g.until, rule.until);
    if (!rule.soft) {
      if (rule.at <= g.hard) return;
      g.hard = rule.at;
      // Soft purges before the hard one no longer decide anything.
      const keep = g.soft.filter((at) => at > g!.hard);
      this.count -= g.soft.length - keep.length;
      g.soft = keep;
      return;
    }
    if (rule.at <= g.hard || g.soft.includes(rule.at)) return;
    g.soft.splice(firstAfter(g.soft, rule.at), 0, rule.at);
    this.count++;
  }

  /** How many rules of each kind are kept (for /explain and tests). */
  counts(): { url: number; path: number; prefix: number; tag: number } {
    return { url: this.urls.size, path: this.paths.size, prefix: this.prefixes.size, tag: this.tags.size };
  }

  /** Drops rules past their lifetime. Costs one pass over the rules: call per purge, not per read. */
  prune(now: number): void {
    for (const map of [this.urls, this.paths, this.tags, this.prefixes]) {
      for (const [k, g] of map) {
        if (g.until > now) continue;
        map.delete(k);
        this.count -= 1 + g.soft.length;
      }
    }
    this.prefixLengths = [...new Set([...this.prefixes.keys()].map((p) => p.length))].sort((a, b) => a - b);
    this.active = this.count > 0;
  }

  /**
   * What the rules say about `entry` stored under `primary` (host + path + query). A hard
   * rule wins over a soft one.
   */
  check(entry: CacheEntry, primary: string): RuleVerdict {
    let verdict: RuleVerdict = 'ok';
    for (const at of this.matchingTimes(entry, primary)) {
      if (at === HARD) return 'hard';
      verdict = 'soft';
    }
    return verdict;
  }

  /** The earliest soft purge time among the rules matching `entry`, for marking it stale from then. */
  softAt(entry: CacheEntry, primary: string): number {
    let at = Infinity;
    for (const t of this.matchingTimes(entry, primary)) if (t !== HARD) at = Math.min(at, t);
    return at;
  }

  /** For each matching rule: HARD, or the earliest soft purge time that applies. */
  private *matchingTimes(entry: CacheEntry, primary: string): Generator<number> {
    const t = entry.requestTime;
    if (this.urls.size > 0) yield* groupTimes(this.urls.get(primary), t);
    if (this.paths.size + this.tags.size + this.prefixes.size === 0) return;
    const slash = primary.indexOf('/');
    const target = slash === -1 ? primary : primary.slice(slash);
    if (this.paths.size > 0) yield* groupTimes(this.paths.get(target), t);
    for (const length of this.prefixLengths) {
      if (length > target.length) break;
      yield* groupTimes(this.prefixes.get(target.slice(0, length)), t);
    }
    if (this.tags.size > 0) for (const tag of entry.tags) yield* groupTimes(this.tags.get(tag), t);
  }
}

const HARD = -1;

function* groupTimes(g: Group | undefined, t: number): Generator<number> {
  if (g === undefined) return;
  if (t < g.hard) {
    yield HARD;
    return;
  }
  const i = firstAfter(g.soft, t);
  if (i < g.soft.length) yield g.soft[i]!;
}

/** Index of the first element of ascending `xs` greater than `x`. */
function firstAfter(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Whether `rule` affects `entry`, stored under `primary` (host + path + query). */
export function ruleMatches(rule: PurgeRule, entry: CacheEntry, primary: string): boolean {
  if (entry.requestTime >= rule.at) return false;
  switch (rule.kind) {
    case 'url':
      return primary === rule.value;
    case 'tag':
      return entry.tags.includes(rule.value);
    case 'path':
    case 'prefix': {
      const slash = primary.indexOf('/');
      const target = slash === -1 ? primary : primary.slice(slash);
      return rule.kind === 'path' ? target === rule.value : target.startsWith(rule.value);
    }
  }
}

/** A soft-purged entry: stale from `at` on, keeping the length of its stale windows. */
export function markedStale(entry: CacheEntry, at: number): CacheEntry {
  if (entry.freshUntil <= at) return entry;
  const shift = entry.freshUntil - at;
  return {
    ...entry,
    freshUntil: at,
    lifetime: Math.max(0, entry.lifetime - shift),
    staleWhileRevalidateUntil: entry.staleWhileRevalidateUntil - shift,
    staleIfErrorUntil: entry.staleIfErrorUntil - shift,
  };
}

/** Validates a rule that came from another instance (pub/sub) or from Redis. */
export function isRule(r: unknown): r is PurgeRule {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    (o['kind'] === 'url' || o['kind'] === 'path' || o['kind'] === 'prefix' || o['kind'] === 'tag') &&
    typeof o['value'] === 'string' &&
    o['value'] !== '' &&
    typeof o['at'] === 'number' &&
    Number.isFinite(o['at']) &&
    typeof o['soft'] === 'boolean' &&
    typeof o['until'] === 'number' &&
    Number.isFinite(o['until'])
  );
}
