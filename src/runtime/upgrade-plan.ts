/**
 * Changing the OpenClaw version without an outage (issue 14): the pure part. Which change a
 * desired version asks for ({@link planVersionChange}), the order of the steps
 * ({@link nextStep}), and what a daemon restarted in the middle of a sequence does
 * ({@link onRestart}). Nothing here reads a clock or the disk; upgrade-journal.ts persists the
 * {@link UpgradeJournal} and daemon/upgrade.ts drives the steps.
 *
 * The sequence (every step is written to the journal before it starts, so a journal naming a
 * step means "this step may be half done"):
 * ```
 * install → drain → stop → snapshot → switch → gate → done
 *                                        └── any failure from switch on ──→ rollback → failed
 * ```
 * - install: the new version beside the current one (current.json untouched)
 * - drain: in-flight turns finish (delivery paused), up to DRAIN_TIMEOUT_MS
 * - stop: the gateway stops (SIGTERM, SIGKILL after the grace)
 * - snapshot: its state directory and openclaw.json, copied whole while it is stopped
 * - switch: a downgrade first restores the snapshot taken under the older version; then
 *   current.json names the new version
 * - gate: the new gateway starts and must pass the health gate (hello-ok, liveness, probe turn)
 *   within UPGRADE_HEALTH_DEADLINE_MS
 * - rollback: stop the new gateway, restore the snapshot, switch back, start the old version
 */
import { z } from "zod";
import { currentRecordSchema } from "./layout.ts";

/** The forward steps, in order. */
export const FORWARD_STEPS = ["install", "drain", "stop", "snapshot", "switch", "gate"] as const;

/** A step of the sequence: a forward step, `rollback`, or a terminal `done` / `failed`. */
export type UpgradeStep = (typeof FORWARD_STEPS)[number] | "rollback" | "done" | "failed";

/** Every step name, for the journal's schema and for metrics labels. */
export const UPGRADE_STEPS = [...FORWARD_STEPS, "rollback", "done", "failed"] as const satisfies readonly UpgradeStep[];

/**
 * A version change in progress, as persisted (upgrade-journal.ts). Times are epoch ms; paths
 * absolute. `from` is the version running when it began (`current.json`), `to` the desired one.
 */
export const upgradeJournalSchema = z.object({
  from: z.string().min(1),
  to: z.string().min(1),
  kind: z.enum(["upgrade", "downgrade"]),
  step: z.enum(UPGRADE_STEPS),
  startedAt: z.number(),
  /** current.json when it began: what a rollback switches back to. */
  fromRecord: currentRecordSchema.optional(),
  /** The new runtime, installed beside (set once the install step is done). */
  toRecord: currentRecordSchema.optional(),
  /** The snapshot taken at the `snapshot` step (under `from`): what a rollback restores. */
  snapshotDir: z.string().optional(),
  /** A downgrade: the snapshot taken under `to`, restored at the `switch` step. */
  restoreDir: z.string().optional(),
  /** Why it failed (the `upgrade failed: ...` reason), once rolling back. */
  reason: z.string().optional(),
  /** How many earlier attempts at `to` a daemon restart interrupted. */
  interrupted: z.number().int().nonnegative().default(0),
});

/** A version change in progress (see {@link upgradeJournalSchema}). */
export type UpgradeJournal = z.infer<typeof upgradeJournalSchema>;

/** A daemon killed during this many attempts at one version gives that version up as failed. */
export const MAX_INTERRUPTED_ATTEMPTS = 2;

