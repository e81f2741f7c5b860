import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRule, markedStale, PurgeRules, PurgeRulesFull, ruleMatches, type PurgeRule, type RuleVerdict } from '../../../src/cache/purge-rules.js';
import { sampleEntry } from './entries.js';
import type { CacheEntry } from '../../../src/types.js';

/** The definition: every rule checked one by one. The index must agree with it. */
function naive(rules: PurgeRule[], entry: CacheEntry, primary: string): { verdict: RuleVerdict; softAt: number } {
  let verdict: RuleVerdict = 'ok';
  let softAt = Infinity;
  for (const r of rules) {
    if (!ruleMatches(r, entry, primary)) continue;
    if (!r.soft) verdict = 'hard';
    else {
      if (verdict === 'ok') verdict = 'soft';
      softAt = Math.min(softAt, r.at);
    }
  }
  return { verdict, softAt };
}

const values = ['/a', '/a/b', '/ab', '/a/b/c', 't1', 't2', 'shop.test/a/b'];
const ruleArb: fc.Arbitrary<PurgeRule> = fc.record({
  kind: fc.constantFrom('url', 'path', 'prefix', 'tag' as const),
  value: fc.constantFrom(...values),
  at: fc.integer({ min: 0, max: 100 }),
  soft: fc.boolean(),
  until: fc.constant(1e12),
});

