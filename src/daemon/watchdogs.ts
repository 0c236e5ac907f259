/**
 * Every watchdog of the daemon, in one list (watchdogs/watchdog.ts has the interface). Adding a
 * watchdog: one new file in src/watchdogs/ and one line here. The list's order is the order of
 * their checks in /health.
 */
import type { SystemdNotifier } from "../core/systemd-notify.ts";
import { watchdogIntervalMs } from "../core/systemd-notify.ts";
import { HistoryStore } from "../store/history.ts";
import { HistoryPruneWatchdog } from "../watchdogs/history-prune.ts";
import { LivenessProbe } from "../watchdogs/liveness.ts";
import { MemoryBudgetWatchdog } from "../watchdogs/memory-budget.ts";
import { memoryLimitBytes, MemoryWatchdog } from "../watchdogs/memory.ts";
import { BoundaryWatchdog } from "../watchdogs/gateway-user.ts";
import { StaleTmpWatchdog } from "../watchdogs/stale-tmp.ts";
import { StuckRunWatchdog } from "../watchdogs/stuck-runs.ts";
import { SystemdPingWatchdog } from "../watchdogs/systemd-pings.ts";
import type { Watchdog } from "../watchdogs/watchdog.ts";
import type { Parts } from "./assemble.ts";
import { drainAndRestart } from "./rotation.ts";

/** The daemon's loop is healthy while it ticked within this long (ms); else systemd pings stop. */
export const LOOP_STALL_MS = 10_000;

/**
 * Build the watchdogs.
 * @param loopTickAt epoch ms of the daemon's last liveness tick (daemon/snapshot.ts)
 * @returns all of them (run together; checks in this order), and the memory watchdog for /metrics
 */
export function buildWatchdogs(p: Parts, notifier: SystemdNotifier, loopTickAt: () => number): { all: Watchdog[]; memory: MemoryWatchdog } {
  const { s, host, log, supervisor, connection, delivery, events } = p;
  const { clock } = host;
  const liveness = new LivenessProbe({
    gateway: () => {
      const sup = supervisor.snapshot();
      return { ready: sup.state === "ready", generation: sup.generation };
    },
    probe: (timeoutMs) =>
      connection.ready ? connection.request("health", {}, { timeoutMs }) : Promise.reject(new Error("gateway connection is down")),
    clock,
    log: log.child({ subsystem: "liveness" }),
    intervalMs: s.LIVENESS_INTERVAL_MS,
    timeoutMs: s.LIVENESS_TIMEOUT_MS,
    failures: s.LIVENESS_FAILURES,
    onDead: (reason) => {
      log.error({ reason }, "gateway is hung; restarting it");
      supervisor.requestRestart("hang");
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
      log.error({ reason }, "gateway memory over the limit; draining and restarting it");
      void drainAndRestart({ delivery, supervisor }, "memory", s.DRAIN_TIMEOUT_MS);
    },
  });
  const all: Watchdog[] = [
    liveness,
    new MemoryBudgetWatchdog({ workspaceDir: p.files.gateway.workspaceDir, budgetChars: s.MEMORY_BOOTSTRAP_MAX_CHARS, clock }),
    memory,
    new HistoryPruneWatchdog({
      history: new HistoryStore(p.db, p.writeFaults),
      policy: { maxAgeMs: s.TURN_RETENTION_MS, maxCount: s.TURN_RETENTION_COUNT, minAgeMs: s.TURN_RETENTION_MIN_MS },
      clock,
      log: log.child({ subsystem: "history" }),
    }),
    ...(s.TMP_CLEAN ? [new StaleTmpWatchdog({ sweep: (now, stale) => p.tmp.stale(p.boundary(), now, stale), intervalMs: s.TMP_SWEEP_INTERVAL_MS, staleMs: s.TMP_STALE_MS, clock, log })] : []),
    new BoundaryWatchdog({ probe: p.boundary, clock }),
    new StuckRunWatchdog({
      runs: () => p.progress.list(),
      gateway: () => {
        const sup = supervisor.snapshot();
        return { ready: sup.state === "ready" && connection.ready, generation: sup.generation };
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
