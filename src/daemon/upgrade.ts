/**
 * The OpenClaw version change, driven step by step (issue 14). The order and the restart rules
 * are pure (runtime/upgrade-plan.ts); this module does the steps through {@link UpgradePorts},
 * writing the journal (runtime/upgrade-journal.ts) before each one, so a daemon killed at any
 * point finds what it was doing and {@link recoverUpgrade} resumes or rolls back.
 *
 * Every step is reported through `onStep(step, detail)`: for now the daemon logs it and records
 * it in `gateway_events` (daemon/upgrade-wiring.ts); the audit trail (src/store/audit.ts, merged
 * in parallel) is to be connected there.
 */
import { classifyInstallError, nextInstallRetryAt } from "../runtime/install-retry.ts";
import type { CurrentRecord } from "../runtime/layout.ts";
import { readUpgradeState, type UpgradeLayout, type UpgradeState, writeUpgradeState } from "../runtime/upgrade-journal.ts";
import { nextStep, onRestart, type PlanDecision, type UpgradeJournal, type UpgradeStep } from "../runtime/upgrade-plan.ts";

/**
 * What `onStep` reports: a step of the sequence, or an event beside it that the audit trail needs:
 * `install-retry` (a transient install failure, retried later; detail `attempt`, `retryAt` epoch
 * ms, `reason`) and `journal-damaged` (upgrade/state.json could not be read at start and was set
 * aside; detail `file`, `reason`, `hold`).
 */
export type ReportedStep = UpgradeStep | "install-retry" | "journal-damaged";

/** The health gate's verdict; a failure carries the reason and the gateway's own error lines. */
export type GateResult = { ok: true } | { ok: false; reason: string; lines: string[] };

/** What the sequence drives. Every method may throw; a throw is that step's failure. */
export type UpgradePorts = {
  layout: UpgradeLayout;
  /** The gateway's state directory (GatewayLayout.stateDir). */
  stateDir: string;
  /** Wall clock, ms since the epoch. */
  now: () => number;
  /** [0, 1): the jitter of an install retry's backoff (runtime/install-retry.ts). */
  random: () => number;
  /** current.json now, undefined without a managed runtime. */
  current: () => Promise<CurrentRecord | undefined>;
  /** Install `version` beside the current one (current.json untouched); its record. `signal` cancels it (it then throws). */
  install: (version: string, signal?: AbortSignal) => Promise<CurrentRecord>;
  /**
   * Pause delivery and let in-flight turns finish; resolves with how many are still in flight (ms
   * budget inside). Needs no signal: the daemon's stop drains delivery before it aborts, and that
   * drain ends the turns this waits for.
   */
  drain: () => Promise<number>;
  /** Undo {@link drain}. */
  resume: () => void;
  /** Stop the gateway and keep it stopped until {@link startGateway}; returns at once when `signal` aborts. */
  stopGateway: (signal?: AbortSignal) => Promise<void>;
  /** Let the gateway start again (with whatever current.json names then). */
  startGateway: () => void;
  /** Start has been asked: wait for the health gate within the deadline; returns at once when `signal` aborts. */
  healthGate: (signal?: AbortSignal) => Promise<GateResult>;
  takeSnapshot: (openclawVersion: string) => Promise<{ dir: string }>;
  /** Remove a snapshot a failed change took (the one kept before it stays the one kept). */
  discardSnapshot: (dir: string) => Promise<void>;
  restoreSnapshot: (dir: string) => Promise<void>;
  switchTo: (record: CurrentRecord) => Promise<void>;
  /** After a change passed its gate: keep only `snapshotDir` and the runtimes `versions`. */
  prune: (snapshotDir: string | undefined, versions: string[]) => Promise<void>;
  /** Every step as it starts, and the outcome (step `done` / `failed`). */
  onStep: (step: ReportedStep, detail: Record<string, unknown>) => void;
};

/**
 * The outcome of one change. `reason` is `upgrade failed: ...` (with the gateway's lines) on
 * failure. `retry`: the install failed transiently (runtime/install-retry.ts); nothing changed,
 * and the version is tried again at `retryAt` (epoch ms); `attempt` counts the failures so far.
 * `interrupted`: the daemon is stopping; the journal was left at `step`, for the next daemon
 * start to resume or roll back ({@link recoverUpgrade}), as after a kill.
 */
export type ChangeOutcome =
  | { result: "done"; from: string; to: string }
  | { result: "failed"; from: string; to: string; reason: string }
  | { result: "retry"; from: string; to: string; reason: string; attempt: number; retryAt: number }
  | { result: "interrupted"; from: string; to: string; step: UpgradeStep };

/** Build the `upgrade failed: <reason>` text, with up to 10 of the gateway's own lines. Pure. */
export function failureText(reason: string, lines: readonly string[] = []): string {
  const tail = lines.slice(-10);
  return `upgrade failed: ${reason}${tail.length > 0 ? `\ngateway said:\n${tail.map((l) => `  ${l}`).join("\n")}` : ""}`;
}

