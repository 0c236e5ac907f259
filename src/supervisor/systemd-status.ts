/**
 * Keeps systemd's `STATUS=` true. The status line (`statusLine` in systemd.ts) summarizes the
 * gateway state, the queue and control-plane problems; any of them can change at any time, so the
 * line is recomputed whenever something pokes the reporter and at least every `refreshMs`, and
 * sent only when it differs from the last line sent, at most once per `minIntervalMs` (each send
 * runs `systemd-notify`). A change inside the rate limit is sent when the limit ends, so the last
 * state always reaches `systemctl status` (issue 8: it said "1 turn queued, 1 delivering" long
 * after /health said 0).
 */
import type { Clock } from "../clock.ts";
import type { NotifyLog, SystemdNotifier } from "./systemd.ts";

/** What to do now: nothing, send `line`, or look again in `delayMs` (ms). */
export type StatusDecision = { kind: "idle" } | { kind: "send"; line: string } | { kind: "wait"; delayMs: number };

/**
 * Decide whether to send the current line. Pure.
 * @param line the line as it is now
 * @param last the last line sent and when (epoch ms), or null before the first send
 * @param nowMs epoch ms
 * @param minIntervalMs least time between two sends (ms)
 */
export function decideStatusSend(line: string, last: { line: string; atMs: number } | null, nowMs: number, minIntervalMs: number): StatusDecision {
  if (last !== null && last.line === line) return { kind: "idle" };
  if (last === null || nowMs - last.atMs >= minIntervalMs) return { kind: "send", line };
  return { kind: "wait", delayMs: last.atMs + minIntervalMs - nowMs };
}

/** Options of {@link StatusReporter}. */
export type StatusReporterOptions = {
  notifier: SystemdNotifier;
  /** The status line now (a throw is logged and skips this round). */
  line: () => string;
  clock: Clock;
  /** Least time between two sends, ms (default 1000). */
  minIntervalMs?: number;
  /** Recompute at least this often even without a poke, ms (default 2000). */
  refreshMs?: number;
  log?: NotifyLog;
};

/** Sends `STATUS=` on change, rate-limited; see the module comment. Does nothing while the notifier is disabled. */
export class StatusReporter {
  readonly #o: Required<Omit<StatusReporterOptions, "log">> & { log?: NotifyLog };
  #last: { line: string; atMs: number } | null = null;
  #wake: AbortController | null = null;

  constructor(o: StatusReporterOptions) {
    this.#o = { minIntervalMs: 1000, refreshMs: 2000, ...o };
  }

  /** Something the line depends on changed: recompute soon (within the rate limit). Cheap; never throws. */
  poke(): void {
    this.#wake?.abort();
  }

  /**
   * Send the current line now together with `extra` (`READY: "1"`, `STOPPING: "1"`), outside the
   * rate limit: those messages must not wait. Resolves once handed to systemd.
   */
  async sendNow(extra: Record<string, string>): Promise<void> {
    if (!this.#o.notifier.enabled) return;
    const line = this.#current() ?? this.#last?.line;
    this.#last = line === undefined ? this.#last : { line, atMs: this.#o.clock.now() };
    await this.#o.notifier.notify(line === undefined ? extra : { ...extra, STATUS: line });
  }

  /** Keep STATUS= current until `signal` aborts; resolves with no timer left behind. */
  async run(signal: AbortSignal): Promise<void> {
    const { notifier, clock, minIntervalMs, refreshMs } = this.#o;
    if (!notifier.enabled) return;
    while (!signal.aborted) {
      const line = this.#current();
      const d = line === undefined ? ({ kind: "idle" } as const) : decideStatusSend(line, this.#last, clock.now(), minIntervalMs);
      if (d.kind === "send") {
        this.#last = { line: d.line, atMs: clock.now() };
        await notifier.notify({ STATUS: d.line });
        continue;
      }
      // Rate-limited: a poke must not shorten the wait, so only an idle wait listens for pokes.
      const wake = (this.#wake = new AbortController());
      await clock.sleep(d.kind === "wait" ? d.delayMs : refreshMs, d.kind === "wait" ? signal : AbortSignal.any([signal, wake.signal]));
      this.#wake = null;
    }
  }

  #current(): string | undefined {
    try {
      return this.#o.line();
    } catch (err) {
      this.#o.log?.warn({ err }, "cannot compute the systemd status line");
      return undefined;
    }
  }
}
