/**
 * The version change in the running daemon (issue 14): its ports built from the assembled parts,
 * the recovery on start, and the loop that applies one desired version at a time. The desired
 * version is the control plane's (`gateway.openclawVersion` in the runtime's settings) when it
 * names one, else the one `agent-supervisor openclaw upgrade V` wrote (upgrade/desired-local.json).
 *
 * Steps are logged, recorded in `gateway_events` as `upgrade:<step>` and in the audit trail as
 * `openclaw.upgrade` entries (stepRecorder, upgrade-recover.ts).
 */
import { mkdirSync, watch, type FSWatcher } from "node:fs";
import { basename } from "node:path";
import { installOpenclaw } from "../runtime/install.ts";
import { installRetryProblem } from "../runtime/install-retry.ts";
import { readCurrent, runtimeLayout } from "../runtime/layout.ts";
import { listSnapshots, pruneSnapshots, removeSnapshot, restoreSnapshot, takeSnapshot } from "../runtime/state-snapshot.ts";
import { readDesiredLocal, readUpgradeState, upgradeLayout, writeUpgradeState } from "../runtime/upgrade-journal.ts";
import { planVersionChange } from "../runtime/upgrade-plan.ts";
import { pruneRuntimes, switchCurrent } from "../runtime/upgrade-switch.ts";
import type { OpenclawVersions } from "../health/ports.ts";
import { pausePorts } from "../turns/delivery-pause.ts";
import type { Parts } from "./assemble.ts";
import { healthGate, stopAndHold } from "./upgrade-gate.ts";
import { stepRecorder } from "./upgrade-recover.ts";
import { runVersionChange, type UpgradePorts } from "./upgrade.ts";

/**
 * How soon a change that is due but has to wait (the gateway is starting or stopping) is looked at
 * again (ms), and how often the desired version is looked at when the upgrade directory cannot be
 * watched.
 */
export const UPGRADE_CHECK_MS = 5_000;

/**
 * How often the desired version is looked at with nothing to wake the runner (ms): a safety net.
 * A new control-plane version ({@link UpgradeRunner.setControlPlaneDesired}) and a write of
 * `desired-local.json` (fs.watch of the upgrade directory) wake it; an install retry sets its own
 * time. It was a look every 5 s (issue 15, goal 2: no timer that polls what could be an event).
 */
export const UPGRADE_IDLE_LOOK_MS = 300_000;

/** The ports of the sequence over the assembled daemon. */
export function upgradePorts(p: Parts): UpgradePorts {
  const { s, host, files, supervisor, delivery, connection, upgradeHold: hold } = p;
  const { clock } = host;
  const dataDir = s.AGENT_SUPERVISOR_DATA_DIR;
  const layout = upgradeLayout(dataDir);
  return {
    layout, stateDir: files.gateway.stateDir, now: clock.now, random: host.random,
    current: () => readCurrent(runtimeLayout(dataDir).currentFile),
    install: async (version, signal) =>
      (await installOpenclaw({ dataDir, openclawVersion: version, registry: s.NPM_REGISTRY, fetch: host.fetch, spawn: host.spawn, now: clock.now, env: host.env, activate: false, signal })).record,
    ...pausePorts(delivery, s.DRAIN_TIMEOUT_MS), // drain, resume: one counted pause of delivery
    stopGateway: (signal) => stopAndHold({ hold, clock, supervisor: () => supervisor.snapshot(), requestRestart: () => supervisor.requestRestart("upgrade"), signal }),
    startGateway: () => {
      hold.open();
      supervisor.wake();
    },
    healthGate: (signal) =>
      healthGate({
        clock, supervisor: () => supervisor.snapshot(), connected: () => connection.ready,
        request: (method, params, opts) => connection.request(method, params, opts),
        tail: () => p.outputTail.lines(), deadlineMs: s.UPGRADE_HEALTH_DEADLINE_MS, livenessTimeoutMs: s.LIVENESS_TIMEOUT_MS, stableMs: s.UPGRADE_STABLE_MS,
        probe: s.PROBE_TURN_INTERVAL_MS > 0 ? { message: s.PROBE_TURN_MESSAGE, timeoutMs: s.PROBE_TURN_TIMEOUT_MS } : undefined,
        signal,
      }),
    takeSnapshot: (v) => takeSnapshot({ stateDir: files.gateway.stateDir, snapshotsDir: layout.snapshotsDir, openclawVersion: v, now: clock.now }),
    restoreSnapshot: async (dir) => void (await restoreSnapshot(dir, files.gateway.stateDir)),
    discardSnapshot: removeSnapshot,
    switchTo: (r) => switchCurrent(dataDir, r),
    prune: async (keep, versions) => {
      await pruneSnapshots(layout.snapshotsDir, keep);
      await pruneRuntimes(dataDir, versions);
    },
    onStep: stepRecorder(p.events, clock, p.log.child({ subsystem: "upgrade" }), p.audit),
  };
}

