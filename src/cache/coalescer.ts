/**
 * One in-flight task per key. The first caller for a key runs the task (the leader); every
 * caller that arrives while it runs gets the same promise (a follower). The task is
 * detached from any one client: if the leader's client goes away, followers still get
 * the result.
 */
export class Coalescer<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  /** Runs `task` unless one is already running for `key`. */
  run(key: string, task: () => Promise<T>): { leader: boolean; result: Promise<T> } {
    const running = this.inflight.get(key);
    if (running !== undefined) return { leader: false, result: running };
    const result = task().finally(() => {
      if (this.inflight.get(key) === result) this.inflight.delete(key);
    });
    this.inflight.set(key, result);
    return { leader: true, result };
  }

  has(key: string): boolean {
    return this.inflight.has(key);
  }

  /** Resolves once every task running now has settled. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
  }
}
