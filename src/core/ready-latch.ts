/**
 * Waiting for "ready" with an abort signal: callers park until {@link ReadyLatch.release} or
 * until their signal aborts, whichever comes first, and leave no listener behind.
 */

/** Parked waiters of a readiness condition the owner tracks itself. */
export class ReadyLatch {
  readonly #waiters = new Set<() => void>();

  /**
   * Resolve at once when `ready` or `signal` is aborted, else on the next {@link release} or
   * abort. Never rejects: check readiness after it resolves.
   */
  wait(ready: boolean, signal: AbortSignal): Promise<void> {
    if (ready || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Wake every parked waiter (the condition became true). */
  release(): void {
    for (const w of [...this.#waiters]) w();
  }
}
