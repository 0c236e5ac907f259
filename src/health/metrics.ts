/**
 * Prometheus metrics (prom-client) on a registry of our own, never the global default, so two
 * daemons in one test process do not share counters. Counters and the histogram are incremented
 * by the rest of the daemon; gauges are set from the snapshot at scrape time by {@link Metrics.observe}.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { AUDIT_ACTIONS } from "../core/audit.ts";
import { ERROR_CLASSES } from "../turns/error-class.ts";
import type { DiskReading } from "./assess.ts";
import type { GatewayProcessState, HealthSnapshot } from "./ports.ts";
import { PROBE_RESULTS } from "../watchdogs/probe-turn-verdict.ts";

const GATEWAY_STATES: readonly GatewayProcessState[] = ["stopped", "starting", "ready", "backoff", "stopping", "failed"];

/** The registry plus the instruments other subsystems update. */
export type Metrics = {
  /** Serve with `registry.metrics()` (content type `registry.contentType`, Prometheus text 0.0.4). */
  registry: Registry;
  /** `agent_supervisor_turns_total{outcome="done"|"failed"}`: finished turns. */
  turnsTotal: Counter<"outcome">;
  /**
   * `agent_supervisor_gateway_restarts_total{cause}`: gateway restarts. Keep `cause` a small fixed
   * set (e.g. "exit", "startup-timeout", "watchdog"), never free text: each value is a time series.
   */
  gatewayRestartsTotal: Counter<"cause">;
  /** `agent_supervisor_turn_duration_seconds`: accept-to-finish time of finished turns (seconds). */
  turnDurationSeconds: Histogram;
  /**
   * `agent_supervisor_store_write_failures_total{site,code}`: SQLite writes that failed, by store
   * method (a fixed set, store/write-faults.ts) and SQLite result code (`SQLITE_FULL`, `SQLITE_BUSY`, ...).
   */
  storeWriteFailuresTotal: Counter<"site" | "code">;
  /** `agent_supervisor_unhandled_rejections_total`: promise rejections nobody handled (bugs; the daemon goes on). */
  unhandledRejectionsTotal: Counter;
  /** `agent_supervisor_turn_failures_total{class}`: failed turns by error class (turns/error-class.ts, a fixed set). */
  turnFailuresTotal: Counter<"class">;
  /**
   * `agent_supervisor_tmp_swept_bytes_total{root}` and `agent_supervisor_tmp_swept_entries_total{root}`:
   * bytes (lstat sizes) and entries the gateway scratch sweeps removed, by `root`: `tmp` (TMP_DIR)
   * or `state-tmp` (the gateway state directory's tmp/).
   */
  tmpSweptBytesTotal: Counter<"root">;
  tmpSweptEntriesTotal: Counter<"root">;
  /**
   * `agent_supervisor_session_repairs_total{cause,action,outcome}`: session repairs
   * (watchdogs/session-repair.ts), by cause (`context`, `session`), action (`compact`, `reset`)
   * and outcome (`ok`, `failed`).
   */
  sessionRepairsTotal: Counter<"cause" | "action" | "outcome">;
  /**
   * `agent_supervisor_provider_check_total{provider,result}`: provider key checks (issue 12), by
   * provider id (`moonshot`, `openai`, `compat`) and result (`pass`, `warn`, `fail`).
   */
  providerChecksTotal: Counter<"provider" | "result">;
  /** `agent_supervisor_probe_turns_total{result="pass"|"miss"|"fail"}`: end-to-end probe turns (watchdogs/probe-turn-verdict.ts), never counted as turns. */
  probeTurnsTotal: Counter<"result">;
  /** `agent_supervisor_probe_turn_last_duration_seconds`: how long the last probe turn took, to its reply or to giving up (seconds). */
  probeTurnLastSeconds: Gauge;
  /** `agent_supervisor_probe_turn_consecutive_misses`: probe turns without a reply in a row (PROBE_TURN_MISSES restarts the gateway). */
  probeTurnMisses: Gauge;
  /**
   * `agent_supervisor_stuck_runs_total{action}`: what the stuck-run watchdog did (watchdogs/stuck-runs.ts):
   * `abort-run` (chat.abort of a run without progress), `abort-session` (sessions.abort of a session
   * whose lane never started the turn), `restart` (the gateway, when an abort did not free it).
   */
  stuckRunsTotal: Counter<"action">;
  /** `agent_supervisor_audit_events_total{action}`: audit-trail entries recorded, by action (core/audit.ts AUDIT_ACTIONS, a fixed set). */
  auditEventsTotal: Counter<"action">;
  /**
   * `agent_supervisor_audit_unshipped_events`: audit entries not yet acknowledged by the control
   * plane (0 without one), set by the audit outbox (sync/audit-outbox.ts).
   */
  auditUnshippedEvents: Gauge;
  /** Set the scrape-time gauges from a snapshot and (optionally) a disk reading. */
  observe(snapshot: HealthSnapshot, disk?: DiskReading): void;
};

