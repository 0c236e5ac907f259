/**
 * Building the daemon's subsystems from the settings: the SQLite stores, the gateway's launch
 * inputs, the connection, the supervisor, delivery and the turn service, wired to each other.
 * Nothing runs yet; daemon/run.ts starts them. Subsystems built later (the sync worker, the
 * systemd status reporter) are reached through {@link Links}, filled in by their builders.
 */
import { Mutex } from "async-mutex";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { settingsSecretValues, type Settings } from "../config/schema.ts";
import { ensureSecretFile } from "../config/secret-file.ts";
import { dataDirLayout } from "../core/data-dir.ts";
import { GatewayConnection } from "../gateway/connection.ts";
import type { Metrics } from "../health/metrics.ts";
import { runtimeSettingsOf } from "../runtime/resolve.ts";
import { resolveRuntimeAfterChanges } from "../runtime/upgrade-journal.ts";
import { AuditStore } from "../store/audit.ts";
import { AuditJournal } from "../store/audit-log.ts";
import { CentralTurnStore } from "../store/central.ts";
import { DAEMON_BUSY_TIMEOUT_MS, openDb, type Db } from "../store/db.ts";
import { EventStore } from "../store/events.ts";
import { loadNativeSqliteBinding } from "../store/native.ts";
import { TurnStore, type Turn } from "../store/turns.ts";
import { UsageStore } from "../store/usage.ts";
import { WriteFaults } from "../store/write-faults.ts";
import { runOpenclawDoctor } from "../supervisor/doctor-step.ts";
import { selectModels } from "../supervisor/gateway-config.ts";
import { GatewayLaunch, lookUpRuntime } from "../supervisor/launch.ts";
import { GatewaySupervisor } from "../supervisor/supervisor.ts";
import type { AuditOutbox } from "../sync/audit-outbox.ts";
import type { SyncWorker } from "../sync/worker.ts";
import { TokenBudget } from "../turns/budget.ts";
import { TurnDelivery } from "../turns/delivery.ts";
import { RunProgress } from "../turns/run-progress.ts";
import { TurnService } from "../turns/turn-service.ts";
import { probeBoundary, type Boundary } from "../supervisor/gateway-user.ts";
import { sweptTotals, TmpSweeper, type TmpSweeps } from "../watchdogs/tmp-sweep-as.ts";
import { LOCKS_REASON, type StaleSweepResult, type SweepResult } from "../watchdogs/tmp-sweep.ts";
import type { SessionRepairWatchdog } from "../watchdogs/session-repair.ts";
import type { ProviderCredentialsWatchdog } from "../watchdogs/provider-credentials.ts";
import type { Host } from "./host.ts";
import type { StatusReporter } from "./systemd-status.ts";
import { GatewayHold, OutputTail } from "./upgrade-gate.ts";
import { recoverAtStart, type StartRecovery } from "./upgrade-recover.ts";

/** Subsystems built after the gateway side, reached late through this (undefined until built). */
export type Links = {
  sync?: SyncWorker | undefined;
  status?: StatusReporter | undefined;
  /** The audit outbox (with a control plane): told of every new audit entry. */
  auditOutbox?: AuditOutbox | undefined;
  /** Called with every turn whose verdict was written (watchdogs that judge outcomes subscribe here); must not throw. */
  finished: Array<(turn: Turn) => void>;
  /** The session-repair watchdog: told of every finished turn; holds the turns of a session it repairs. */
  sessions?: Pick<SessionRepairWatchdog, "observe" | "held"> | undefined;
  /** The provider-credentials watchdog: told of every finished turn (a refused key is evidence). */
  providers?: ProviderCredentialsWatchdog | undefined;
};

/** The assembled daemon (see the module comment). */
export type Parts = {
  s: Settings;
  host: Host;
  log: Logger;
  version: string;
  files: ReturnType<typeof dataDirLayout>;
  db: Db;
  /** SQLite write sites failing now, fed by every store (for /health and /metrics). */
  writeFaults: WriteFaults;
  turns: TurnStore;
  /** The daily token budget over the day totals of token usage (TOKEN_BUDGET_*). */
  budget: TokenBudget;
  events: EventStore;
  /** The audit trail's table (store/audit.ts). */
  auditStore: AuditStore;
  /** Where every site records its actions (core/audit.ts); refused writes are held and retried. */
  audit: AuditJournal;
  /** Central turns (leases, outbox); only with a control plane. */
  central: CentralTurnStore | undefined;
  metrics: Metrics;
  gatewayToken: string;
  apiToken: string;
  /** Whether the gateway runs as its own user, looked up now (supervisor/gateway-user.ts). */
  boundary: () => Boundary;
  /** The scratch sweeps of TMP_DIR and the state tmp/, as the gateway's user when the boundary is on. */
  tmp: TmpSweeper;
  /** Count what a sweep removed in /metrics (`agent_supervisor_tmp_swept_*`). */
  countSwept: (r: TmpSweeps<SweepResult | StaleSweepResult>) => void;
  launch: GatewayLaunch;
  connection: GatewayConnection;
  supervisor: GatewaySupervisor;
  delivery: TurnDelivery;
  /** Delivery's in-flight runs and their progress, fed by the gateway's events (stuck-run watchdog). */
  progress: RunProgress;
  service: TurnService;
  links: Links;
  /** Parks the gateway's start during an OpenClaw version change (daemon/upgrade.ts). */
  upgradeHold: GatewayHold;
  /** The latest gateway process's last output lines, for `upgrade failed: ...`. */
  outputTail: OutputTail;
  /** What the version change's recovery at start left (a damaged journal set aside, a held gateway). */
  upgradeStart: StartRecovery;
  /**
   * One planned gateway restart sequence at a time: a version change (daemon/upgrade-wiring.ts)
   * and a drain-and-restart for new secrets or memory (daemon/rotation.ts) never overlap, so a
   * key rotation cannot restart the new version during its health gate.
   */
  gatewayChanges: Mutex;
};

