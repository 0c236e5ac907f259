/**
 * The gateway supervisor: one loop that prepares, spawns, waits for protocol readiness,
 * watches and restarts the OpenClaw gateway, recording every state change in SQLite.
 *
 * Readiness is not decided here: the gateway connection reports `hello-ok` through
 * {@link GatewaySupervisor.markReady} (an open port is not readiness; OPENCLAW_FACTS).
 *
 * A failed SQLite write never stops the gateway: state events and the generation counter that
 * cannot be written are written later, in order (event-journal.ts).
 */
import type { AuditAction } from "../core/audit.ts";
import { EventJournal } from "./event-journal.ts";
import { spawnChild, type ChildExit, type LaunchSpec, type RunningChild } from "./child.ts";
import { clearPidFile, reapOrphan, writePidFile } from "./pid-file.ts";
import type { RestartCause, SupervisorSnapshot } from "./state.ts";
import { ConfigError, UnavailableError } from "../core/errors.ts";
import { decideRestart, type RestartHistory } from "./restart-policy.ts";
import type { SupervisorDeps } from "./supervisor-deps.ts";

export type { SupervisorDeps, SupervisorPolicy } from "./supervisor-deps.ts";

/** Causes that are failures of the gateway (they count for backoff and the crash-loop breaker). */
const FAILURE_CAUSES: ReadonlySet<RestartCause> = new Set(["crash", "hang", "stall", "memory", "startup-timeout", "config", "probe", "stuck"]);

/**
 * How the gateway reports that an earlier gateway process still holds its startup lease (openclaw
 * 2026.9.6 exits 78 then; the lease of a killed process lives out its 5-minute TTL,
 * openclaw/openclaw#103145). Not a configuration error: retried with backoff, never held.
 */
const LEASE_HELD_LINE = /database maintenance lease \S+ is held by|startup migrations are already running for this state directory/;
const LEASE_HELD_REASON = "startup refused: OpenClaw's database maintenance lease is still held by an earlier gateway process (it expires within 5 minutes)";

/** How the gateway reports a config written by a newer OpenClaw (openclaw 2026.9.6, exit code 1). */
const NEWER_CONFIG_LINE = /older than the config last written by OpenClaw (\S+?)\.?$/;

/** An action of the gateway for the audit trail, recorded with a state change ({@link GatewaySupervisor} `#set`). */
type SupervisorAudit = { action: AuditAction; cause: string; detail?: Record<string, unknown> };

/** Supervises one gateway child at a time. Call {@link run} once. */
export class GatewaySupervisor {
  readonly #d: SupervisorDeps;
  #snap: SupervisorSnapshot;
  #readyWaiter: { generation: number; resolve: () => void } | undefined;
  #restartWaiter: ((cause: RestartCause) => void) | undefined;
  #child: RunningChild | undefined;
  #becameReady = false;
  #lastCause: RestartCause | null = null;
  #announced: string | null = null; // a terminal shutdown's announced reason
  #wakeBackoff: (() => void) | undefined;
  readonly #journal: EventJournal;

  /** @throws SqliteError if the store cannot be read (the daemon cannot start) */
  constructor(deps: SupervisorDeps) {
    this.#d = deps;
    this.#journal = new EventJournal(deps.events, deps.clock, deps.random, deps.log);
    // Generations are unique across daemon restarts, so a run id recorded under one gateway
    // process is never mistaken for a run of a later one.
    const generation = deps.events.lastGeneration();
    this.#snap = { state: "stopped", pid: null, since: deps.clock.now(), reason: null, generation, restarts: 0, lastExit: null };
  }

