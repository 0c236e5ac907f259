/**
 * Prometheus metrics (prom-client) on a registry of our own, never the global default, so two
 * daemons in one test process do not share counters. Counters and the histogram are incremented
 * by the rest of the daemon; gauges are set from the snapshot at scrape time by {@link Metrics.observe}.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Turn } from "../store/turns.ts";
import { classifyTurnError, ERROR_CLASSES } from "../turns/error-class.ts";
import { TOKEN_KINDS } from "../turns/usage.ts";
import { AUDIT_ACTIONS } from "../core/audit.ts";
import type { DiskReading } from "./assess.ts";
import type { GatewayProcessState, HealthSnapshot } from "./ports.ts";
import { PROBE_RESULTS } from "../watchdogs/probe-turn-verdict.ts";
import { RESTART_CAUSES } from "../supervisor/state.ts";

const GATEWAY_STATES: readonly GatewayProcessState[] = ["stopped", "starting", "ready", "backoff", "stopping", "failed"];

/** What {@link Metrics.observeTurn} reads of a finished turn (a `Turn` of store/turns.ts fits). Times are epoch ms. */
export type FinishedTurnFacts = Pick<Turn, "state" | "errorCode" | "errorMessage" | "createdAt" | "firstDeliveredAt" | "finishedAt" | "usage">;

/**
 * Most distinct provider/model pairs `tokens_total` labels (4 series each); later pairs are counted
 * under `provider="other",model="other"`. A host uses a primary model and a few fallbacks.
 */
export const MAX_TOKEN_LABEL_PAIRS = 32;

/** Buckets of `turn_phase_seconds` (seconds), agreed with the monitoring side: queue waits are short, gateway runs up to the turn timeout. */
export const PHASE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