/** Applies the desired version, one change at a time (see the module comment). */
export class UpgradeRunner {
  readonly #p: Parts;
  readonly #ports: UpgradePorts;
  #cpDesired: string | undefined;
  #wake: (() => void) | undefined;
  /** A nudge came since the last look began: look again at once. */
  #nudged = false;
  /** The upgrade directory is watched (#watchLocal): no look every UPGRADE_CHECK_MS is needed. */
  #watching = false;
  #view: OpenclawVersions = { current: null, desired: null, lastFailed: null, step: null, problem: null };

  constructor(p: Parts, ports: UpgradePorts = upgradePorts(p)) {
    this.#p = p;
    const onStep = ports.onStep;
    this.#ports = { ...ports, onStep: (step, d) => ((this.#view = { ...this.#view, step: step === "done" || step === "failed" || step === "install-retry" || step === "journal-damaged" ? null : step }), onStep(step, d)) };
  }

  /** The control plane's desired version (undefined: it names none); looked at now. */
  setControlPlaneDesired(version: string | undefined): void {
    if (version === this.#cpDesired) return;
    this.#cpDesired = version;
    this.#nudge();
  }

  #nudge(): void {
    this.#nudged = true;
    this.#wake?.();
  }

  /** The versions now (a copy). */
  versions(): OpenclawVersions {
    return { ...this.#view, lastFailed: this.#view.lastFailed && { ...this.#view.lastFailed } };
  }

  /**
   * Look at the desired version when nudged (a control-plane version, a write in the upgrade
   * directory), when a look it asked for is due (an install retry, a change waiting for the
   * gateway's start), and every {@link UPGRADE_IDLE_LOOK_MS} otherwise, until `signal` aborts. A
   * change under way then ends at once (runVersionChange: every wait returns on the signal), its
   * journal left at the step it reached for the next start, so the daemon's stop (daemon/run.ts
   * awaits this with the supervisor's own stop) is not held up by it.
   */
  async run(signal: AbortSignal): Promise<void> {
    // A stop in the middle of a change must not leave the supervisor parked at the hold.
    const release = () => this.#p.upgradeHold.open();
    signal.addEventListener("abort", release, { once: true });
    const watcher = this.#watchLocal();
    try {
      while (!signal.aborted) {
        this.#nudged = false;
        const dueInMs = await this.tick(signal);
        if (this.#nudged) continue;
        const woken = new AbortController();
        this.#wake = () => woken.abort();
        const idleMs = this.#watching ? UPGRADE_IDLE_LOOK_MS : UPGRADE_CHECK_MS;
        await this.#p.host.clock.sleep(Math.max(0, Math.min(dueInMs, idleMs)), AbortSignal.any([signal, woken.signal]));
        woken.abort();
        this.#wake = undefined;
      }
    } finally {
      watcher?.close();
      signal.removeEventListener("abort", release);
    }
  }

  /**
   * Watch the upgrade directory (created if missing, mode 0700) for `openclaw upgrade V` writing
   * `desired-local.json` (atomically: a rename into the directory). While it cannot be watched (it
   * failed to start, or the watcher reported an error; logged) the runner looks every
   * {@link UPGRADE_CHECK_MS}. @returns the watcher to close, if one started
   */
  #watchLocal(): FSWatcher | undefined {
    const { root } = this.#ports.layout;
    const unwatched = (err: Error) => {
      this.#watching = false;
      this.#p.log.warn({ err: err.message, dir: root }, `cannot watch the upgrade directory; looking at it every ${UPGRADE_CHECK_MS / 1000} s`);
      this.#wake?.(); // the sleep under way was for the idle look
    };
    try {
      mkdirSync(root, { recursive: true, mode: 0o700 });
      const w = watch(root, { persistent: false }, (_event, name) => {
        if (name === null || name.startsWith(basename(this.#ports.layout.desiredLocalFile))) this.#nudge();
      });
      w.on("error", unwatched);
      this.#watching = true;
      return w;
    } catch (err) {
      unwatched(err as Error);
      return undefined;
    }
  }

  /**
   * One look: plan, and run a change when one is due. Exposed for tests.
   * @returns how soon (ms) to look again even if nothing nudges: an install retry's time, or
   *   {@link UPGRADE_CHECK_MS} for a change waiting for the gateway; Infinity when only a nudge matters
   * @throws journal read errors
   */
  async tick(signal?: AbortSignal): Promise<number> {
    const { s, log, service } = this.#p;
    let state = await readUpgradeState(this.#ports.layout);
    const local = await readDesiredLocal(this.#ports.layout).catch((err: Error) => (log.warn({ err: err.message }, "desired-local.json unreadable; ignored"), undefined));
    const desired = this.#cpDesired ?? local?.version;
    const stale = (v: { version: string } | null) => v !== null && desired !== undefined && desired !== v.version && state.active === null;
    if (stale(state.lastFailed) || stale(state.installRetry)) {
      // The desired version changed since the failure: the failed one may be tried again if asked
      // for later, and a pending install retry of it is dropped (with its backoff).
      state = { ...state, lastFailed: stale(state.lastFailed) ? null : state.lastFailed, installRetry: stale(state.installRetry) ? null : state.installRetry };
      await writeUpgradeState(this.#ports.layout, state);
    }
    const external = s.OPENCLAW_NODE !== undefined || s.OPENCLAW_ENTRY !== undefined;
    const current = external ? undefined : (await this.#ports.current())?.openclawVersion;
    const snapshots = await listSnapshots(this.#ports.layout.snapshotsDir);
    const retry = state.installRetry?.version === desired ? state.installRetry : null;
    const decision = planVersionChange({ current, desired, lastFailed: state.lastFailed?.version, snapshots, installRetry: retry ?? undefined, nowMs: this.#p.host.clock.now() });
    const planned = decision.kind === "refuse" ? decision.reason : decision.kind === "none" && decision.why === "external" && desired !== undefined ? "a desired OpenClaw version is ignored with OPENCLAW_NODE/OPENCLAW_ENTRY (an external runtime)" : null;
    // What the recovery at start found (a damaged journal set aside) stays visible until the next start.
    const problem = planned ?? (retry ? installRetryProblem(retry) : null) ?? this.#p.upgradeStart?.problem ?? null;
    if (problem !== null && problem !== this.#view.problem) log.error({ desired, current }, problem);
    this.#view = {
      current: current ?? null, desired: desired ?? null, step: state.active?.step ?? null, problem,
      lastFailed: state.lastFailed && { version: state.lastFailed.version, reason: state.lastFailed.reason },
    };
    const now = this.#p.host.clock.now();
    if (decision.kind === "none" && decision.why === "install-retry") return decision.retryAt - now;
    if (decision.kind !== "change" || signal?.aborted || service.draining || desired === undefined) return Infinity;
    // The gateway is held on a half-restored state directory: no change until an operator fixes it.
    if (this.#p.upgradeStart?.holdGateway) return Infinity;
    // A change still in the journal (a rollback that failed) is finished by the next daemon start,
    // never overwritten by a new one: that would prune the snapshot its rollback needs.
    if (state.active !== null) {
      if (this.#view.problem === null) log.error({ step: state.active.step, from: state.active.from, to: state.active.to }, "a version change is still unfinished (its rollback failed); no new change until a daemon restart finishes it");
      this.#view = { ...this.#view, problem: `the change ${state.active.from} -> ${state.active.to} is unfinished at ${state.active.step}; restart the daemon to finish its rollback` };
      return Infinity;
    }
    // Never stop a gateway in the middle of its start: one killed while it boots can leave OpenClaw's
    // gateway-lifecycle lease held in its state, and the next version's migration then cannot run
    // (`StateDatabaseCoordinatorContentionError`, exit 78). Looked at again at the next tick.
    // (A start that begins during the install is waited out the same way, in stopAndHold.)
    const gateway = this.#p.supervisor.snapshot().state;
    if (gateway === "starting" || gateway === "stopping") return UPGRADE_CHECK_MS;
    // One planned restart sequence at a time (Parts.gatewayChanges): a key rotation or a memory
    // restart waits until this change is done or rolled back, and this one waits for theirs.
    const out = await this.#p.gatewayChanges.runExclusive(() => runVersionChange(this.#ports, desired, decision, signal));
    if (out.result === "interrupted") {
      log.warn({ step: out.step, from: out.from, to: out.to }, "the daemon is stopping: version change left at its step; the next start resumes or rolls it back");
      this.#view = { ...this.#view, step: out.step };
      return Infinity;
    }
    this.#view = {
      ...this.#view, current: out.result === "done" ? out.to : out.from, step: null,
      lastFailed: out.result === "failed" ? { version: out.to, reason: out.reason } : this.#view.lastFailed,
      problem: out.result === "retry" ? installRetryProblem({ version: out.to, attempts: out.attempt, nextAt: out.retryAt, reason: out.reason }) : out.result === "done" ? null : this.#view.problem,
    };
    return out.result === "retry" ? out.retryAt - this.#p.host.clock.now() : Infinity;
  }
}
