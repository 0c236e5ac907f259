/**
 * The session-repair verdict (issue 12, failure modes 1 and 2), pure: what the daemon knows of
 * each gateway session from its finished turns, and whether a session needs a repair now.
 *
 * - A **context overflow death spiral** (upstream #13624, #146724, #150447): a big tool output
 *   in the context makes every later turn of that session fail with the provider's context-length
 *   400 until the session is cleaned. OpenClaw 2026.9.6 tries its own auto-compaction first and
 *   then gives up ("exhausted provider overflow recovery ... suggestedAction=reset_or_new").
 * - A **poisoned session** (upstream #10310, #15037, #69846): a transcript the provider refuses as
 *   malformed (an orphaned tool call, broken partial JSON), so every turn of that session fails.
 *
 * Turns are sorted by turns/error-class.ts. `context` and `session` failures count towards a
 * session's streak; a reply ends it; any other failure (auth, cooldown, quota, timeout...) says
 * nothing about the session and leaves the streak as it is. A streak of `after` failures in a
 * row asks for a repair: compaction through the gateway (`sessions.compact`), or a reset
 * (`sessions.reset`: the gateway keeps the old transcript and starts the session afresh). A
 * compaction that the gateway refused, or after which the session fails again before any reply,
 * is followed by a reset at that first failure; so is a reset the gateway did not do. At most `maxRepairs` repairs per session within
 * `windowMs`; then the session is left as it is and the verdict says so.
 *
 * The gateway reports a malformed request without the provider's words ("provider rejected the
 * request schema or tool payload"). A provider that rejects every request (say a tool schema it
 * does not accept) looks the same from one session; so a `session` streak is not repaired while
 * another session's latest turn failed the same way: that is the provider or the configuration,
 * and resetting every conversation would not help.
 */
import type { ErrorClass } from "../turns/error-class.ts";

/** How a session is repaired. */
export type RepairAction = "compact" | "reset";

/** Why: the failure class of the streak. */
export type RepairCause = "context" | "session";

/** The repair settings (SESSION_REPAIR, SESSION_REPAIR_AFTER, SESSION_REPAIR_MAX, SESSION_REPAIR_WINDOW_MS). */
export type SessionRepairPolicy = {
  /** `compact` (then reset if that did not help), `reset`, or `off` (report only). */
  mode: RepairAction | "off";
  /** Consecutive `context`/`session` failures that call for a repair (>= 1). */
  after: number;
  /** Most repairs of one session within {@link windowMs}. */
  maxRepairs: number;
  /** The window of {@link maxRepairs} (ms). */
  windowMs: number;
};

/** One repair of a session. `at` is epoch ms; `ok` is whether the gateway did it. */
export type RepairRecord = { at: number; action: RepairAction; ok: boolean };

/** What is known of one session. Times are epoch ms. */
export type SessionRecord = {
  /** `context`/`session` failures in a row since the last reply or repair. */
  failures: number;
  /** The class of the latest of them (null without a streak). */
  cause: RepairCause | null;
  /** When the first of them finished (null without a streak). */
  since: number | null;
  /** The latest failure's message. */
  lastError: string | null;
  /** The latest finished turn's class, or `ok` for a reply. */
  last: ErrorClass | "ok";
  /** When the latest reply finished (null: none seen). */
  lastOkAt: number | null;
  /** Repairs, oldest first (those older than the window are dropped by {@link pruneSessions}). */
  repairs: RepairRecord[];
  /** The latest change. */
  updatedAt: number;
};

/** One finished turn, as the verdict needs it. */
export type FinishedTurn = { ok: boolean; cls: ErrorClass | null; message: string | null; at: number };

/** The verdict for one session. */
export type RepairVerdict =
  | { kind: "none" }
  | { kind: "repair"; action: RepairAction; cause: RepairCause; failures: number }
  | { kind: "hold"; cause: RepairCause; failures: number; reason: string };

const EMPTY: SessionRecord = { failures: 0, cause: null, since: null, lastError: null, last: "ok", lastOkAt: null, repairs: [], updatedAt: 0 };