/** Persist `state` with `active` replaced, and report the step. */
async function enter(p: UpgradePorts, state: UpgradeState, j: UpgradeJournal, detail: Record<string, unknown> = {}): Promise<UpgradeState> {
  const next = { ...state, active: j };
  await writeUpgradeState(p.layout, next);
  p.onStep(j.step, { from: j.from, to: j.to, kind: j.kind, ...detail });
  return next;
}

/**
 * Run one version change as `decision` (a `change` from planVersionChange) says, to `to`.
 * Never leaves the gateway held: on any outcome the gateway is started again and delivery resumed,
 * but one: `signal` (the daemon's stop) aborting. Every wait then returns at once and the change
 * ends `interrupted` where it was: nothing more is written (no failure, no `lastFailed`), nothing
 * is rolled back or started (the daemon's stop stops the gateway and releases the hold), and the
 * next daemon start finishes it from the journal as after a kill.
 * @returns the outcome; the journal's `lastDone` / `lastFailed` say the same
 * @throws only when the journal cannot be written at all (the gateway is started again first)
 */
export async function runVersionChange(p: UpgradePorts, to: string, decision: Extract<PlanDecision, { kind: "change" }>, signal?: AbortSignal): Promise<ChangeOutcome> {
  let state = await readUpgradeState(p.layout);
  const fromRecord = await p.current();
  if (!fromRecord) throw new Error("no managed OpenClaw runtime: nothing to change from");
  const from = fromRecord.openclawVersion;
  const interrupted = state.interrupted?.version === to ? state.interrupted.count : 0;
  let j: UpgradeJournal = {
    from, to, kind: decision.change, step: "install", startedAt: p.now(), fromRecord, interrupted,
    ...(decision.change === "downgrade" ? { restoreDir: decision.restoreDir } : {}),
  };
  let stopped = false;
  let drained = false;
  const advance = async (detail: Record<string, unknown> = {}) => {
    j = { ...j, step: nextStep(j.step, { ok: true }) };
    state = await enter(p, state, j, detail);
  };
  // Checked after every wait: a stop ends the change at the step the journal names.
  const halt = () => signal?.throwIfAborted();
  const stoppedAt = (): ChangeOutcome => ({ result: "interrupted", from, to, step: j.step });
  try {
    state = await enter(p, state, j);
    j = { ...j, toRecord: await p.install(to, signal) };
    halt();
    await advance();
    drained = true;
    const left = await p.drain();
    halt();
    await advance({ inFlightLeft: left });
    stopped = true;
    await p.stopGateway(signal);
    halt();
    await advance();
    j = { ...j, snapshotDir: (await p.takeSnapshot(from)).dir };
    await advance({ snapshotDir: j.snapshotDir });
    halt();
  } catch (err) {
    if (signal?.aborted) return stoppedAt();
    // Nothing the old gateway needs has changed yet: it starts as it was.
    const reason = failureText(`${j.step}: ${(err as Error).message}`);
    if (stopped) p.startGateway();
    if (drained) p.resume();
    if (j.step === "install" && classifyInstallError(err) === "transient") return scheduleInstallRetry(p, state, j, reason);
    return finish(p, state, j, reason);
  }
  let gate: GateResult;
  try {
    if (j.restoreDir !== undefined) await p.restoreSnapshot(j.restoreDir);
    await p.switchTo(j.toRecord as CurrentRecord);
    await advance();
    halt();
    p.startGateway();
    gate = await p.healthGate(signal);
  } catch (err) {
    gate = { ok: false, reason: `${j.step}: ${(err as Error).message}`, lines: [] };
  }
  // A gate cut short by the stop is no verdict on the version: the next start rolls back, may retry.
  if (!gate.ok && signal?.aborted) return stoppedAt();
  if (gate.ok) {
    j = { ...j, step: "done" };
    state = await enter(p, state, j);
    p.resume();
    await p.prune(j.snapshotDir, [to, from]).catch((err: Error) => p.onStep("done", { from, to, pruneError: err.message }));
    const done: UpgradeState = { ...state, active: null, lastDone: { from, to, at: p.now() }, interrupted: null, switchedTo: to, installRetry: null };
    await writeUpgradeState(p.layout, done);
    return { result: "done", from, to };
  }
  const reason = failureText(gate.reason, gate.lines);
  j = { ...j, step: "rollback", reason };
  state = await enter(p, state, j, { reason });
  try {
    await rollBack(p, j, signal);
  } catch (err) {
    if (signal?.aborted) return stoppedAt();
    // The state may be half restored: no gateway may start on it. The journal stays at rollback,
    // so the next daemon start runs the rollback again; delivery resumes (turns wait for a gateway).
    const why = failureText(`${reason.replace(/^upgrade failed: /, "")}; then the rollback failed: ${(err as Error).message}`);
    p.onStep("failed", { from, to, reason: why, rollbackFailed: true });
    p.resume();
    return { result: "failed", from, to, reason: why };
  }
  p.resume();
  return finish(p, state, j, reason);
}