describe('PurgeRules', () => {
  it('agrees with checking every rule one by one (verdict and soft time)', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 30 }),
        fc.integer({ min: 0, max: 110 }),
        fc.constantFrom('shop.test/a/b', 'shop.test/a', 'shop.test/ab?x=1', 'other/a/b/c'),
        fc.subarray(['t1', 't2', 't3']),
        (rules, requestTime, primary, tags) => {
          const index = new PurgeRules();
          for (const r of rules) index.add(r);
          const entry = sampleEntry({ requestTime, tags });
          const want = naive(rules, entry, primary);
          // URL rules keep only the latest per URL (it covers the earlier ones), so for them
          // the soft time may be later than the naive one; verdicts always agree.
          expect(index.check(entry, primary)).toBe(want.verdict);
          if (want.verdict === 'soft' && !rules.some((r) => r.kind === 'url')) expect(index.softAt(entry, primary)).toBe(want.softAt);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('costs the same per check with 10,000 prefix rules as with 10', () => {
    const time = (n: number): number => {
      const rules = new PurgeRules();
      for (let i = 0; i < n; i++) rules.add({ kind: 'prefix', value: `/p${i}/`, at: 10, soft: false, until: 1e12 });
      const entry = sampleEntry({ requestTime: 20 });
      for (let i = 0; i < 2_000; i++) rules.check(entry, 'shop.test/p5/x');
      const t = performance.now();
      for (let i = 0; i < 20_000; i++) rules.check(entry, 'shop.test/p5/x');
      return performance.now() - t;
    };
    const small = Math.min(time(10), time(10));
    const large = Math.min(time(10_000), time(10_000));
    expect(large).toBeLessThan(small * 3 + 5);
  });

  it('refuses a batch it has no room for, whole, and counts a repeated purge only once', () => {
    const rules = new PurgeRules(3);
    const tag = (value: string, at = 1): PurgeRule => ({ kind: 'tag', value, at, soft: false, until: 1e12 });
    rules.add([tag('a'), tag('b')], true);
    expect(() => rules.add([tag('c'), tag('d')], true)).toThrow(PurgeRulesFull);
    expect(rules.size).toBe(2);
    expect(() => rules.add([tag('c'), tag('d')], true)).toThrow(/purge rule set is full \(3 active rules/);
    // Purging a tag again only moves its time.
    rules.add([tag('a', 5), tag('b', 6), tag('c')], true);
    expect(rules.size).toBe(3);
    // Rules from peers are taken regardless.
    rules.add(tag('e'));
    expect(rules.size).toBe(4);
    rules.prune(2e12);
    expect([rules.size, rules.active]).toEqual([0, false]);
  });
});

describe('PurgeRules, rule by rule', () => {
  const P = 'shop.test/a/b?x=1';
  const rule = (kind: PurgeRule['kind'], value: string, at: number, soft = false, until = 1e12): PurgeRule => ({ kind, value, at, soft, until });
  const at = (requestTime: number, tags: string[] = []): CacheEntry => sampleEntry({ requestTime, tags });

  it('is inactive and answers ok until a rule is added', () => {
    const rules = new PurgeRules();
    expect(rules.active).toBe(false);
    expect(rules.check(at(0), P)).toBe('ok');
    rules.add(rule('tag', 't', 10));
    expect(rules.active).toBe(true);
  });

  it('affects only entries requested before the rule: an entry requested at `at` or later is kept', () => {
    const rules = new PurgeRules();
    rules.add(rule('url', P, 10));
    expect([9, 10, 11].map((t) => rules.check(at(t), P))).toEqual(['hard', 'ok', 'ok']);
  });

  it('matches a URL exactly, a path on every host (query included), a prefix of the path, a tag the entry carries', () => {
    const cases: Array<[PurgeRule, string, string[], RuleVerdict]> = [
      [rule('url', P, 10), P, [], 'hard'],
      [rule('url', P, 10), 'other.test/a/b?x=1', [], 'ok'],
      [rule('path', '/a/b?x=1', 10), 'other.test/a/b?x=1', [], 'hard'],
      [rule('path', '/a/b', 10), P, [], 'ok'],
      [rule('prefix', '/a/', 10), P, [], 'hard'],
      [rule('prefix', '/b', 10), P, [], 'ok'],
      [rule('prefix', '/a/b?x=1&more', 10), P, [], 'ok'],
      [rule('tag', 'sale', 10), P, ['new', 'sale'], 'hard'],
      [rule('tag', 'sale', 10), P, ['SALE'], 'ok'],
    ];
    for (const [r, primary, tags, want] of cases) {
      const rules = new PurgeRules();
      rules.add(r);
      expect([r, primary, rules.check(at(5, tags), primary)]).toEqual([r, primary, want]);
      expect(ruleMatches(r, at(5, tags), primary)).toBe(want !== 'ok');
    }
  });

  it('a hard rule wins over a soft one; softAt is the earliest soft purge after the request', () => {
    const rules = new PurgeRules();
    rules.add([rule('tag', 't', 30, true), rule('prefix', '/a', 20, true), rule('path', '/a/b?x=1', 40, true)]);
    expect(rules.check(at(10, ['t']), P)).toBe('soft');
    expect(rules.softAt(at(10, ['t']), P)).toBe(20);
    expect(rules.softAt(at(25, ['t']), P)).toBe(30);
    expect(rules.softAt(at(35, ['t']), P)).toBe(40);
    expect(rules.check(at(45, ['t']), P)).toBe('ok');
    rules.add(rule('tag', 't', 15));
    expect(rules.check(at(10, ['t']), P)).toBe('hard');
    expect(rules.check(at(16, ['t']), P)).toBe('soft');
  });

  it('a later hard purge of a group drops the soft purge times it covers', () => {
    const rules = new PurgeRules();
    rules.add([rule('tag', 't', 10, true), rule('tag', 't', 20, true), rule('tag', 't', 40, true)]);
    expect(rules.size).toBe(4); // the group and its three soft times
    rules.add(rule('tag', 't', 30));
    expect(rules.size).toBe(2); // the group and the soft purge at 40
    expect(rules.check(at(25, ['t']), P)).toBe('hard');
    expect(rules.softAt(at(35, ['t']), P)).toBe(40);
    // An older hard purge, or a soft one before the hard one, changes nothing.
    rules.add([rule('tag', 't', 5), rule('tag', 't', 25, true)]);
    expect(rules.size).toBe(2);
  });

  it('a URL purged hard and then soft stays hard for what was requested before the hard purge', () => {
    const rules = new PurgeRules();
    rules.add(rule('url', P, 10));
    rules.add(rule('url', P, 20, true));
    // The definition (every rule checked one by one) says hard for an entry requested at 5.
    expect(naive([rule('url', P, 10), rule('url', P, 20, true)], at(5), P).verdict).toBe('hard');
    expect(rules.check(at(5), P)).toBe('hard');
    expect(rules.check(at(15), P)).toBe('soft');
    expect(rules.check(at(25), P)).toBe('ok');
  });

  it('prune drops the rules past their lifetime and keeps the others working', () => {
    const rules = new PurgeRules();
    rules.add([rule('url', P, 10, false, 100), rule('prefix', '/a/', 10, false, 100), rule('prefix', '/a/b', 10, false, 300), rule('tag', 't', 10, true, 300)]);
    rules.prune(100);
    expect(rules.counts()).toEqual({ url: 0, path: 0, prefix: 1, tag: 1 });
    expect(rules.active).toBe(true);
    expect(rules.check(at(5), 'shop.test/a/x')).toBe('ok');
    expect(rules.check(at(5), P)).toBe('hard');
    rules.prune(300);
    expect([rules.size, rules.active, rules.check(at(5, ['t']), P)]).toEqual([0, false, 'ok']);
  });

  it('ignores what is not a rule (from a peer or from Redis)', () => {
    const bad: unknown[] = [
      null,
      'x',
      { kind: 'host', value: 'a', at: 1, soft: false, until: 2 },
      { kind: 'tag', value: '', at: 1, soft: false, until: 2 },
      { kind: 'tag', value: 't', at: Number.NaN, soft: false, until: 2 },
      { kind: 'tag', value: 't', at: 1, soft: 'no', until: 2 },
      { kind: 'tag', value: 't', at: 1, soft: false, until: Infinity },
    ];
    for (const b of bad) expect(isRule(b)).toBe(false);
    expect(isRule(rule('tag', 't', 1))).toBe(true);
    const rules = new PurgeRules();
    rules.add(bad as PurgeRule[]);
    expect([rules.size, rules.active]).toEqual([0, false]);
  });
});

describe('markedStale', () => {
  it('moves freshness back to the purge time and keeps the stale windows as long as they were', () => {
    const e = sampleEntry();
    const at = e.freshUntil - 10_000;
    const s = markedStale(e, at);
    expect(s.freshUntil).toBe(at);
    expect(s.lifetime).toBe(e.lifetime - 10_000);
    expect(s.staleWhileRevalidateUntil - s.freshUntil).toBe(e.staleWhileRevalidateUntil - e.freshUntil);
    expect(s.staleIfErrorUntil).toBe(e.staleIfErrorUntil - 10_000);
    expect(s.body).toBe(e.body);
    expect(e.freshUntil).toBe(at + 10_000); // the stored entry is not changed
  });

  it('leaves an entry that is already stale by then as it is', () => {
    const e = sampleEntry();
    expect(markedStale(e, e.freshUntil)).toBe(e);
    expect(markedStale(e, e.freshUntil + 1)).toBe(e);
  });

  it('never makes the lifetime negative', () => {
    const e = sampleEntry({ lifetime: 1_000 });
    expect(markedStale(e, e.freshUntil - 5_000).lifetime).toBe(0);
  });
});
