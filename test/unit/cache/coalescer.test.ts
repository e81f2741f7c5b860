import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../../src/cache/coalescer.js';

/** A promise settled from outside, so each test decides when a task finishes. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Coalescer', () => {
  it('runs one task per key: the first caller leads, later callers share its promise', async () => {
    const c = new Coalescer<string>();
    const d = deferred<string>();
    let runs = 0;
    const task = (): Promise<string> => {
      runs++;
      return d.promise;
    };
    const first = c.run('k', task);
    const second = c.run('k', task);
    const third = c.run('k', task);
    expect([first.leader, second.leader, third.leader]).toEqual([true, false, false]);
    expect(second.result).toBe(first.result);
    expect(c.has('k')).toBe(true);
    d.resolve('filled');
    expect(await Promise.all([first.result, second.result, third.result])).toEqual(['filled', 'filled', 'filled']);
    expect(runs).toBe(1);
  });

  it('forgets a key once its task settles, so the next caller leads a new task', async () => {
    const c = new Coalescer<number>();
    let n = 0;
    const a = c.run('k', async () => ++n);
    expect(await a.result).toBe(1);
    expect(c.has('k')).toBe(false);
    const b = c.run('k', async () => ++n);
    expect(b.leader).toBe(true);
    expect(await b.result).toBe(2);
  });

  it('gives every caller the rejection of a failed task, and frees the key', async () => {
    const c = new Coalescer<string>();
    const d = deferred<string>();
    const leader = c.run('k', () => d.promise);
    const follower = c.run('k', () => Promise.resolve('never run'));
    d.reject(new Error('origin down'));
    await expect(leader.result).rejects.toThrow('origin down');
    await expect(follower.result).rejects.toThrow('origin down');
    expect(c.has('k')).toBe(false);
    expect((await c.run('k', async () => 'again').result)).toBe('again');
  });

  it('keeps keys apart', async () => {
    const c = new Coalescer<string>();
    const a = deferred<string>();
    const ra = c.run('a', () => a.promise);
    const rb = c.run('b', async () => 'b');
    expect([ra.leader, rb.leader]).toEqual([true, true]);
    expect(await rb.result).toBe('b');
    expect([c.has('a'), c.has('b')]).toEqual([true, false]);
    a.resolve('a');
    expect(await ra.result).toBe('a');
  });

  it('drain waits for every running task, failed ones included, and never rejects', async () => {
    const c = new Coalescer<string>();
    const a = deferred<string>();
    const b = deferred<string>();
    const ra = c.run('a', () => a.promise);
    const rb = c.run('b', () => b.promise);
    rb.result.catch(() => undefined);
    let drained = false;
    const draining = c.drain().then(() => (drained = true));
    a.resolve('a');
    await ra.result;
    expect(drained).toBe(false);
    b.reject(new Error('x'));
    await draining;
    expect(drained).toBe(true);
    expect([c.has('a'), c.has('b')]).toEqual([false, false]);
    await c.drain(); // nothing running: resolves at once
  });
});
