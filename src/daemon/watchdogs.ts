/**
 * Every watchdog of the daemon, in one list (watchdogs/watchdog.ts has the interface). Adding a
 * watchdog: one new file in src/watchdogs/ and one line here. The list's order is the order of
 * their checks in /health.
 */
import type { SystemdNotifier } from "../core/systemd-notify.ts";
import { watchdogIntervalMs } from "../core/systemd-notify.ts";
import { HistoryStore } from "../store/history.ts";
import { HistoryPruneWatchdog } from "../watchdogs/history-prune.ts";
import { AuditPruneWatchdog } from "../watchdogs/audit-prune.ts";
import { EventLoopWatchdog } from "../watchdogs/event-loop.ts";
import { readGatewayReadyz } from "../watchdogs/gateway-readyz.ts";
import { LivenessProbe } from "../watchdogs/liveness.ts";
import { MemoryBudgetWatchdog } from "../watchdogs/memory-budget.ts";
import { ProbeTurnWatchdog } from "../watchdogs/probe-turn.ts";
import { memoryLimitBytes, MemoryWatchdog } from "../watchdogs/memory.ts";
import { ErrorRateWatchdog } from "../watchdogs/error-rate.ts";
import { BoundaryWatchdog } from "../watchdogs/gateway-user.ts";
import { SessionRepairWatchdog } from "../watchdogs/session-repair.ts";
import { ProviderCredentialsWatchdog } from "../watchdogs/provider-credentials.ts";
import { probeProvider } from "../watchdogs/provider-probe.ts";
import { providerEndpoints } from "../supervisor/gateway-config.ts";
import { StaleTmpWatchdog } from "../watchdogs/stale-tmp.ts";
import { startupGrace, type GraceVerdict } from "../watchdogs/startup-grace.ts";
import { StuckRunWatchdog } from "../watchdogs/stuck-runs.ts";
import { SystemdPingWatchdog } from "../watchdogs/systemd-pings.ts";
import type { Watchdog } from "../watchdogs/watchdog.ts";
import type { Parts } from "./assemble.ts";
import { drainAndRestart } from "./rotation.ts";

/** "1 failed turn" / "3 failed turns in a row", for session repair events. */
const failedTurns = (n: number) => (n === 1 ? "1 failed turn" : `${n} failed turns in a row`);

/** The daemon's loop is healthy while it ticked within this long (ms); else systemd pings stop. */
export const LOOP_STALL_MS = 10_000;

/**
 * Build the watchdogs.
 * @param loopTickAt epoch ms of the daemon's last liveness tick (daemon/snapshot.ts)
 * @returns all of them (run together; checks in this order), and the memory watchdog for /metrics
 */
