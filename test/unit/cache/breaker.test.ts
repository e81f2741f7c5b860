import { describe, expect, it } from 'vitest';
import { Breaker, type BreakerState } from '../../../src/cache/breaker.js';
import { ManualClock } from '../../../src/clock.js';

function setup(threshold?: number, coolDown?: number) {
  const clock = new ManualClock();
  const breaker = new Breaker({ clock, threshold, coolDown });
  const changes: Array<[BreakerState, BreakerState]> = [];
  breaker.onChange((s, p) => changes.push([s, p]));
  return { clock, breaker, changes };
}

describe('Breaker', () => {
  it('stays closed below the threshold and a success resets the count', () => {
    const { breaker } = setup();
    for (let i = 0; i < 4; i++) breaker.failure();
    breaker.success();
    for (let i = 0; i < 4; i++) breaker.failure();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });

  it('opens after 5 consecutive failures and refuses until the cool-down has passed', () => {
    const { breaker, clock, changes } = setup();
    for (let i = 0; i < 5; i++) breaker.failure();
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([['open', 'closed']]);
    expect(breaker.allow()).toBe(false);
    clock.advance(4999);
    expect(breaker.allow()).toBe(false);
    clock.advance(1);
    expect(breaker.allow()).toBe(true);
    expect(breaker.state).toBe('half-open');
  });

  it('lets exactly one probe through when half-open; its success closes', () => {
    const { breaker, clock, changes } = setup(2, 1000);
    breaker.failure();
    breaker.failure();
    clock.advance(1000);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    expect(breaker.allow()).toBe(false);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual([
      ['open', 'closed'],
      ['half-open', 'open'],
      ['closed', 'half-open'],
    ]);
  });

  it('re-opens when the probe fails, for a fresh cool-down', () => {
    const { breaker, clock } = setup(1, 1000);
    breaker.failure();
    clock.advance(1000);
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    clock.advance(999);
    expect(breaker.allow()).toBe(false);
    clock.advance(1);
    expect(breaker.allow()).toBe(true);
  });

  it('late results of calls sent before opening neither close it nor extend the cool-down', () => {
    const { breaker, clock } = setup(1, 1000);
    breaker.failure();
    breaker.success();
    expect(breaker.state).toBe('open');
    clock.advance(600);
    breaker.failure();
    clock.advance(400);
    expect(breaker.allow()).toBe(true);
  });

  it('allows another probe when the first one never reported back', () => {
    const { breaker, clock } = setup(1, 1000);
    breaker.failure();
    clock.advance(1000);
    expect(breaker.allow()).toBe(true);
    clock.advance(999);
    expect(breaker.allow()).toBe(false);
    clock.advance(1);
    expect(breaker.allow()).toBe(true);
  });

  it('survives a throwing listener and can be unsubscribed', () => {
    const { breaker } = setup(1);
    const seen: BreakerState[] = [];
    breaker.onChange(() => {
      throw new Error('listener');
    });
    const off = breaker.onChange((s) => seen.push(s));
    expect(() => breaker.failure()).not.toThrow();
    expect(seen).toEqual(['open']);
    off();
    breaker.success();
    expect(seen).toEqual(['open']);
  });
});
