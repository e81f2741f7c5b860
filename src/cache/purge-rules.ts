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

const MAX_RULES = 10_000;

export class PurgeRules {
  /** path, prefix and tag rules: checked one by one. */
  private rules: PurgeRule[] = [];
  /** url rules, by primary key: one lookup whatever their number. */
  private readonly urls = new Map<string, PurgeRule>();

  /** False when there is nothing to check: the common case costs one property read. */
  active = false;

  add(rule: PurgeRule): void {
    if (!isRule(rule)) return;
    if (rule.kind === 'url') {
      const current = this.urls.get(rule.value);
      // The later purge covers the earlier one; a hard one covers a soft one.
      if (current === undefined || rule.at > current.at || (!rule.soft && current.soft)) this.urls.set(rule.value, rule);
      if (this.urls.size > MAX_RULES) this.urls.delete(this.urls.keys().next().value!);
    } else {
      if (this.rules.some((r) => r.kind === rule.kind && r.value === rule.value && r.at === rule.at && r.soft === rule.soft)) return;
      this.rules.push(rule);
      // Bounded: the oldest rules go first; an entry old enough to need them is near its end.
      if (this.rules.length > MAX_RULES) this.rules.splice(0, this.rules.length - MAX_RULES);
    }
    this.active = true;
  }

  list(): PurgeRule[] {
    return [...this.urls.values(), ...this.rules];
  }

  /** Drops rules past their lifetime. */
  prune(now: number): void {
    if (this.rules.some((r) => r.until <= now)) this.rules = this.rules.filter((r) => r.until > now);
    for (const [k, r] of this.urls) if (r.until <= now) this.urls.delete(k);
    this.active = this.rules.length > 0 || this.urls.size > 0;
  }

  /**
   * What the rules say about `entry` stored under `primary` (host + path + query). A hard
   * rule wins over a soft one.
   */
  check(entry: CacheEntry, primary: string): RuleVerdict {
    let verdict: RuleVerdict = 'ok';
    for (const r of this.matching(entry, primary)) {
      if (!r.soft) return 'hard';
      verdict = 'soft';
    }
    return verdict;
  }

  /** The earliest `at` among the soft rules matching `entry`, for marking it stale from then. */
  softAt(entry: CacheEntry, primary: string): number {
    let at = Infinity;
    for (const r of this.matching(entry, primary)) if (r.soft) at = Math.min(at, r.at);
    return at;
  }

  private *matching(entry: CacheEntry, primary: string): Generator<PurgeRule> {
    const u = this.urls.get(primary);
    if (u !== undefined && ruleMatches(u, entry, primary)) yield u;
    for (const r of this.rules) if (ruleMatches(r, entry, primary)) yield r;
  }
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