/**
 * Compare two OpenClaw versions (calendar versions `2026.9.6`, optionally `-beta.1`): numeric
 * dot-separated parts; a prerelease sorts before its release. Pure.
 * @returns negative when a < b, 0 when equal, positive when a > b
 */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core = "", pre] = v.split("-", 2);
    return { parts: core.split(".").map((p) => Number.parseInt(p, 10) || 0), pre };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.parts.length, y.parts.length); i++) {
    const d = (x.parts[i] ?? 0) - (y.parts[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** A snapshot on disk, as {@link planVersionChange} needs it. */
export type SnapshotRef = { dir: string; openclawVersion: string };

/** Inputs of {@link planVersionChange}. */
export type PlanInput = {
  /** The version current.json names; undefined for an external runtime (OPENCLAW_NODE/ENTRY). */
  current: string | undefined;
  /** The desired version (control plane or `openclaw upgrade V`); undefined when none is set. */
  desired: string | undefined;
  /** The version whose last attempt failed, if any: not retried while it stays the desired one. */
  lastFailed: string | undefined;
  /**
   * Every complete snapshot kept (state-snapshot.ts listSnapshots), newest first. Usually one, but
   * a failed change whose discard failed leaves its own beside it: all are looked at.
   */
  snapshots: readonly SnapshotRef[];
  /** A pending retry of a transient install failure (install-retry.ts), if any. */
  installRetry?: { version: string; nextAt: number } | undefined;
  /** Wall clock, epoch ms: compared with `installRetry.nextAt`. */
  nowMs?: number;
};

/**
 * What a desired version asks for. `none`: nothing to do (`why` says so; `install-retry`: the
 * desired version's install failed transiently and is retried at `retryAt`, epoch ms). `refuse`: a change
 * that cannot be made safely (`reason` is for the operator). `change`: run the sequence; a
 * downgrade carries the snapshot to restore.
 */
export type PlanDecision =
  | { kind: "none"; why: "no-desired" | "current" | "failed-before" | "external" }
  | { kind: "none"; why: "install-retry"; retryAt: number }
  | { kind: "refuse"; reason: string }
  | { kind: "change"; change: "upgrade" }
  | { kind: "change"; change: "downgrade"; restoreDir: string };

/**
 * Decide what to do about the desired version. Pure.
 * A downgrade restores the newest kept snapshot taken under the older version (state written by a newer
 * OpenClaw may not load in an older one: `state-migrated-no-rollback`, upstream #153191); with
 * no such snapshot it is refused.
 */
export function planVersionChange(i: PlanInput): PlanDecision {
  if (i.desired === undefined) return { kind: "none", why: "no-desired" };
  if (i.current === undefined) return { kind: "none", why: "external" };
  if (i.desired === i.current) return { kind: "none", why: "current" };
  if (i.desired === i.lastFailed) return { kind: "none", why: "failed-before" };
  const retry = i.installRetry;
  if (retry?.version === i.desired && (i.nowMs ?? Number.POSITIVE_INFINITY) < retry.nextAt) return { kind: "none", why: "install-retry", retryAt: retry.nextAt };
  if (compareVersions(i.desired, i.current) > 0) return { kind: "change", change: "upgrade" };
  // The newest snapshot taken under the desired version; a newer one of another version (left by a
  // failed change whose discard failed) must neither block the downgrade nor be restored by it.
  const own = i.snapshots.find((snap) => snap.openclawVersion === i.desired);
  if (own) return { kind: "change", change: "downgrade", restoreDir: own.dir };
  const have = i.snapshots.length > 0 ? `the snapshots kept were taken under ${i.snapshots.map((snap) => snap.openclawVersion).join(", ")}` : "no snapshot is kept";
  return {
    kind: "refuse",
    reason:
      `downgrade from ${i.current} to ${i.desired} refused: ${i.desired} may not read state written by ${i.current}, ` +
      `and ${have}; install ${i.desired} with a fresh state directory by hand, or keep ${i.current}`,
  };
}

/** What happened to a step: it completed, or it failed with a reason. */
export type StepOutcome = { ok: true } | { ok: false; reason: string };

/**
 * The step after `step` given its outcome. Pure.
 * Before `switch` nothing the old gateway needs has changed, so a failure there ends the
 * sequence as `failed` with no rollback (the caller restarts the old gateway if it stopped it);
 * from `switch` on a failure goes to `rollback`. A failed rollback stays `rollback` (retried on
 * the next daemon start).
 */
export function nextStep(step: UpgradeStep, outcome: StepOutcome): UpgradeStep {
  if (step === "done" || step === "failed") return step;
  if (step === "rollback") return outcome.ok ? "failed" : "rollback";
  if (!outcome.ok) return FORWARD_STEPS.indexOf(step) >= FORWARD_STEPS.indexOf("switch") ? "rollback" : "failed";
  const i = FORWARD_STEPS.indexOf(step);
  return i === FORWARD_STEPS.length - 1 ? "done" : (FORWARD_STEPS[i + 1] as UpgradeStep);
}

/**
 * What a starting daemon does with a journal it finds.
 * - `abandon`: killed before `switch`: the gateway's state and current.json are untouched; drop
 *   the journal (and any partial snapshot) and start the old version; the change runs again.
 * - `rollback`: killed at `switch`, `gate` or `rollback`: state and current.json may be half
 *   changed; restore the snapshot, switch back to `from`, then start. `retry` says whether the
 *   version may be tried again (false once the rollback was for a failure, or after
 *   {@link MAX_INTERRUPTED_ATTEMPTS} interrupted attempts).
 * - `finish`: killed after `done` / `failed` was written: only the cleanup is left.
 */
export type RestartAction =
  | { action: "abandon"; retry: boolean }
  | { action: "rollback"; retry: boolean; reason: string }
  | { action: "finish" };

/** Decide what to do on a daemon start with `j` in the journal. Pure. */
export function onRestart(j: UpgradeJournal): RestartAction {
  if (j.step === "done" || j.step === "failed") return { action: "finish" };
  const mayRetry = j.interrupted + 1 < MAX_INTERRUPTED_ATTEMPTS;
  if (j.step === "rollback") {
    // A rollback for a failed gate: the version failed. A rollback that a restart began: retry allowed.
    return { action: "rollback", retry: j.reason === undefined && mayRetry, reason: j.reason ?? interruptedReason(j) };
  }
  if (FORWARD_STEPS.indexOf(j.step) < FORWARD_STEPS.indexOf("switch")) return { action: "abandon", retry: mayRetry };
  return { action: "rollback", retry: mayRetry, reason: interruptedReason(j) };
}

/** The reason recorded when a daemon restart interrupted the change at `j.step`. Pure. */
export function interruptedReason(j: Pick<UpgradeJournal, "step" | "interrupted">): string {
  const n = j.interrupted + 1;
  return `the daemon stopped during the ${j.step} step (attempt ${n} of ${MAX_INTERRUPTED_ATTEMPTS})`;
}
