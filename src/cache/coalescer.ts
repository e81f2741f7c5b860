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

/**
 * One task per key at a time, for callers that may not share a task started before they
 * arrived: a request's no-cache or max-age=0 asks for an answer the origin gave after the
 * request was made (RFC 9111 §5.2.1.4), so it cannot join a revalidation already sent. A caller
 * that finds a task running queues for the next one instead; that task starts as soon as the
 * running one settles and serves every caller that queued for it. However many such requests
 * arrive at once, at most one task runs and one waits per key.
 */
export class NextBatch<T> {
  private readonly running = new Map<string, Promise<T>>();
  private readonly queued = new Map<string, { result: Promise<T>; start: () => void }>();

  /** `leader`: this caller's task is the one that runs (now, or when the running one settles). */
  run(key: string, task: () => Promise<T>): { leader: boolean; result: Promise<T> } {
    if (!this.running.has(key)) return { leader: true, result: this.start(key, task) };
    const queued = this.queued.get(key);
    if (queued !== undefined) return { leader: false, result: queued.result };
    let start = (): void => undefined;
    const result = new Promise<T>((resolve, reject) => {
      start = () => void this.start(key, task).then(resolve, reject);
    });
    this.queued.set(key, { result, start });
    return { leader: true, result };
  }

  private start(key: string, task: () => Promise<T>): Promise<T> {
    const result = task().finally(() => {
      if (this.running.get(key) === result) this.running.delete(key);
      const next = this.queued.get(key);
      if (next !== undefined) {
        this.queued.delete(key);
        next.start();
      }
    });
    this.running.set(key, result);
    return result;
  }
}