  /** Current state (a copy). */
  snapshot(): SupervisorSnapshot {
    return { ...this.#snap };
  }

  /** Cause of the latest restart or hold (crash, hang, memory, startup-timeout, config, rotation...), or null. */
  get lastCause(): RestartCause | null {
    return this.#lastCause;
  }

  /**
   * Generation `generation` announced a shutdown (`shutdown` event, docs/gateway/embedding.md): an
   * `announced` event; a terminal one is named in the exit that follows. Stale generations are ignored.
   */
  announce(generation: number, a: { reason: string; restartExpectedMs: number | null }): void {
    if (generation !== this.#snap.generation || this.#child === undefined) return;
    this.#announced = a.restartExpectedMs === null ? a.reason : null;
    const what = a.restartExpectedMs === null ? "a terminal shutdown" : `an in-process restart, back in ~${a.restartExpectedMs} ms`;
    const reason = `gateway announced ${what}: ${a.reason}`;
    this.#journal.record({ at: this.#d.clock.now(), generation, state: "announced", reason, pid: this.#snap.pid ?? undefined });
  }

  /** The connection saw hello-ok from generation `generation`. Stale generations are ignored. */
  markReady(generation: number): void {
    if (this.#readyWaiter?.generation === generation) this.#readyWaiter.resolve();
  }

  /**
   * Ask for a graceful restart of the running gateway (SIGTERM, then SIGKILL after the grace).
   * Only the first request per gateway process counts. With `generation` (a watchdog's verdict on
   * that generation), it is dropped unless that generation is still the current one: a late
   * verdict about a gateway already restarted must not restart its successor (one stall, one restart).
   */
  requestRestart(cause: RestartCause = "requested", generation?: number): void {
    if (generation !== undefined && generation !== this.#snap.generation) {
      this.#d.log.info({ cause, generation, current: this.#snap.generation }, "restart request for an earlier gateway dropped");
      return;
    }
    this.#restartWaiter?.(cause);
  }

  /** Cut a pending backoff short and start the gateway now (its configuration changed). */
  wake(): void {
    this.#wakeBackoff?.();
  }

  /** Emergency stop (second signal): SIGKILL the gateway's process group now. */
  killNow(): void {
    this.#child?.signalGroup("SIGKILL");
  }

  /**
   * Run until `signal` aborts, then stop the child (SIGTERM, SIGKILL after the grace) and resolve.
   * Never rejects: every failure becomes a recorded state and a backoff.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, policy, log, pidFile } = this.#d;
    this.#journal.start(signal);
    await reapOrphan({ pidFile, clock, stopGraceMs: policy.stopGraceMs, events: this.#journal, log });
    let history: RestartHistory = { consecutiveFailures: 0 };
    let doctorTried = false;
    // A launch spec prepared while held for a missing prerequisite (#holdUnavailable).
    let pendingSpec: LaunchSpec | undefined;
    while (!signal.aborted) {
      const generation = this.#snap.generation + 1;
      // Not needed to run: lastGeneration() also reads the events and turns; retried if refused.
      this.#journal.setGeneration(generation);
      // Why this start: the first of this daemon, or the cause of the restart before it.
      const startCause: RestartCause | "boot" = this.#snap.restarts === 0 ? "boot" : (this.#lastCause ?? "crash");
      this.#set({ state: "starting", generation, pid: null, reason: this.#snap.restarts === 0 ? "boot" : "restart" });
      const startedAt = clock.now();
      let cause: RestartCause;
      let spec: LaunchSpec | undefined;
      let newerConfig: string | null = null;
      let leaseHeld = false;
      this.#becameReady = false;
      try {
        spec = pendingSpec ?? (await this.#d.prepare(generation));
        pendingSpec = undefined;
        if (signal.aborted) break;
        const child = await spawnChild(this.#d.spawn, spec, log.child({ source: "gateway", generation }), this.#d.secrets(), (line) => {
          newerConfig ??= NEWER_CONFIG_LINE.exec(line)?.[1] ?? null;
          leaseHeld ||= LEASE_HELD_LINE.test(line);
        });
        this.#child = child;
        await writePidFile(pidFile, { pid: child.pid, startTicks: child.startTicks }, log);
        this.#set({ state: "starting", pid: child.pid, reason: "waiting for hello-ok", audit: { action: "gateway.start", cause: startCause, detail: { inputsVersion: spec.inputsVersion ?? null } } });
        cause = await this.#watch(child, generation, signal, spec.inputsVersion);
        this.#child = undefined;
        clearPidFile(pidFile);
      } catch (err) {
        if (err instanceof ConfigError) {
          // Retrying cannot fix it; hold until the configuration changes (wake) or shutdown.
          await this.#hold(`config: ${err.message}`, "config", signal);
          continue;
        }
        if (err instanceof UnavailableError) {
          pendingSpec = await this.#holdUnavailable(err, generation, signal);
          continue;
        }
        log.error({ err }, "gateway could not be started");
        this.#set({ state: "failed", pid: null, reason: `cannot start gateway: ${(err as Error).message}` });
        cause = "crash";
      }
      if (signal.aborted) break;
      if (this.#becameReady) doctorTried = false;
      if (newerConfig !== null) {
        await this.#hold(
          `config written by a newer OpenClaw (${newerConfig}) than this runtime (${this.#d.openclawVersion ?? "unknown"}): ` +
            `run 'agent-supervisor openclaw install --version ${newerConfig}' and set OPENCLAW_VERSION=${newerConfig}`,
          "config",
          signal,
        );
        continue;
      }
      const why = cause === "crash" && leaseHeld ? LEASE_HELD_REASON : cause;
      if (cause === "crash" && this.#snap.lastExit?.code === 78 && spec && !leaseHeld) {
        if (!doctorTried && this.#d.doctor) {
          doctorTried = true;
          this.#snap.restarts += 1;
          this.#set({ state: "starting", pid: null, reason: "config (exit 78, EX_CONFIG): running openclaw doctor --fix once, then one retry", cause: "config" });
          const code = await this.#d.doctor(spec, this.#d.secrets()).catch((err: Error) => (log.error({ err }, "openclaw doctor failed to run"), null));
          log.info({ code }, "openclaw doctor --fix finished");
          this.#d.audit?.record({ actor: "daemon", action: "doctor.run", cause: "gateway exited 78 (EX_CONFIG): openclaw doctor --fix", detail: { generation, exitCode: code } });
          continue;
        }
        await this.#hold(
          `config: the gateway exits 78 (EX_CONFIG)${doctorTried ? " again after openclaw doctor --fix" : ""}; fix its configuration (see the gateway log)`,
          "config",
          signal,
        );
        doctorTried = false;
        continue;
      }
      this.#snap.restarts += 1;
      if (!FAILURE_CAUSES.has(cause)) {
        this.#set({ state: "backoff", pid: null, reason: `${cause}; restarting now`, cause, audit: { action: "gateway.restart", cause, detail: { delayMs: 0 } } });
        continue;
      }
      const decision = decideRestart(history, clock.now() - startedAt, policy, this.#d.random, clock.now(), this.#d.breaker);
      history = decision.history;
      this.#set(
        decision.breakerOpen
          ? { state: "failed", pid: null, reason: `${decision.reason}; last cause: ${why}`, cause, audit: { action: "gateway.hold", cause: `crash-loop breaker open; last cause: ${cause}` } }
          : { state: "backoff", pid: null, reason: `${why}; restarting in ${decision.delayMs} ms`, cause, audit: { action: "gateway.restart", cause, detail: { delayMs: decision.delayMs, lastExit: this.#snap.lastExit } } },
      );
      await this.#sleepWakeable(decision.delayMs, signal);
    }
    this.#set({ state: "stopped", pid: null, reason: "daemon stopping" });
    this.#journal.stop();
  }

  /** Stay `failed` with `reason` until {@link wake} (the configuration changed) or shutdown. */
  async #hold(reason: string, cause: RestartCause, signal: AbortSignal): Promise<void> {
    this.#set({ state: "failed", pid: null, reason, cause, audit: { action: "gateway.hold", cause: reason } });
    this.#d.log.error({ reason }, "gateway held: not restarting until the configuration changes");
    await this.#sleepWakeable(2_147_483_647, signal);
  }

  /** Sleep `ms` (ms), cut short by {@link wake} or by `signal`. */
  async #sleepWakeable(ms: number, signal: AbortSignal): Promise<void> {
    const woken = new AbortController();
    this.#wakeBackoff = () => woken.abort();
    await this.#d.clock.sleep(ms, AbortSignal.any([signal, woken.signal]));
    this.#wakeBackoff = undefined;
  }

  /**
   * A prerequisite of the start is missing (`prepare` threw an UnavailableError, e.g. the OpenClaw
   * runtime is not installed): fast retries cannot help, and counting them as crashes would hide
   * why. Stay `failed` saying why, and run `prepare` again every `maxMs` (or at once on
   * {@link wake}) without leaving that state, so `agent-supervisor openclaw install` needs no
   * daemon restart. One state change and one log line per distinct reason.
   * @returns the launch spec once `prepare` succeeds; undefined on shutdown or another error
   *   (the main loop then runs `prepare` again and handles it)
   */
  async #holdUnavailable(first: UnavailableError, generation: number, signal: AbortSignal): Promise<LaunchSpec | undefined> {
    let err = first;
    for (;;) {
      const reason = `unavailable: ${err.message}`;
      if (this.#snap.state !== "failed" || this.#snap.reason !== reason) {
        this.#set({ state: "failed", pid: null, reason, cause: "config", audit: { action: "gateway.hold", cause: reason } });
        this.#d.log.error({ reason, recheckMs: this.#d.policy.maxMs }, "gateway held: a prerequisite is missing; looking again periodically");
      }
      await this.#sleepWakeable(this.#d.policy.maxMs, signal);
      if (signal.aborted) return undefined;
      try {
        return await this.#d.prepare(generation);
      } catch (e) {
        if (!(e instanceof UnavailableError)) return undefined;
        err = e;
      }
    }
  }

