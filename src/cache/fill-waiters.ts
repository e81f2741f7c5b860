/**
 * Requests waiting for another process's fill of a key, woken by its announcement or by a
 * timeout, whichever comes first. Shared by both kinds of peers (Redis and worker IPC).
 */
export class FillWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  /**
   * Resolves when `wake(key)` is called, or after `ms`. Register before looking for the fill,
   * so an announcement between the look and the wait is not missed.
   */
  wait(key: string, ms: number): { done: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => (wake = resolve));
    let set = this.waiters.get(key);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(key, set);
    }
    set.add(wake);
    const timer = setTimeout(wake, ms);
    timer.unref();
    const cancel = (): void => {
      clearTimeout(timer);
      const s = this.waiters.get(key);
      s?.delete(wake);
      if (s?.size === 0) this.waiters.delete(key);
      wake();
    };
    void done.then(cancel);
    return { done, cancel };
  }

  wake(key: string): void {
    const set = this.waiters.get(key);
    if (set === undefined) return;
    for (const wake of [...set]) wake();
  }

  /** Wakes everyone (shutdown). */
  wakeAll(): void {
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
    this.waiters.clear();
  }
}
