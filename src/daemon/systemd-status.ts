/**
 * Keeps systemd's `STATUS=` true. The status line ({@link statusLine}, below) summarizes the
 * gateway state, the queue and control-plane problems; any of them can change at any time, so the
 * line is recomputed whenever something pokes the reporter and at least every `refreshMs`, and
 * sent only when it differs from the last line delivered, at most once per `minIntervalMs` (each
 * send runs `systemd-notify`). A change inside the rate limit is sent when the limit ends, so the
 * last state always reaches `systemctl status` (issue 8: it said "1 turn queued, 1 delivering"
 * long after /health said 0). A failed send (READY=1 included) is tried again after
 * `retryMs`; a wall clock that steps backwards never stalls it.
 */
import type { Clock } from "../core/clock.ts";
import type { NotifyLog, SystemdNotifier } from "../core/systemd-notify.ts";

/** What to do now: nothing, send, or look again in `delayMs` (ms). */
export type StatusDecision = { kind: "idle" } | { kind: "send" } | { kind: "wait"; delayMs: number };

/** What {@link decideStatusSend} looks at. Times are epoch ms, durations ms. */
export type StatusDecisionInput = {
  /** The line as it is now. */
  line: string;
  /** The last line delivered and when, or null before the first delivery. */
  last: { line: string; atMs: number } | null;
  /** Keys (READY, STOPPING) waiting to be delivered: they bypass the rate limit. */
  pending: boolean;
  /** When the last send failed, or null. */
  failedAtMs: number | null;
  nowMs: number;
  minIntervalMs: number;
  retryMs: number;
};

/**
 * Decide whether to send now. Pure. A clock that went backwards counts as "the interval has
 * passed", so no wait is ever longer than `minIntervalMs` or `retryMs`.
 */
export function decideStatusSend(i: StatusDecisionInput): StatusDecision {
  const since = (atMs: number) => i.nowMs - atMs;
  if (i.failedAtMs !== null) {
    const t = since(i.failedAtMs);
    if (t >= 0 && t < i.retryMs) return { kind: "wait", delayMs: i.retryMs - t };
    return { kind: "send" };
  }
  if (i.pending || i.last === null) return { kind: "send" };
  if (i.last.line === i.line) return { kind: "idle" };
  const t = since(i.last.atMs);
  return t >= 0 && t < i.minIntervalMs ? { kind: "wait", delayMs: i.minIntervalMs - t } : { kind: "send" };
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
  /** After a failed send, try again after this long, ms (default 10 000). */
  retryMs?: number;
  log?: NotifyLog;
};

/** Sends `STATUS=` on change, rate-limited; see the module comment. Does nothing while the notifier is disabled. */
export class StatusReporter {
  readonly #o: Required<Omit<StatusReporterOptions, "log">> & { log?: NotifyLog };
  #last: { line: string; atMs: number } | null = null;
  #pending: Record<string, string> = {};
  #failedAt: number | null = null;
  #wake: AbortController | null = null;

  constructor(o: StatusReporterOptions) {
    this.#o = { minIntervalMs: 1000, refreshMs: 2000, retryMs: 10_000, ...o };
  }

  /** Something the line depends on changed: recompute soon (within the rate limit). Cheap; never throws. */
  poke(): void {
    this.#wake?.abort();
  }

  /**
   * Send the current line now together with `extra` (`READY: "1"`, `STOPPING: "1"`), outside the
   * rate limit: those messages must not wait. If the send fails, `extra` stays pending and
   * {@link run} tries again. Resolves once handed to systemd (or failed).
   */
  async sendNow(extra: Record<string, string>): Promise<void> {
    if (!this.#o.notifier.enabled) return;
    this.#pending = { ...this.#pending, ...extra };
    await this.#send(this.#current() ?? this.#last?.line);
  }

  /** Keep STATUS= current until `signal` aborts; resolves with no timer left behind. */
  async run(signal: AbortSignal): Promise<void> {
    const { notifier, clock, minIntervalMs, refreshMs, retryMs } = this.#o;
    if (!notifier.enabled) return;
    while (!signal.aborted) {
      const line = this.#current();
      const d: StatusDecision =
        line === undefined
          ? { kind: "idle" }
          : decideStatusSend({ line, last: this.#last, pending: Object.keys(this.#pending).length > 0, failedAtMs: this.#failedAt, nowMs: clock.now(), minIntervalMs, retryMs });
      if (d.kind === "send") {
        await this.#send(line);
        continue;
      }
      // Rate-limited or backing off: a poke must not shorten the wait, so only an idle wait listens for pokes.
      const wake = (this.#wake = new AbortController());
      await clock.sleep(d.kind === "wait" ? d.delayMs : refreshMs, d.kind === "wait" ? signal : AbortSignal.any([signal, wake.signal]));
      this.#wake = null;
    }
  }

  async #send(line: string | undefined): Promise<void> {
    const extra = this.#pending;
    const ok = await this.#o.notifier.notify(line === undefined ? extra : { ...extra, STATUS: line });
    const now = this.#o.clock.now();
    if (!ok) {
      this.#failedAt = now;
      return;
    }
    this.#failedAt = null;
    // Keys merged in by a sendNow() while this send was in flight stay pending.
    for (const k of Object.keys(extra)) if (this.#pending[k] === extra[k]) delete this.#pending[k];
    if (line !== undefined) this.#last = { line, atMs: now };
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

/** What {@link statusLine} summarizes (from the health snapshot). */
export type StatusLineInput = {
  /** Supervisor state: stopped, starting, ready, backoff, stopping, failed. */
  gatewayState: string;
  /** Why the gateway is in that state ("crash; restarting in 4000 ms"), or null. */
  reason: string | null;
  /** Turns accepted and waiting. */
  queueDepth: number;
  /** Turns being delivered now. */
  delivering?: number;
  /** The daemon is shutting down. */
  draining?: boolean;
  /** The WebSocket to the gateway is up (only reported when false while the gateway is ready). */
  connected?: boolean;
  /** A control-plane problem (missing secrets, token refused), or null. */
  problem?: string | null;
};

/** Longest STATUS= text {@link statusLine} returns, in UTF-16 code units. */
export const STATUS_LINE_MAX = 199;

/**
 * A one-line human status for `systemctl status` (STATUS=): "gateway ready; 0 turns queued",
 * "gateway backoff: crash; restarting in 4000 ms". At most {@link STATUS_LINE_MAX} characters,
 * no control characters, well-formed UTF-16 (systemd ignores a STATUS= that is not UTF-8 clean).
 */
export function statusLine(s: StatusLineInput): string {
  const ready = s.gatewayState === "ready";
  let line = ready ? "gateway ready" : `gateway ${s.gatewayState}${s.reason ? `: ${s.reason}` : ""}`;
  if (ready && s.connected === false) line += ", not connected";
  const delivering = s.delivering ?? 0;
  if (ready || s.queueDepth > 0 || delivering > 0) {
    line += `; ${s.queueDepth} turn${s.queueDepth === 1 ? "" : "s"} queued`;
    if (delivering > 0) line += `, ${delivering} delivering`;
  }
  if (s.problem) line += `; problem: ${s.problem}`;
  if (s.draining) line = `draining; ${line}`;
  return truncate(line.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/ {2,}/g, " ").trim().toWellFormed());
}

function truncate(text: string): string {
  if (text.length <= STATUS_LINE_MAX) return text;
  let out = "";
  for (const ch of text) {
    if (out.length + ch.length > STATUS_LINE_MAX - 1) break;
    out += ch;
  }
  return `${out}…`;
}
