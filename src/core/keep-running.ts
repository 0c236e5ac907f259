/**
 * The keeper of the daemon's long-running loops (supervisor, delivery, watchdogs, decay): a loop
 * whose promise rejects (a bug, an error nobody caught) is logged and started again after a
 * backoff, so one error stops neither the loop for good nor, as an unhandled rejection, the
 * process (issue 10, item 5).
 */
import type { Logger } from "pino";
import { backoffDelay } from "./backoff.ts";
import type { Clock } from "./clock.ts";

/** Restart backoff of a crashed loop: 1 s doubling to 60 s (ms). */
export const LOOP_RESTART = { initialMs: 1_000, maxMs: 60_000 } as const;

/**
 * Run `loop` until it returns or `signal` aborts, starting it again after a backoff whenever it
 * rejects. The backoff starts afresh when the loop ran at least `policy.maxMs` before failing.
 * @param name for the log (`loop` field)
 * @param o.onCrash called after each crash, before the pause (e.g. kill what the loop left running); must not throw
 * @param o.policy the restart backoff (ms); default {@link LOOP_RESTART}
 * @returns resolves when the loop returned or the daemon is stopping; never rejects
 */
export async function keepRunning(
  name: string,
  loop: () => Promise<void>,
  o: { signal: AbortSignal; clock: Clock; random: () => number; log: Logger; policy?: { initialMs: number; maxMs: number }; onCrash?: (err: unknown) => void },
): Promise<void> {
  const policy = o.policy ?? LOOP_RESTART;
  for (let crashes = 0; ; crashes++) {
    const startedAt = o.clock.monotonic();
    try {
      await loop();
      return;
    } catch (err) {
      // A loop that ran at least the longest pause before failing starts its backoff afresh.
      if (o.clock.monotonic() - startedAt >= policy.maxMs) crashes = 0;
      if (o.signal.aborted) {
        o.log.error({ err, loop: name }, "daemon loop failed while stopping");
        return;
      }
      const retryInMs = backoffDelay(crashes, policy, o.random);
      o.log.error({ err, loop: name, retryInMs }, "daemon loop crashed; starting it again");
      try {
        o.onCrash?.(err);
      } catch (hookErr) {
        o.log.error({ err: hookErr, loop: name }, "onCrash failed");
      }
      await o.clock.sleep(retryInMs, o.signal);
      if (o.signal.aborted) return;
    }
  }
}