  /**
   * Wait for readiness and then for the exit; handle timeouts, restart requests and shutdown.
   * A child ready on stale launch inputs (`inputsVersion` older than the current) is restarted.
   */
  async #watch(child: RunningChild, generation: number, signal: AbortSignal, inputsVersion: number | undefined): Promise<RestartCause> {
    const { clock, policy } = this.#d;
    const stopTimer = new AbortController();
    // Removed in finally: `signal` lives as long as the daemon, and a listener per generation would pile up.
    let onAbort = () => {};
    const aborted = new Promise<"abort">((res) => {
      onAbort = () => res("abort");
      if (signal.aborted) res("abort");
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const restart = new Promise<RestartCause>((res) => (this.#restartWaiter = res));
    const ready = new Promise<"ready">((res) => (this.#readyWaiter = { generation, resolve: () => res("ready") }));
    const timeout = clock.sleep(policy.startupTimeoutMs, stopTimer.signal).then(() => "timeout" as const);
    try {
      const first = await Promise.race([child.exited, ready, timeout, aborted, restart]);
      stopTimer.abort();
      if (first === "timeout") {
        this.#set({ state: "stopping", reason: `not ready within ${policy.startupTimeoutMs} ms` });
        await this.#stop(child, "startup-timeout");
        return "startup-timeout";
      }
      if (first === "ready") {
        this.#becameReady = true;
        const current = this.#d.inputsVersion?.();
        if (current !== undefined && inputsVersion !== undefined && current !== inputsVersion) {
          this.#set({ state: "stopping", reason: `ready on launch inputs ${inputsVersion}, but ${current} were stored during the start (rotation); restarting` });
          await this.#stop(child, "rotation");
          return "rotation";
        }
        this.#set({ state: "ready", reason: "hello-ok" });
        const next = await Promise.race([child.exited, aborted, restart]);
        if (typeof next === "object") return this.#exited(next);
        this.#set({ state: "stopping", reason: next === "abort" ? "daemon stopping" : `restart requested (${next})` });
        await this.#stop(child, next === "abort" ? "shutdown" : next);
        return next === "abort" ? "shutdown" : next;
      }
      if (typeof first === "object") return this.#exited(first);
      this.#set({ state: "stopping", reason: first === "abort" ? "daemon stopping" : `restart requested (${first})` });
      await this.#stop(child, first === "abort" ? "shutdown" : first);
      return first === "abort" ? "shutdown" : first;
    } finally {
      stopTimer.abort();
      signal.removeEventListener("abort", onAbort);
      this.#readyWaiter = undefined;
      this.#restartWaiter = undefined;
      // Sweep any process the gateway left in its group (workers, brokers).
      child.signalGroup("SIGKILL");
    }
  }

  #exited(exit: ChildExit): RestartCause {
    this.#snap.lastExit = { code: exit.code, signal: exit.signal, at: this.#d.clock.now() };
    const announced = this.#announced === null ? "" : ` after announcing a shutdown (${this.#announced})`;
    this.#announced = null;
    this.#set({
      state: "stopped",
      event: "exited",
      pid: null,
      reason: `exited ${exit.signal ? `on signal ${exit.signal}` : `with code ${exit.code}`}${announced}`,
      exitCode: exit.code,
      signal: exit.signal,
    });
    return "crash";
  }

  /** SIGTERM the group, SIGKILL after the grace period (for `cause`); resolves when the child has exited. */
  async #stop(child: RunningChild, cause: RestartCause): Promise<void> {
    const { clock, policy, log } = this.#d;
    const graceOver = new AbortController();
    child.signalGroup("SIGTERM");
    // A stopped (SIGSTOP, hung) process only acts on SIGTERM once continued.
    child.signalGroup("SIGCONT");
    const result = await Promise.race([child.exited, clock.sleep(policy.stopGraceMs, graceOver.signal).then(() => "grace" as const)]);
    graceOver.abort();
    let exit: ChildExit;
    if (result === "grace") {
      log.warn({ pid: child.pid, graceMs: policy.stopGraceMs }, "gateway ignored SIGTERM; sending SIGKILL");
      child.signalGroup("SIGKILL");
      exit = await child.exited;
    } else {
      exit = result;
    }
    this.#snap.lastExit = { code: exit.code, signal: exit.signal, at: clock.now() };
    const detail = { pid: child.pid, exitCode: exit.code, signal: exit.signal, killed: result === "grace" };
    this.#set({ state: "stopped", pid: null, reason: "stopped", exitCode: exit.code, signal: exit.signal, audit: { action: "gateway.stop", cause, detail } });
  }

  /**
   * Change state and record it; `event` names the recorded state when it differs (an exit is
   * recorded as "exited"). With `audit`, the action goes to the audit trail too, with the
   * generation: by the control plane for a rotation, else by the daemon.
   */
  #set(change: Partial<SupervisorSnapshot> & { reason: string; event?: string; exitCode?: number | null; signal?: string | null; cause?: RestartCause; audit?: SupervisorAudit }): void {
    const { exitCode, signal, event, cause, audit, ...rest } = change;
    if (cause !== undefined) this.#lastCause = cause;
    this.#snap = { ...this.#snap, ...rest, since: this.#d.clock.now() };
    this.#journal.record({
      at: this.#snap.since,
      generation: this.#snap.generation,
      state: event ?? this.#snap.state,
      reason: change.reason,
      pid: this.#snap.pid ?? undefined,
      exitCode,
      signal,
    });
    if (audit) {
      const actor = audit.cause === "rotation" ? "control-plane" : "daemon";
      this.#d.audit?.record({ actor, action: audit.action, cause: audit.cause, detail: { generation: this.#snap.generation, ...(this.#snap.pid === null ? {} : { pid: this.#snap.pid }), ...audit.detail } });
    }
    this.#d.log.info({ state: this.#snap.state, reason: change.reason, generation: this.#snap.generation, pid: this.#snap.pid }, "gateway state");
    this.#d.onState?.(this.snapshot());
  }
}
