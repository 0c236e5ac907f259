/**
 * The session-repair watchdog (issue 12, failure modes 1 and 2; the verdict and its reasons are
 * in session-repair-plan.ts). It is told of every finished turn ({@link SessionRepairWatchdog.observe},
 * from delivery's onFinished), keeps a streak per gateway session, and when a session's turns
 * keep failing with a context overflow or a transcript the provider refuses, repairs that session
 * through the gateway: `sessions.compact {key}` (the gateway summarizes the transcript with one
 * model call) or `sessions.reset {key}` (no model call; the gateway keeps the old transcript and
 * starts the session afresh under the same key). Workspace files (MEMORY.md, memory/*.md) are
 * the agent's, not the session's: neither RPC touches them. No other session is touched.
 *
 * While a session is being repaired, delivery starts no turn in it ({@link SessionRepairWatchdog.held});
 * its queued turns go once the repair is over. Every repair, and a session left as it is, goes to
 * `onRepair`/`onHold` (gateway_events and /metrics, wired in daemon/watchdogs.ts). For a
 * malformed-request streak it also reads the session's transcript (`chat.history`) and names what
 * it shows (tool calls without a result, broken arguments) as evidence beside the failures.
 *
 * Streaks and repair counts live in memory: a daemon restart starts them afresh.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { Turn } from "../store/turns.ts";
import { classifyTurnError } from "../turns/error-class.ts";
import { describeDamage, transcriptDamage } from "../turns/transcript-damage.ts";
import {
  CAUSE_WORDS,
  decideRepair,
  pruneSessions,
  recordRepair,
  recordTurn,
  type RepairAction,
  type RepairCause,
  type SessionRecord,
  type SessionRepairPolicy,
} from "./session-repair-plan.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** Longest wait for one repair RPC (ms): a compaction is a model call. */
export const REPAIR_RPC_TIMEOUT_MS = 120_000;
/** Most sessions remembered (those with a streak or a recent repair, newest first). */
export const MAX_SESSIONS = 1_000;

/**
 * What the watchdog needs of the gateway: the daemon's connection (readiness, `chat.history`) and
 * `admin`, a request with the `operator.admin` scope that `sessions.compact` and `sessions.reset`
 * need (openclaw 2026.9.6; the daemon's connection asks for that scope: gateway/connection.ts).
 */
export type RepairGateway = {
  readonly ready: boolean;
  waitReady(signal: AbortSignal): Promise<void>;
  request<T>(method: string, params: unknown, opts?: { timeoutMs?: number | null; signal?: AbortSignal }): Promise<T>;
  admin<T>(method: string, params: unknown, opts: { timeoutMs: number; signal: AbortSignal }): Promise<T>;
};

/** One repair, as recorded. `at` is epoch ms. */
export type RepairEvent = {
  at: number;
  sessionKey: string;
  cause: RepairCause;
  action: RepairAction;
  ok: boolean;
  /** Failed turns in a row that led to it. */
  failures: number;
  /** Why it failed (the gateway's error), when it did. */
  error?: string;
  /** What the transcript showed (malformed-request streaks), e.g. "1 tool call without a result". */
  evidence?: string;
};

/** A session left as it is, with the reason (once per streak and reason). */
export type HoldEvent = { at: number; sessionKey: string; cause: RepairCause; failures: number; reason: string };

/** Options of {@link SessionRepairWatchdog}. */
export type SessionRepairOptions = {
  policy: SessionRepairPolicy;
  gateway: RepairGateway;
  clock: Clock;
  log: Logger;
  onRepair?: (e: RepairEvent) => void;
  onHold?: (e: HoldEvent) => void;
  /** A held session may take turns again (e.g. delivery.notify). */
  onReleased?: () => void;
  /** Longest wait per RPC (ms; default {@link REPAIR_RPC_TIMEOUT_MS}). */
  rpcTimeoutMs?: number;
};

type CompactResult = { ok?: unknown; compacted?: unknown; reason?: unknown };
type ResetResult = { ok?: unknown };