/**
 * Stop the new gateway, restore the snapshot, switch back to `from`, start the old one. Each
 * part is idempotent, so a rollback a restart interrupted is simply run again.
 * @throws when a part fails (the journal stays at `rollback`; the next daemon start retries), or
 *   `signal`'s reason once it aborted during the stop
 */
async function rollBack(p: RollbackPorts, j: UpgradeJournal, signal?: AbortSignal): Promise<void> {
  await p.stopGateway?.(signal);
  signal?.throwIfAborted();
  if (j.snapshotDir !== undefined) await p.restoreSnapshot(j.snapshotDir);
  if (j.fromRecord) await p.switchTo(j.fromRecord);
  p.startGateway?.();
}

/** What a rollback and the failure record need; without a gateway (daemon start) no stop/start. */
type RollbackPorts = Pick<UpgradePorts, "layout" | "now" | "restoreSnapshot" | "switchTo" | "onStep" | "discardSnapshot"> & Partial<Pick<UpgradePorts, "stopGateway" | "startGateway">>;

/**
 * Record a transient install failure: no active journal, no `lastFailed`; `installRetry` counts
 * the attempt and says when the next one is due (backoff with jitter); reported as
 * `install-retry`. Nothing was changed: the gateway never stopped.
 */
async function scheduleInstallRetry(p: UpgradePorts, state: UpgradeState, j: UpgradeJournal, reason: string): Promise<ChangeOutcome> {
  const attempt = (state.installRetry?.version === j.to ? state.installRetry.attempts : 0) + 1;
  const retryAt = nextInstallRetryAt(attempt, p.now(), p.random);
  await writeUpgradeState(p.layout, { ...state, active: null, installRetry: { version: j.to, attempts: attempt, nextAt: retryAt, reason } });
  p.onStep("install-retry", { from: j.from, to: j.to, kind: j.kind, attempt, retryAt, reason });
  return { result: "retry", from: j.from, to: j.to, reason, attempt, retryAt };
}

/** Record a failed change: `lastFailed`, no active journal; reported as step `failed`. */
async function finish(p: RollbackPorts, state: UpgradeState, j: UpgradeJournal, reason: string, retry = false): Promise<ChangeOutcome> {
  const next: UpgradeState = {
    ...state,
    active: null,
    lastFailed: retry ? state.lastFailed : { version: j.to, reason, at: p.now() },
    interrupted: retry ? { version: j.to, count: j.interrupted + 1 } : null,
    switchedTo: j.fromRecord?.openclawVersion ?? state.switchedTo,
    // Failed for good: no retry pending for it any more. Interrupted: the backoff stays as it was.
    installRetry: retry || state.installRetry?.version !== j.to ? state.installRetry : null,
  };
  // The journal first: a kill while the snapshot below is being deleted must not leave a journal
  // that points a later rollback at a half-deleted snapshot.
  await writeUpgradeState(p.layout, next);
  // Taken for this change only: the snapshot kept from the last good change stays the one kept.
  if (j.snapshotDir !== undefined) await p.discardSnapshot(j.snapshotDir).catch((err: Error) => p.onStep("failed", { from: j.from, to: j.to, discardError: err.message }));
  p.onStep("failed", { from: j.from, to: j.to, reason, retry });
  return { result: "failed", from: j.from, to: j.to, reason };
}

/**
 * On daemon start, before the gateway starts: finish what a killed daemon left in the journal
 * (runtime/upgrade-plan.ts, onRestart). The gateway is not running yet, so nothing is stopped.
 * @returns what was done, or undefined when the journal was empty
 * @throws StateFileError when the journal is damaged; fs errors from the restore
 */
export async function recoverUpgrade(p: RollbackPorts): Promise<ChangeOutcome | undefined> {
  const state = await readUpgradeState(p.layout);
  const j = state.active;
  if (!j) return undefined;
  const action = onRestart(j);
  if (action.action === "finish") {
    const ok = j.step === "done";
    const next: UpgradeState = ok
      ? { ...state, active: null, lastDone: { from: j.from, to: j.to, at: p.now() }, interrupted: null, switchedTo: j.to, installRetry: null }
      : { ...state, active: null };
    await writeUpgradeState(p.layout, next);
    return ok ? { result: "done", from: j.from, to: j.to } : { result: "failed", from: j.from, to: j.to, reason: j.reason ?? "upgrade failed" };
  }
  p.onStep("rollback", { from: j.from, to: j.to, restart: action.action, at: j.step });
  if (action.action === "rollback") {
    await rollBack({ ...p, stopGateway: undefined, startGateway: undefined }, j);
    return finish(p, state, j, action.reason.startsWith("upgrade failed") ? action.reason : failureText(action.reason), action.retry);
  }
  return finish(p, state, j, failureText(`the daemon stopped during the ${j.step} step`), action.retry);
}
