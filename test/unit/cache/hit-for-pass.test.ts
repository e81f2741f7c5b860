import { describe, expect, it } from 'vitest';
import { HitForPass } from '../../../src/cache/hit-for-pass.js';
import { ManualClock } from '../../../src/clock.js';

describe('HitForPass', () => {
  it('remembers a key for `duration` ms on the injected clock', () => {
    const clock = new ManualClock();
    const h = new HitForPass(clock, 10_000);
    expect(h.has('k')).toBe(false);
    h.mark('k');
    expect(h.has('k')).toBe(true);
    expect(h.has('other')).toBe(false);
    clock.advance(10_000); // lru-cache keeps a value until strictly more than its TTL has passed
    expect(h.has('k')).toBe(true);
    clock.advance(1);
    expect(h.has('k')).toBe(false);
  });

  it('marking again starts the duration over', () => {
    const clock = new ManualClock();
    const h = new HitForPass(clock, 1_000);
    h.mark('k');
    clock.advance(800);
    h.mark('k');
    clock.advance(800);
    expect(h.has('k')).toBe(true);
    clock.advance(201);
    expect(h.has('k')).toBe(false);
  });

  it('clear forgets a key at once (the URL answered cacheable again)', () => {
    const h = new HitForPass(new ManualClock(), 10_000);
    h.mark('a');
    h.mark('b');
    h.clear('a');
    h.clear('never-marked');
    expect([h.has('a'), h.has('b')]).toEqual([false, true]);
  });

  it('is off with a duration of 0: nothing is ever marked', () => {
    const h = new HitForPass(new ManualClock(), 0);
    h.mark('k');
    expect(h.has('k')).toBe(false);
  });

  it('holds at most maxKeys keys, forgetting the least recently used', () => {
    const h = new HitForPass(new ManualClock(), 10_000, 3);
    for (const k of ['a', 'b', 'c']) h.mark(k);
    expect(h.has('a')).toBe(true); // a is now the most recently used
    h.mark('d');
    expect(['a', 'b', 'c', 'd'].map((k) => h.has(k))).toEqual([true, false, true, true]);
    for (let i = 0; i < 1_000; i++) h.mark(`flood-${i}`);
    expect(['a', 'c', 'd'].some((k) => h.has(k))).toBe(false);
    expect(h.has('flood-999')).toBe(true);
  });
});