/** See the module comment. */
export class SessionRepairWatchdog implements Watchdog {
  readonly name = "session-repair";
  readonly #o: SessionRepairOptions;
  #records = new Map<string, SessionRecord>();
  /** Sessions queued for or under repair (delivery holds their turns). */
  readonly #busy = new Set<string>();
  readonly #queue: string[] = [];
  /** The hold already announced per session (`<since>|<reason>`). */
  readonly #announced = new Map<string, string>();
  #wake: (() => void) | undefined;
  #repairs = 0;
  #last: RepairEvent | undefined;

  constructor(opts: SessionRepairOptions) {
    this.#o = opts;
  }

  /** True while session `sessionKey` is queued for or under repair: start no turn in it. */
  held(sessionKey: string): boolean {
    return this.#busy.has(sessionKey);
  }

  /** Take note of a finished turn (`done` or `failed`; others are ignored). Never throws. */
  observe(t: Turn): void {
    if (t.state !== "done" && t.state !== "failed") return;
    try {
      const ok = t.state === "done";
      const at = t.finishedAt ?? this.#o.clock.now();
      const cls = ok ? null : classifyTurnError(t.errorCode, t.errorMessage);
      this.#records.set(t.sessionKey, recordTurn(this.#records.get(t.sessionKey), { ok, cls, message: t.errorMessage, at }));
      if (this.#records.size > MAX_SESSIONS) this.#prune();
      this.#consider(t.sessionKey);
    } catch (err) {
      this.#o.log.error({ err, turnId: t.id }, "session repair could not take note of a turn");
    }
  }

  /** @inheritdoc */
  check(): WatchdogCheck {
    const { policy } = this.#o;
    const now = this.#o.clock.now();
    const failing = [...this.#records.entries()]
      .filter(([key, r]) => r.cause !== null && (this.#busy.has(key) || decideRepair(r, this.#others(key), now, policy).kind !== "none"))
      .sort((a, b) => b[1].updatedAt - a[1].updatedAt);
    const lines = failing.map(([key, r]) => this.#describe(key, r, now));
    const output = lines.length === 0 ? null : `${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more session${lines.length > 2 ? "s" : ""})` : ""}`;
    return {
      key: "sessions:repair",
      status: lines.length > 0 ? "warn" : "pass",
      output,
      componentType: "component",
      observedValue: failing.length,
      observedUnit: "sessions",
      details: {
        mode: policy.mode,
        repairs: this.#repairs,
        ...(this.#last ? { lastRepair: this.#last } : {}),
        ...(failing.length > 0 ? { failing: failing.slice(0, 10).map(([key, r]) => ({ sessionKey: key, failures: r.failures, cause: r.cause, since: r.since, lastError: r.lastError })) } : {}),
      },
      ...(output !== null ? { degradedReason: output } : {}),
    };
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.#wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    while (!signal.aborted) {
      const key = this.#queue.shift();
      if (key === undefined) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      try {
        await this.#repair(key, signal);
      } catch (err) {
        this.#o.log.error({ err, sessionKey: key }, "session repair failed unexpectedly");
      } finally {
        this.#busy.delete(key);
        this.#o.onReleased?.();
      }
      this.#prune();
    }
    signal.removeEventListener("abort", onAbort);
    // Stopping: whatever was queued is not repaired now; its turns may go.
    this.#queue.length = 0;
    this.#busy.clear();
  }

  #describe(key: string, r: SessionRecord, now: number): string {
    const head = `session ${key}: ${r.failures === 1 ? "its last turn" : `${r.failures} turns in a row`} failed with ${CAUSE_WORDS[r.cause!]}`;
    if (this.#busy.has(key)) return `${head}; repairing it`;
    const v = decideRepair(r, this.#others(key), now, this.#o.policy);
    return v.kind === "hold" ? `${head}; ${v.reason}` : `${head}; repair due`;
  }

  #others(key: string): SessionRecord[] {
    return [...this.#records.entries()].filter(([k]) => k !== key).map(([, r]) => r);
  }

  /** Queue a repair, or announce a hold, as the verdict says. */
  #consider(key: string): void {
    const r = this.#records.get(key);
    if (!r || this.#busy.has(key)) return;
    const now = this.#o.clock.now();
    const v = decideRepair(r, this.#others(key), now, this.#o.policy);
    if (v.kind === "repair") {
      this.#busy.add(key);
      this.#queue.push(key);
      this.#wake?.();
    } else if (v.kind === "hold") {
      const tag = `${r.since}|${v.reason}`;
      if (this.#announced.get(key) === tag) return;
      this.#announced.set(key, tag);
      this.#o.log.warn({ sessionKey: key, cause: v.cause, failures: v.failures, reason: v.reason }, "session keeps failing; not repairing it");
      this.#o.onHold?.({ at: now, sessionKey: key, cause: v.cause, failures: v.failures, reason: v.reason });
    }
  }

  /** Repair one session: compact, and reset if the gateway would not compact it. */
  async #repair(key: string, signal: AbortSignal): Promise<void> {
    const { gateway, clock, log } = this.#o;
    let evidence: string | undefined;
    for (;;) {
      // Not during the gateway's start: a repair waits for hello-ok.
      if (!gateway.ready) await gateway.waitReady(signal);
      if (signal.aborted) return;
      const r = this.#records.get(key);
      if (!r) return;
      const v = decideRepair(r, this.#others(key), clock.now(), this.#o.policy);
      if (v.kind !== "repair") return this.#consider(key);
      if (v.cause === "session" && evidence === undefined) evidence = await this.#evidence(key, signal);
      log.warn({ sessionKey: key, cause: v.cause, failures: v.failures, action: v.action, evidence }, "session keeps failing; repairing it");
      const error = await this.#call(key, v.action, signal);
      if (signal.aborted) return;
      const at = clock.now();
      const ok = error === undefined;
      this.#records.set(key, recordRepair(this.#records.get(key) ?? r, { at, action: v.action, ok }));
      const event: RepairEvent = { at, sessionKey: key, cause: v.cause, action: v.action, ok, failures: v.failures, ...(error !== undefined ? { error } : {}), ...(evidence ? { evidence } : {}) };
      this.#last = event;
      if (ok) this.#repairs++;
      (ok ? log.info.bind(log) : log.error.bind(log))({ ...event }, ok ? "session repaired" : "session repair failed");
      this.#o.onRepair?.(event);
      // A compaction the gateway refused is followed by a reset at once; a failed reset waits for the next failed turn.
      if (ok || v.action === "reset") return;
    }
  }

  /** Run one repair RPC. @returns undefined when the gateway did it, else why not */
  async #call(key: string, action: RepairAction, signal: AbortSignal): Promise<string | undefined> {
    const opts = { timeoutMs: this.#o.rpcTimeoutMs ?? REPAIR_RPC_TIMEOUT_MS, signal };
    try {
      if (action === "compact") {
        // openclaw 2026.9.6 docs/cli/sessions.md "sessions.compact RPC": {ok, key, compacted, result}.
        const res = await this.#o.gateway.admin<CompactResult>("sessions.compact", { key }, opts);
        if (res?.compacted === true) return undefined;
        return `the gateway did not compact it (${JSON.stringify(res?.reason ?? res ?? null).slice(0, 200)})`;
      }
      // rpc-session-control.md: sessions.reset {key}; observed answer {ok:true, key, entry}.
      const res = await this.#o.gateway.admin<ResetResult>("sessions.reset", { key }, opts);
      return res?.ok === false ? `the gateway did not reset it (${JSON.stringify(res).slice(0, 200)})` : undefined;
    } catch (err) {
      return (err as Error).message || String(err);
    }
  }

  /** What the session's newest messages show (orphaned tool calls, broken arguments), if readable. */
  async #evidence(key: string, signal: AbortSignal): Promise<string> {
    try {
      const h = await this.#o.gateway.request<{ messages?: unknown }>("chat.history", { sessionKey: key, limit: 200 }, { timeoutMs: 30_000, signal });
      return describeDamage(transcriptDamage(h?.messages)) || "transcript shows no damage";
    } catch (err) {
      return `transcript unreadable: ${(err as Error).message}`;
    }
  }

  #prune(): void {
    this.#records = pruneSessions(this.#records, this.#o.clock.now(), this.#o.policy.windowMs, MAX_SESSIONS);
    for (const key of this.#announced.keys()) if (!this.#records.has(key)) this.#announced.delete(key);
  }
}
