import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PurgeRules, PurgeRulesFull, ruleMatches, type PurgeRule, type RuleVerdict } from '../../../src/cache/purge-rules.js';
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
