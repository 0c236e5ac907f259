/**
 * Time, injected. Production uses {@link systemClock}; tests use vitest fake timers with it or
 * pass their own.
 */

/** Wall-clock time, monotonic time and cancellable sleeps. */
export type Clock = {
  /** Epoch milliseconds (the host's wall clock: may be wrong, and may step when NTP corrects it). */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that never steps (`performance.now()`): for durations
   * and deadlines that must not move when the wall clock does, e.g. leases. Not comparable across
   * processes.
   */
  monotonic(): number;
  /** Resolve after `ms` milliseconds, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
};

/** The real clock: Date.now, performance.now and timers that are cleared as soon as the signal aborts. */
export const systemClock: Clock = {
  now: () => Date.now(),
  // Looked up on each call, so vitest fake timers (which replace performance) apply.
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
};
