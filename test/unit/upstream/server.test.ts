import { describe, expect, it } from 'vitest';
import { Balancer } from '../../../src/upstream/balancer.js';
import { PASSIVE_RETRY_AFTER, ServerState } from '../../../src/upstream/server.js';

class ManualClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

describe('ServerState', () => {
  it('passive: a failed connect takes it down at once; after the back-off one probe goes through', () => {
    const clock = new ManualClock();
    const changes: boolean[] = [];
    const s = new ServerState('http://a:1', clock, true, false, (x) => changes.push(x.up));
    s.start();
    s.end('connect');
    expect([s.up, s.available()]).toEqual([false, false]);
    clock.t += PASSIVE_RETRY_AFTER - 1;
    expect(s.available()).toBe(false);
    clock.t += 1;
    expect(s.available()).toBe(true);
    s.start();
    // One probe at a time.
    expect(s.available()).toBe(false);
    s.end('timeout');
    expect(s.available()).toBe(false);
    clock.t += PASSIVE_RETRY_AFTER;
    s.start();
    s.end('ok');
    expect(s.up).toBe(true);
    expect(changes).toEqual([false, true]);
    expect(s.inFlight).toBe(0);
  });

  it('with active checks only the checks bring it back', () => {
    const clock = new ManualClock();
    const s = new ServerState('http://a:1', clock, true, true);
    s.start();
    s.end('connect');
    clock.t += 60_000;
    expect(s.available()).toBe(false);
    s.checked(true, 3, 2);
    expect(s.up).toBe(false);
    s.checked(true, 3, 2);
    expect(s.up).toBe(true);
    s.checked(false, 3, 2);
    s.checked(false, 3, 2);
    s.checked(true, 3, 2);
    s.checked(false, 3, 2);
    s.checked(false, 3, 2);
    expect(s.up).toBe(true);
    s.checked(false, 3, 2);
    expect(s.up).toBe(false);
  });

  it('an implicit upstream server is never marked down', () => {
    const s = new ServerState('http://a:1', new ManualClock(), false, false);
    s.start();
    s.end('connect');
    expect(s.available()).toBe(true);
  });
});

describe('Balancer', () => {
  const servers = () => ['a', 'b', 'c'].map((n) => new ServerState(`http://${n}:1`, new ManualClock(), true, true));

  it('round-robin takes the available servers in turn', () => {
    const s = servers();
    const b = new Balancer('round-robin', s);
    expect([1, 2, 3, 4].map(() => b.pick()?.url)).toEqual(['http://a:1', 'http://b:1', 'http://c:1', 'http://a:1']);
    s[1]!.checked(false, 1, 1);
    expect([1, 2, 3].map(() => b.pick()?.url)).toEqual(['http://c:1', 'http://a:1', 'http://c:1']);
  });

  it('least-connections takes the fewest in flight', () => {
    const s = servers();
    const b = new Balancer('least-connections', s);
    s[0]!.start();
    s[0]!.start();
    s[1]!.start();
    expect(b.pick()?.url).toBe('http://c:1');
    s[2]!.start();
    s[2]!.start();
    expect(b.pick()?.url).toBe('http://b:1');
  });

  it('a retry avoids the servers tried, unless none other is left; none available → undefined', () => {
    const s = servers();
    const b = new Balancer('round-robin', s);
    expect(b.pick(new Set([s[0]!, s[1]!]))?.url).toBe('http://c:1');
    s[2]!.checked(false, 1, 1);
    expect(b.pick(new Set([s[0]!, s[1]!]))?.url).toMatch(/http:\/\/[ab]:1/);
    s[0]!.checked(false, 1, 1);
    s[1]!.checked(false, 1, 1);
    expect(b.pick()).toBeUndefined();
  });
});