export function buildWatchdogs(p: Parts, notifier: SystemdNotifier, loopTickAt: () => number): { all: Watchdog[]; memory: MemoryWatchdog } {
  const { s, host, log, supervisor, connection, delivery, events, service, metrics } = p;
  const { clock } = host;
  /** Inside the gateway's startup window no watchdog restarts it (watchdogs/startup-grace.ts). */
  const grace = (): GraceVerdict & { generation: number } => {
    const sup = supervisor.snapshot();
    const v = startupGrace({ ready: sup.state === "ready", since: sup.since, announced: connection.snapshot().announced }, clock.now(), {
      graceMs: s.STARTUP_GRACE_MS,
      startupTimeoutMs: s.GATEWAY_STARTUP_TIMEOUT_MS,
    });
    return { ...v, generation: sup.generation };
  };
  const gatewayState = () => {
    const g = grace();
    return { ready: !g.inGrace, generation: g.generation };
  };
  const liveness = new LivenessProbe({
    gateway: gatewayState,
    probe: (timeoutMs) =>
      connection.ready ? connection.request("health", {}, { timeoutMs }) : Promise.reject(new Error("gateway connection is down")),
    clock,
    log: log.child({ subsystem: "liveness" }),
    intervalMs: s.LIVENESS_INTERVAL_MS,
    timeoutMs: s.LIVENESS_TIMEOUT_MS,
    failures: s.LIVENESS_FAILURES,
    onDead: (reason, generation) => {
      log.error({ reason, generation }, "gateway is hung; restarting it");
      supervisor.requestRestart("hang", generation);
    },
  });
  const eventLoop = new EventLoopWatchdog({
    gateway: gatewayState,
    probe: (timeoutMs) => readGatewayReadyz({ fetch: host.fetch, clock, url: `http://127.0.0.1:${s.OPENCLAW_GATEWAY_PORT}/readyz`, timeoutMs }),
    clock,
    log: log.child({ subsystem: "event-loop" }),
    intervalMs: s.EVENT_LOOP_SAMPLE_MS,
    policy: { warnMs: s.EVENT_LOOP_WARN_MS, stallMs: s.EVENT_LOOP_STALL_MS, sustainMs: s.EVENT_LOOP_SUSTAIN_MS },
    onStall: (reason, generation) => {
      log.error({ reason, generation }, "gateway event loop stalled; restarting it");
      supervisor.requestRestart("stall", generation);
    },
  });
  const memory = new MemoryWatchdog({
    pid: () => supervisor.snapshot().pid,
    now: clock.now,
    sleep: clock.sleep,
    policy: { limitBytes: memoryLimitBytes(s.MEMORY_LIMIT_MB, s.MEMORY_LIMIT_PERCENT), sustainMs: s.MEMORY_SUSTAIN_MS },
    sampleMs: s.MEMORY_SAMPLE_MS,
    record: (sample) => {
      try {
        events.recordRss({ ...sample, generation: supervisor.snapshot().generation });
      } catch (err) {
        log.warn({ err: (err as Error).message }, "could not record the RSS trend");
      }
    },
    onOver: (reason) => {
      const g = grace();
      if (g.inGrace) return log.warn({ reason, grace: g.why }, "gateway memory over the limit inside its startup window; not restarting it yet");
      log.error({ reason }, "gateway memory over the limit; draining and restarting it");
      void drainAndRestart({ delivery, supervisor, gatewayChanges: p.gatewayChanges }, "memory", s.DRAIN_TIMEOUT_MS);
    },
  });
  const errorRate = new ErrorRateWatchdog({ policy: { windowMs: s.ERROR_RATE_WINDOW_MS, threshold: s.ERROR_RATE_PERCENT / 100, minTurns: s.ERROR_RATE_MIN_TURNS }, clock });
  // Failed turns by class are counted in /metrics by metrics.observeTurn (all of them, RUN_STOPPED as
  // class `stopped`); the error rate leaves out the turns the daemon stopped itself.
  p.links.finished.push((t) => void errorRate.record(t));
  const record = (state: string, at: number, reason: string) => {
    try {
      events.record({ at, generation: supervisor.snapshot().generation, state, reason });
    } catch (err) {
      log.warn({ err: (err as Error).message, state, reason }, "could not record a session repair event");
    }
  };
  const sessions = new SessionRepairWatchdog({
    policy: { mode: s.SESSION_REPAIR, after: s.SESSION_REPAIR_AFTER, maxRepairs: s.SESSION_REPAIR_MAX, windowMs: s.SESSION_REPAIR_WINDOW_MS },
    gateway: {
      get ready() {
        return connection.ready;
      },
      waitReady: (signal) => connection.waitReady(signal),
      request: (method, params, opts) => connection.request(method, params, opts),
      admin: (method, params, opts) => connection.request(method, params, opts),
    },
    clock,
    log: log.child({ subsystem: "session-repair" }),
    onRepair: (e) => {
      p.metrics.sessionRepairsTotal.inc({ cause: e.cause, action: e.action, outcome: e.ok ? "ok" : "failed" });
      const evidence = e.evidence ? `; transcript: ${e.evidence}` : "";
      record("session-repair", e.at, `${e.cause}: ${e.action} ${e.sessionKey} after ${failedTurns(e.failures)}: ${e.ok ? "ok" : `failed (${e.error})`}${evidence}`);
      p.audit.record({ actor: "daemon", action: "session.repair", cause: `${e.cause}: ${failedTurns(e.failures)}`, detail: { sessionKey: e.sessionKey, action: e.action, ok: e.ok, failures: e.failures, ...(e.error ? { error: e.error.slice(0, 300) } : {}) } });
    },
    onHold: (e) => record("session-repair-held", e.at, `${e.cause}: ${e.sessionKey} after ${failedTurns(e.failures)}: ${e.reason}`),
    onReleased: () => delivery.notify(),
  });
  p.links.sessions = sessions;
  // Keys as the next gateway start uses them (settings with the control plane's secrets); turns report to it (assemble.ts).
  const providers = (p.links.providers = new ProviderCredentialsWatchdog({
    endpoints: () => providerEndpoints(p.launch.settings()),
    probe: (ep) => probeProvider(ep, host.fetch),
    intervalMs: s.PROVIDER_CHECK_INTERVAL_MS,
    clock,
    log: log.child({ subsystem: "providers" }),
    onChecked: (provider, v) => p.metrics.providerChecksTotal.inc({ provider, result: v.status }),
  }));
  const all: Watchdog[] = [
    liveness,
    errorRate,
    eventLoop,
    sessions,
    new MemoryBudgetWatchdog({ workspaceDir: p.files.gateway.workspaceDir, budgetChars: s.MEMORY_BOOTSTRAP_MAX_CHARS, clock }),
    memory,
    ...(s.PROBE_TURN_INTERVAL_MS > 0
      ? [
          new ProbeTurnWatchdog({
            gateway: () => {
              const sup = supervisor.snapshot();
              // Not inside the startup window either (an announced in-process restart included).
              return { ready: gatewayState().ready && connection.ready, readySince: sup.since, generation: sup.generation, draining: service.draining };
            },
            connection,
            clock,
            log: log.child({ subsystem: "probe-turn" }),
            intervalMs: s.PROBE_TURN_INTERVAL_MS,
            timeoutMs: s.PROBE_TURN_TIMEOUT_MS,
            misses: s.PROBE_TURN_MISSES,
            message: s.PROBE_TURN_MESSAGE,
            pruneEvery: s.PROBE_TURN_PRUNE_EVERY,
            onResult: (o) => {
              metrics.probeTurnsTotal.inc({ result: o.result });
              metrics.probeTurnLastSeconds.set(o.durationMs / 1000);
              metrics.probeTurnMisses.set(o.consecutiveMisses);
            },
            onMissed: (reason) => {
              log.error({ reason }, "probe turns get no reply; restarting the gateway");
              supervisor.requestRestart("probe");
            },
          }),
        ]
      : []),
    new HistoryPruneWatchdog({
      history: new HistoryStore(p.db, p.writeFaults),
      policy: { maxAgeMs: s.TURN_RETENTION_MS, maxCount: s.TURN_RETENTION_COUNT, minAgeMs: s.TURN_RETENTION_MIN_MS },
      clock,
      log: log.child({ subsystem: "history" }),
    }),
    new AuditPruneWatchdog({
      store: p.auditStore,
      audit: p.audit,
      policy: { maxAgeMs: s.AUDIT_RETENTION_DAYS * 86_400_000, maxRows: s.AUDIT_MAX_ROWS, unshippedMaxRows: s.AUDIT_UNSHIPPED_MAX_ROWS, shipping: s.CONTROL_PLANE_URL !== undefined },
      clock,
      log: log.child({ subsystem: "audit" }),
    }),
    ...(s.TMP_CLEAN ? [new StaleTmpWatchdog({ sweep: (now, stale) => p.tmp.stale(p.boundary(), now, stale), onSwept: p.countSwept, intervalMs: s.TMP_SWEEP_INTERVAL_MS, staleMs: s.TMP_STALE_MS, clock, log })] : []),
    new BoundaryWatchdog({ probe: p.boundary, clock }),
    providers,
    new StuckRunWatchdog({
      runs: () => p.progress.list(),
      gateway: () => {
        const g = gatewayState();
        return { ready: g.ready && connection.ready, generation: g.generation };
      },
      stopRun: (turnId, reason, abortRun) => delivery.stopStuck(turnId, reason, abortRun),
      abortSession: (key) => connection.request("sessions.abort", { key }, { timeoutMs: 10_000 }),
      restart: () => supervisor.requestRestart("stuck"),
      onAction: (a, reason) => {
        p.metrics.stuckRunsTotal.inc({ action: a.kind });
        try {
          events.record({ at: clock.now(), generation: supervisor.snapshot().generation, state: "stuck", reason: `${a.kind}: ${reason}` });
        } catch (err) {
          log.warn({ err: (err as Error).message }, "could not record the stuck-run event");
        }
      },
      clock,
      log: log.child({ subsystem: "stuck-runs" }),
      policy: { stuckMs: s.RUN_STUCK_MS, abortGraceMs: s.RUN_STUCK_ABORT_GRACE_MS },
    }),
    // systemd recommends notifying every half of WatchdogSec; only while our own loop ticks.
    new SystemdPingWatchdog({ notifier, intervalMs: watchdogIntervalMs(host.env) ?? 0, healthy: () => clock.now() - loopTickAt() < LOOP_STALL_MS, clock }),
  ];
  return { all, memory };
}