/** The registry plus the instruments other subsystems update. */
export type Metrics = {
  /** Serve with `registry.metrics()` (content type `registry.contentType`, Prometheus text 0.0.4). */
  registry: Registry;
  /** `agent_supervisor_turns_total{outcome="done"|"failed"}`: finished turns. */
  turnsTotal: Counter<"outcome">;
  /**
   * `agent_supervisor_gateway_restarts_total{cause}`: gateway restarts, by `cause`, a small fixed set
   * (supervisor/state.ts RESTART_CAUSES, each exported from 0), never free text: each value is a time series.
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
   * `abort-run` (sessions.abort {key, runId} of a run without progress), `abort-session` (sessions.abort of a session
   * whose lane never started the turn), `restart` (the gateway, when an abort did not free it).
   */
  stuckRunsTotal: Counter<"action">;
  /**
   * `agent_supervisor_tokens_total{provider,model,kind}`: tokens of finished turns as the gateway
   * reported them, by the provider and model that answered and kind (input, output, cache_read,
   * cache_write). At most {@link MAX_TOKEN_LABEL_PAIRS} provider/model pairs; later ones are
   * `other`. Updated by {@link Metrics.observeTurn}.
   */
  tokensTotal: Counter<"provider" | "model" | "kind">;
  /**
   * `agent_supervisor_turn_phase_seconds{phase}`: finished turns' time by phase (seconds):
   * `queue_wait` (accepted until first handed to the gateway), `gateway` (first handed to the
   * gateway until the result), `total` (accepted until the result). Updated by {@link Metrics.observeTurn}.
   */
  turnPhaseSeconds: Histogram<"phase">;
  /**
   * Count a finished turn: `turns_total`, a failed one in `turn_failures_total` by its class
   * (turns/error-class.ts, so the classes add up to `turns_total{outcome="failed"}`),
   * `turn_duration_seconds`, `turn_phase_seconds` and its usage in `tokens_total`. Times are
   * epoch ms (`firstDeliveredAt` null when it never reached the gateway: then only `total`).
   */
  observeTurn(t: FinishedTurnFacts): void;
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
 * Default resolution (ms) of the `nodejs_eventloop_lag_*` histogram: METRICS_EVENT_LOOP_RESOLUTION_MS's
 * default (config/schema.ts). prom-client's own, 10 ms, wakes the idle loop 100 times a second
 * (~0.65 % of a core, BENCHMARKS.md "Footprint").
 */
export const EVENT_LOOP_RESOLUTION_MS = 1000;

/**
 * Create the registry and every metric. Names are prefixed `agent_supervisor_`.
 * @param options.processMetrics also collect prom-client's default process metrics (CPU, memory,
 *   event-loop lag, ...) under their usual unprefixed names (`process_cpu_seconds_total`, `nodejs_*`); default true
 * @param options.eventLoopResolutionMs the timer period (ms) of the event-loop-lag histogram behind
 *   `nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds` (a block of the daemon's loop
 *   shows when it overlaps one of these ticks; one of this length or longer always does); default
 *   {@link EVENT_LOOP_RESOLUTION_MS}
 */
export function createMetrics(options: { processMetrics?: boolean; eventLoopResolutionMs?: number } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: options.eventLoopResolutionMs ?? EVENT_LOOP_RESOLUTION_MS });
  }
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name: `agent_supervisor_${name}`, help, labelNames, registers });

  const turnsTotal = counter("turns_total", "Turns finished, by outcome (done or failed)", ["outcome"] as const);
  // Zero series up front so rate() works from the first scrape.
  for (const outcome of ["done", "failed"]) turnsTotal.inc({ outcome }, 0);
  const gatewayRestartsTotal = counter("gateway_restarts_total", "Gateway process restarts, by cause", ["cause"] as const);
  // Every cause from 0: increase() over a series born at 1 would miss the first restart.
  for (const cause of RESTART_CAUSES) gatewayRestartsTotal.inc({ cause }, 0);
  const turnDurationSeconds = new Histogram({
    name: "agent_supervisor_turn_duration_seconds",
    help: "Time from accepting a turn to its result (seconds)",
    // Model turns take seconds to minutes; the last bucket is the default turn timeout.
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers,
  });

  const storeWriteFailuresTotal = counter("store_write_failures_total", "SQLite writes that failed, by store method and SQLite result code", ["site", "code"] as const);
  const unhandledRejectionsTotal = counter("unhandled_rejections_total", "Promise rejections nobody handled (a bug; logged, and the daemon goes on)");

  // The provider and model come from the gateway: a fixed number of pairs, so a buggy or hostile
  // one cannot grow the scrape without bound (each pair is 4 series, kept until the process ends).
  const seenPairs = new Set<string>();
  const tokenLabels = (provider: string, model: string): { provider: string; model: string } => {
    const key = `${provider}\u0000${model}`;
    if (seenPairs.has(key)) return { provider, model };
    if (seenPairs.size >= MAX_TOKEN_LABEL_PAIRS) return { provider: "other", model: "other" };
    seenPairs.add(key);
    return { provider, model };
  };
  const turnFailuresTotal = counter("turn_failures_total", "Failed turns by error class (context, session, auth, cooldown, quota, network, timeout, stuck, stopped: a lost lease, provider, other)", ["class"] as const);
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

  const tokensTotal = counter("tokens_total", "Tokens of finished turns as the gateway reported them, by the provider and model that answered and kind (input, output, cache_read, cache_write)", ["provider", "model", "kind"] as const);
  const turnPhaseSeconds = new Histogram<"phase">({
    name: "agent_supervisor_turn_phase_seconds",
    help: "Time of finished turns by phase (seconds): queue_wait (accepted until first handed to the gateway), gateway (from then until the result), total (accepted until the result)",
    labelNames: ["phase"],
    buckets: PHASE_BUCKETS,
    registers,
  });

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
  const budgetLimit = gauge("token_budget_limit_tokens", "Daily token budget (TOKEN_BUDGET_DAILY, tokens per UTC day; 0 = no budget)");
  const budgetWarn = gauge("token_budget_warn_tokens", "Tokens used today at which /health warns (0 = no budget)");
  const budgetUsed = gauge("token_budget_used_tokens", "Tokens counted toward today's budget (input + output + cache write of the turns finished today, UTC)");
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
    tokensTotal,
    turnPhaseSeconds,
    observeTurn(t) {
      turnsTotal.inc({ outcome: t.state === "done" ? "done" : "failed" });
      if (t.state === "failed") turnFailuresTotal.inc({ class: classifyTurnError(t.errorCode, t.errorMessage) });
      if (t.finishedAt !== null) {
        turnDurationSeconds.observe((t.finishedAt - t.createdAt) / 1000);
        for (const [phase, from, to] of [["queue_wait", t.createdAt, t.firstDeliveredAt], ["gateway", t.firstDeliveredAt, t.finishedAt], ["total", t.createdAt, t.finishedAt]] as const) {
          if (from !== null && to !== null) turnPhaseSeconds.observe({ phase }, Math.max(0, to - from) / 1000);
        }
      }
      const u = t.usage;
      if (u) {
        const { provider, model } = tokenLabels(u.provider ?? "unknown", u.model ?? "unknown");
        for (const [field, kind] of TOKEN_KINDS) tokensTotal.inc({ provider, model, kind }, u[field]);
      }
    },
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
      if (s.tokens) {
        budgetLimit.set(s.tokens.budget?.limit ?? 0);
        budgetWarn.set(s.tokens.budget?.warnAt ?? 0);
        budgetUsed.set(s.tokens.usedToday);
      }
      if (disk && !("error" in disk)) {
        diskFree.set(disk.freeBytes);
        diskTotal.set(disk.totalBytes);
      }
    },
  };
}