/**
 * Create the registry and every metric. Names are prefixed `agent_supervisor_`.
 * @param options.processMetrics also collect prom-client's default process metrics (CPU, memory,
 *   event-loop lag, ...) under their usual unprefixed names (`process_cpu_seconds_total`, `nodejs_*`); default true
 */
export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name: `agent_supervisor_${name}`, help, labelNames, registers });

  const turnsTotal = counter("turns_total", "Turns finished, by outcome (done or failed)", ["outcome"] as const);
  // Zero series up front so rate() works from the first scrape.
  for (const outcome of ["done", "failed"]) turnsTotal.inc({ outcome }, 0);
  const gatewayRestartsTotal = counter("gateway_restarts_total", "Gateway process restarts, by cause", ["cause"] as const);
  const turnDurationSeconds = new Histogram({
    name: "agent_supervisor_turn_duration_seconds",
    help: "Time from accepting a turn to its result (seconds)",
    // Model turns take seconds to minutes; the last bucket is the default turn timeout.
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers,
  });

  const storeWriteFailuresTotal = counter("store_write_failures_total", "SQLite writes that failed, by store method and SQLite result code", ["site", "code"] as const);
  const unhandledRejectionsTotal = counter("unhandled_rejections_total", "Promise rejections nobody handled (a bug; logged, and the daemon goes on)");

  const turnFailuresTotal = counter("turn_failures_total", "Failed turns by error class (context, session, auth, cooldown, quota, network, timeout, stuck, provider, other)", ["class"] as const);
  for (const cls of ERROR_CLASSES) turnFailuresTotal.inc({ class: cls }, 0);
  const tmpSweptBytesTotal = counter("tmp_swept_bytes_total", "Bytes of gateway scratch files removed by the sweeps, by root (tmp: TMP_DIR, state-tmp: the gateway state directory's tmp/)", ["root"] as const);
  const tmpSweptEntriesTotal = counter("tmp_swept_entries_total", "Gateway scratch entries (files, links, directories; a whole tree before a start counts once) removed by the sweeps, by root", ["root"] as const);
  for (const root of ["tmp", "state-tmp"]) {
    tmpSweptBytesTotal.inc({ root }, 0);
    tmpSweptEntriesTotal.inc({ root }, 0);
  }
  const sessionRepairsTotal = counter("session_repairs_total", "Repairs of gateway sessions whose turns kept failing, by cause (context, session), action (compact, reset) and outcome (ok, failed)", ["cause", "action", "outcome"] as const);
  const providerChecksTotal = counter("provider_check_total", "Provider key checks (GET <baseUrl>/models, no tokens), by provider and result (pass, warn, fail)", ["provider", "result"] as const);

  const probeTurnsTotal = counter("probe_turns_total", "End-to-end probe turns, by result (pass, miss: no reply in time, fail: the gateway reported an error)", ["result"] as const);
  for (const result of PROBE_RESULTS) probeTurnsTotal.inc({ result }, 0);
  const probeTurnLastSeconds = new Gauge({
    name: "agent_supervisor_probe_turn_last_duration_seconds",
    help: "Duration of the last probe turn, to its reply or to giving up (seconds)",
    registers,
  });
  const probeTurnMisses = new Gauge({
    name: "agent_supervisor_probe_turn_consecutive_misses",
    help: "Probe turns without a reply in a row",
    registers,
  });

  const stuckRunsTotal = counter("stuck_runs_total", "Runs without progress the daemon acted on, by action (abort-run, abort-session, restart)", ["action"] as const);
  for (const action of ["abort-run", "abort-session", "restart"]) stuckRunsTotal.inc({ action }, 0);

  const auditEventsTotal = counter("audit_events_total", "Audit-trail entries recorded, by action (gateway.start, config.rewrite, secrets.apply, ...)", ["action"] as const);
  for (const action of AUDIT_ACTIONS) auditEventsTotal.inc({ action }, 0);

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name: `agent_supervisor_${name}`, help, labelNames, registers });
  const queueTurns = gauge("queue_turns", "Turns in the queue, by state (accepted, delivering)", ["state"]);
  const queueLimit = gauge("queue_limit", "Most turns that may wait before new ones get 503");
  const gatewayUp = gauge("gateway_up", "1 when the gateway process is ready and connected, else 0");
  const gatewayState = gauge("gateway_state", "1 for the gateway process's current state, 0 for the others", ["state"]);
  const draining = gauge("draining", "1 while the daemon drains for shutdown");
  const diskFree = gauge("disk_free_bytes", "Free bytes on the data directory's filesystem (bytes)");
  const diskTotal = gauge("disk_total_bytes", "Size of the data directory's filesystem (bytes)");
  const gatewayRss = gauge("gateway_rss_bytes", "Resident memory of the gateway's process tree (bytes)");
  const gatewayRssLimit = gauge("gateway_rss_limit_bytes", "Memory watchdog limit of the gateway's process tree (bytes)");
  const auditUnshippedEvents = gauge("audit_unshipped_events", "Audit-trail entries not yet acknowledged by the control plane (0 without one)");
  const storeFailingSites = gauge("store_write_failing_sites", "SQLite write sites failing now (0 when every write lands)");

  return {
    registry,
    turnsTotal,
    gatewayRestartsTotal,
    turnDurationSeconds,
    storeWriteFailuresTotal,
    unhandledRejectionsTotal,
    turnFailuresTotal,
    tmpSweptBytesTotal,
    tmpSweptEntriesTotal,
    sessionRepairsTotal,
    providerChecksTotal,
    probeTurnsTotal,
    probeTurnLastSeconds,
    probeTurnMisses,
    stuckRunsTotal,
    auditEventsTotal,
    auditUnshippedEvents,
    observe(s, disk) {
      if (s.storage) storeFailingSites.set(s.storage.failing.length);
      queueTurns.set({ state: "accepted" }, s.queue.accepted);
      queueTurns.set({ state: "delivering" }, s.queue.delivering);
      queueLimit.set(s.queue.limit);
      gatewayUp.set(s.gateway.state === "ready" && s.connection.connected ? 1 : 0);
      for (const state of GATEWAY_STATES) gatewayState.set({ state }, s.gateway.state === state ? 1 : 0);
      draining.set(s.draining ? 1 : 0);
      if (s.memory) {
        if (s.memory.bytes !== null) gatewayRss.set(s.memory.bytes);
        gatewayRssLimit.set(s.memory.limitBytes);
      }
      if (disk && !("error" in disk)) {
        diskFree.set(disk.freeBytes);
        diskTotal.set(disk.totalBytes);
      }
    },
  };
}
