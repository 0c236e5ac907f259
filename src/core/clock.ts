/**
 * Time, injected. Production uses {@link systemClock}; tests use vitest fake timers with it or
 * pass their own.
 */

/** Wall-clock time and cancellable sleeps. */
export type Clock = {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolve after `ms` milliseconds, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
};

/** The real clock: Date.now and timers that are cleared as soon as the signal aborts. */
export const systemClock: Clock = {
  now: () => Date.now(),
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