/**
 * Open the data directory and build the gateway side.
 * @throws SqliteError (cannot open the database), fs errors (tokens), RuntimeError other than a missing runtime
 */
export async function assemble(s: Settings, host: Host, log: Logger, metrics: Metrics, version: string): Promise<Parts> {
  const { clock } = host;
  mkdirSync(s.AGENT_SUPERVISOR_DATA_DIR, { recursive: true, mode: 0o700 });
  const files = dataDirLayout(s.AGENT_SUPERVISOR_DATA_DIR);
  // A version change may have made another version current than OPENCLAW_VERSION (issue 14).
  const findRuntime = () => resolveRuntimeAfterChanges(runtimeSettingsOf(s));
  const db = openDb(files.db, { nativeBinding: loadNativeSqliteBinding(s.AGENT_SUPERVISOR_DATA_DIR), busyTimeoutMs: DAEMON_BUSY_TIMEOUT_MS });
  const storeLog = log.child({ subsystem: "store" });
  const writeFaults = new WriteFaults({
    now: clock.now,
    onFailure: (f) => {
      metrics.storeWriteFailuresTotal.inc({ site: f.site, code: f.code });
      if (f.failures === 1) storeLog.error({ site: f.site, code: f.code, err: f.message }, "SQLite write failed; /health reports it until a write there succeeds");
    },
    onRecovered: (f) => storeLog.info({ site: f.site, failures: f.failures, sinceMs: clock.now() - f.since }, "SQLite writes succeed again"),
  });
  const turns = new TurnStore(db, writeFaults);
  const budget = new TokenBudget(new UsageStore(db), { dailyTokens: s.TOKEN_BUDGET_DAILY, warnPercent: s.TOKEN_BUDGET_WARN_PERCENT, action: s.TOKEN_BUDGET_ACTION }, clock.now);
  const events = new EventStore(db, writeFaults);
  const central = s.CONTROL_PLANE_URL !== undefined ? new CentralTurnStore(db, writeFaults) : undefined;
  const links: Links = { finished: [] };
  const auditStore = new AuditStore(db, writeFaults);
  // Set once the tokens and the launch's keys are known (below); entries recorded before then hold none.
  let auditSecrets: () => readonly string[] = () => settingsSecretValues(s);
  const audit = new AuditJournal({
    secrets: () => auditSecrets(),
    store: auditStore,
    clock,
    random: host.random,
    log: log.child({ subsystem: "audit" }),
    onRecorded: (e) => {
      metrics.auditEventsTotal.inc({ action: e.action });
      links.auditOutbox?.notify();
    },
  });
  // Before anything looks the runtime up: finish a version change a killed daemon left (issue 14).
  const upgradeStart = await recoverAtStart({ s, files, events, clock, log, audit });
  const runtime = await lookUpRuntime(findRuntime, log);
  const gatewayToken = await ensureSecretFile(files.gatewayToken);
  const apiToken = await ensureSecretFile(files.apiToken);
  const boundary = () => probeBoundary(s.GATEWAY_USER, host.uid);
  const self = host.self ?? { command: "/nonexistent/agent-supervisor", args: [] };
  const tmp = new TmpSweeper({ tmpDir: s.TMP_DIR, stateTmpDir: join(files.gateway.stateDir, "tmp"), selfUid: host.uid, spawn: host.spawn, self });
  const countSwept = (r: TmpSweeps<SweepResult | StaleSweepResult>) => {
    for (const t of sweptTotals(r)) {
      metrics.tmpSweptBytesTotal.inc({ root: t.root }, t.bytes);
      metrics.tmpSweptEntriesTotal.inc({ root: t.root }, t.entries);
    }
  };
  const launch = new GatewayLaunch({
    settings: s,
    layout: files.gateway,
    files,
    gatewayToken,
    parentEnv: host.env,
    findRuntime,
    runtime,
    beforeStart: async (b) => {
      if (!s.TMP_CLEAN) return;
      // A failed sweep is not worth a gateway that does not start.
      const swept = await tmp.full(b).catch((err: Error) => (log.warn({ err: err.message }, "the /tmp sweep before the start failed"), undefined));
      if (!swept) return;
      countSwept(swept);
      for (const [root, x] of [["tmp", swept.tmp], ["state-tmp", swept.stateTmp]] as const) {
        // The lock directories are left alone at every start: not worth a line each time.
        if (x.removed.length > 0 || x.skipped.some((k) => k.reason !== LOCKS_REASON)) log.info({ root, ...x }, "swept gateway scratch files");
      }
    },
    boundary,
    asGateway: { spawn: host.spawn, self },
    selfUid: host.uid,
    setUmask: host.setUmask,
    log,
    audit,
  });
  await launch.loadStored();
  // Standalone, a provider is required now (78). With a control plane, keys may arrive from it.
  if (s.CONTROL_PLANE_URL === undefined || launch.secrets !== undefined) selectModels(launch.settings());
  const secrets = [gatewayToken, apiToken, ...settingsSecretValues(s)];
  auditSecrets = () => [...secrets, ...launch.secretValues()];

  const upgradeHold = new GatewayHold();
  const gatewayChanges = new Mutex();
  // The state directory is half restored and the journal that knew which half is lost: no gateway.
  if (upgradeStart.holdGateway) upgradeHold.close();
  const outputTail = new OutputTail(20, () => [...secrets, ...launch.secretValues()]);
  let lastState = "stopped";
  const connection: GatewayConnection = new GatewayConnection({
    url: `ws://127.0.0.1:${s.OPENCLAW_GATEWAY_PORT}`,
    token: () => gatewayToken,
    clientVersion: version,
    log: log.child({ subsystem: "connection" }),
    now: clock.now,
    onReady: (generation) => {
      supervisor.markReady(generation);
      delivery.notify();
    },
    onAnnouncement: (generation, a) => supervisor.announce(generation, a),
  });
  const supervisor: GatewaySupervisor = new GatewaySupervisor({
    spawn: outputTail.wrap(host.spawn),
    clock,
    random: host.random,
    log: log.child({ subsystem: "supervisor" }),
    events,
    pidFile: files.gatewayPid,
    policy: {
      initialMs: s.RESTART_BACKOFF_INITIAL_MS,
      maxMs: s.RESTART_BACKOFF_MAX_MS,
      resetAfterMs: s.RESTART_BACKOFF_RESET_MS,
      startupTimeoutMs: s.GATEWAY_STARTUP_TIMEOUT_MS,
      stopGraceMs: s.GATEWAY_STOP_GRACE_MS,
    },
    secrets: () => [...secrets, ...launch.secretValues()],
    breaker: { windowMs: s.CRASH_LOOP_WINDOW_MS, maxRestarts: s.CRASH_LOOP_MAX_RESTARTS },
    openclawVersion: launch.runtime?.openclawVersion ?? null,
    doctor: (spec, known) => runOpenclawDoctor(host.spawn, spec, log.child({ subsystem: "doctor" }), known),
    prepare: async () => {
      await upgradeHold.wait();
      return launch.prepare();
    },
    audit,
    inputsVersion: () => launch.inputsVersion,
    onState: (snap) => {
      links.sync?.notifyStateChange();
      links.status?.poke();
      if (snap.state === "starting" && snap.pid !== null) connection.connect(snap.generation);
      else if (snap.state !== "ready" && snap.state !== "starting") connection.disconnect();
      if ((snap.state === "backoff" || snap.state === "failed") && snap.state !== lastState) {
        metrics.gatewayRestartsTotal.inc({ cause: supervisor.lastCause ?? "crash" });
      }
      lastState = snap.state;
    },
  });
  const progress = new RunProgress(clock);
  connection.onEvent((event, payload) => progress.observe(event, payload));
  const delivery: TurnDelivery = new TurnDelivery({
    turns,
    gateway: connection,
    progress,
    clock,
    random: host.random,
    log: log.child({ subsystem: "delivery" }),
    policy: { concurrency: s.TURN_CONCURRENCY, turnTimeoutMs: s.TURN_TIMEOUT_MS, maxAttempts: s.TURN_MAX_ATTEMPTS, reconcilePollMs: 1000 },
    sessionHeld: (key) => links.sessions?.held(key) ?? false,
    onFinished: (t) => {
      links.sessions?.observe(t);
      if (t.source === "central") links.sync?.notifyResult();
      links.sync?.notifyCapacity();
      service.finished(t.id);
      links.providers?.noteTurn(t);
      links.status?.poke();
      metrics.observeTurn(t);
      for (const listener of links.finished) listener(t);
    },
  });
  const service = new TurnService({
    turns,
    central,
    now: clock.now,
    queueLimit: s.TURN_QUEUE_LIMIT,
    budget,
    onSubmitted: () => (delivery.notify(), links.status?.poke()),
    startNow: (sessionKey) => delivery.reserve(sessionKey),
  });
  return { s, host, log, version, files, db, writeFaults, turns, budget, events, auditStore, audit, central, metrics, gatewayToken, apiToken, boundary, tmp, countSwept, launch, connection, supervisor, delivery, progress, service, links, upgradeHold, outputTail, upgradeStart, gatewayChanges };
}