/** The record after one finished turn of the session. Pure. */
export function recordTurn(prev: SessionRecord | undefined, turn: FinishedTurn): SessionRecord {
  const r = prev ?? EMPTY;
  if (turn.ok) return { ...r, failures: 0, cause: null, since: null, last: "ok", lastOkAt: turn.at, updatedAt: turn.at };
  const cls = turn.cls ?? "other";
  if (cls !== "context" && cls !== "session") return { ...r, last: cls, updatedAt: turn.at };
  return { ...r, failures: r.failures + 1, cause: cls, since: r.since ?? turn.at, lastError: turn.message, last: cls, updatedAt: turn.at };
}

/** The record after a repair: a repair that worked starts a new streak. Pure. */
export function recordRepair(prev: SessionRecord, repair: RepairRecord): SessionRecord {
  const repairs = [...prev.repairs, repair];
  return repair.ok ? { ...prev, failures: 0, cause: null, since: null, repairs, updatedAt: repair.at } : { ...prev, repairs, updatedAt: repair.at };
}

/** Repairs of `r` within the window before `nowMs`. Pure. */
export function recentRepairs(r: SessionRecord, nowMs: number, windowMs: number): RepairRecord[] {
  return r.repairs.filter((x) => x.at > nowMs - windowMs);
}

/** A duration as people say it ("24 h", "90 min", "45 s"). Pure. */
export function humanDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}

/**
 * Whether session `r` needs a repair now. Pure.
 * @param others the records of every other session (for the `session`-class guard, see the module comment)
 */
export function decideRepair(r: SessionRecord, others: Iterable<SessionRecord>, nowMs: number, p: SessionRepairPolicy): RepairVerdict {
  if (r.cause === null || r.failures === 0) return { kind: "none" };
  const { cause, failures } = r;
  const recent = recentRepairs(r, nowMs, p.windowMs);
  // Since the last reset that worked: a compaction the gateway refused, or after which the session
  // has not replied, or a reset the gateway did not do. Then the first failure is enough, and the
  // repair is a reset. A compaction followed by replies helped.
  const lastReset = recent.findLastIndex((x) => x.action === "reset" && x.ok);
  const tail = recent.slice(lastReset + 1);
  const noReplySince = (x: RepairRecord) => r.lastOkAt === null || r.lastOkAt < x.at;
  const compact = tail.findLast((x) => x.action === "compact");
  const previous = tail.at(-1);
  const escalate = (compact !== undefined && (!compact.ok || noReplySince(compact))) || (previous?.action === "reset" && noReplySince(previous));
  if (failures < (escalate ? 1 : p.after)) return { kind: "none" };
  if (p.mode === "off") return { kind: "hold", cause, failures, reason: "repair is off (SESSION_REPAIR=off)" };
  if (recent.length >= p.maxRepairs) {
    return { kind: "hold", cause, failures, reason: `left as it is: ${recent.length} repairs within ${humanDuration(p.windowMs)} did not help (SESSION_REPAIR_MAX=${p.maxRepairs})` };
  }
  if (cause === "session") {
    let alike = 0;
    for (const o of others) if (o.cause === "session" && o.failures > 0 && o.last === "session") alike++;
    if (alike > 0) return { kind: "hold", cause, failures, reason: `${alike} other session${alike === 1 ? "" : "s"} failing the same way: the provider or the configuration, not this session's transcript` };
  }
  return { kind: "repair", action: p.mode === "reset" || escalate ? "reset" : "compact", cause, failures };
}

/**
 * The records worth keeping: a session with a streak, or with repairs within the window; at
 * most `max` of them, the most recently changed. Pure (returns a new map).
 */
export function pruneSessions(records: ReadonlyMap<string, SessionRecord>, nowMs: number, windowMs: number, max: number): Map<string, SessionRecord> {
  const kept = [...records.entries()]
    .map(([k, r]) => [k, { ...r, repairs: recentRepairs(r, nowMs, windowMs) }] as const)
    .filter(([, r]) => r.failures > 0 || r.repairs.length > 0)
    .sort((a, b) => b[1].updatedAt - a[1].updatedAt)
    .slice(0, max);
  return new Map(kept);
}

/** The failure classes in words, for reasons and /health. */
export const CAUSE_WORDS: Readonly<Record<RepairCause, string>> = {
  context: "context overflow",
  session: "a transcript the provider refuses (malformed request)",
};
