/**
 * agent-supervisor: the composition root. The only module that reads process.env, creates the
 * clock, spawn, fetch, the SQLite handle and the root logger, installs signal handlers, wires
 * the subsystems together and maps typed errors to exit codes.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import pkg from "../package.json" with { type: "json" };
import { systemClock } from "./core/clock.ts";
import { loadSettings, redactSettings, type LoadedSettings } from "./config/load.ts";
import { settingsSchema, SETTING_NAMES } from "./config/schema.ts";
import { trustExtraCaCertificates } from "./config/extra-ca.ts";
import { ensureSecretFile, readSecretFile } from "./config/secret-file.ts";
import { runControlPlaneCommand } from "./dev/control-plane/command.ts";
import { startMockModel } from "./dev/mock-model.ts";
import { EXIT, exitCodeFor, SupervisorError, UnavailableError } from "./core/errors.ts";
import { GatewayConnection } from "./gateway/connection.ts";
import { TurnDelivery } from "./turns/delivery.ts";
import { TurnService } from "./turns/turn-service.ts";
import { createHealthApp } from "./health/app.ts";
import { createApiClient } from "./cli/api-client.ts";
import { statfsDiskUsage } from "./health/disk.ts";
import { formatStatus } from "./cli/status-format.ts";
import { createMetrics } from "./health/metrics.ts";
import { startHttpServer } from "./health/server.ts";
import { parseTimeoutMs, runTurnCommand } from "./cli/turn.ts";
import { createLogger } from "./core/logger.ts";
import { runOpenclawInstall } from "./runtime/command.ts";
import { resolveGatewayRuntime } from "./runtime/resolve.ts";
import { openDb } from "./store/db.ts";
import { loadNativeSqliteBinding } from "./store/native.ts";
import { EventStore } from "./store/events.ts";
import { TurnStore } from "./store/turns.ts";
import { gatewayArgs, gatewayEnv, gatewayLayout, prepareGatewayFiles, selectModels } from "./supervisor/gateway-config.ts";
import { GatewaySupervisor } from "./supervisor/supervisor.ts";
import { applyProviderSecrets, loadStoredSecrets, secretValues, storeSecrets } from "./supervisor/provider-secrets.ts";
import { loadStoredSkills, materializeSkills } from "./supervisor/skills.ts";
import { createControlPlaneClient } from "./sync/client.ts";
import { SecretsPoller } from "./sync/secrets-poller.ts";
import { deriveRuntimeStatus, hostMetrics } from "./sync/status.ts";
import { SyncWorker } from "./sync/worker.ts";
import { CentralTurnStore } from "./store/central.ts";
import { writeFileAtomic } from "./core/fs-atomic.ts";
import type { HealthSnapshot } from "./health/ports.ts";
import { sweepGatewayTmp, sweepStaleGatewayTmp } from "./watchdogs/tmp-sweep.ts";
import { LivenessProbe } from "./watchdogs/liveness.ts";
import { memoryLimitBytes, MemoryWatchdog } from "./watchdogs/memory.ts";
import { sanitizeLine, type LaunchSpec } from "./supervisor/child.ts";
import { createSystemdNotifier, startWatchdogPings, statusLine, watchdogIntervalMs } from "./daemon/systemd.ts";
import { StatusReporter } from "./daemon/systemd-status.ts";
import { decayPolicyFrom, type Settings } from "./config/schema.ts";
import cron from "node-cron";
import { runDecaySchedule } from "./workspace/decay-schedule.ts";
import { runDecayCommand } from "./workspace/decay-command.ts";
import { doctorExitCode, formatDoctor, nearestExisting, portFree, runDoctorChecks } from "./cli/doctor-checks.ts";
import { readMemoryBudget } from "./workspace/decay-budget.ts";
import type { Clock } from "./core/clock.ts";
import type { Logger } from "pino";

const VERSION: string = pkg.version;

/** Files under the data directory. */
function dataFiles(dataDir: string) {
  return {
    db: join(dataDir, "agent-supervisor.db"),
    gatewayToken: join(dataDir, "gateway.token"),
    apiToken: join(dataDir, "api.token"),
    gatewayPid: join(dataDir, "gateway.pid"),
  };
}

/**
 * `openclaw doctor --fix --yes --non-interactive` against the gateway's own state and environment
 * (docs/gateway/embedding.md: after exit 78, once). Output goes to the log; at most 120 s.
 * @returns its exit code (null if killed)
 */
function runDoctor(spec: LaunchSpec, log: Logger): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(spec.command, [spec.args[0]!, "doctor", "--fix", "--yes", "--non-interactive"], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding("utf8");
      stream.on("data", (d: string) => {
        for (const line of d.split("\n")) if (line.trim()) log.info({ source: "doctor" }, sanitizeLine(line, []));
      });
    }
    child.once("error", (err) => {
      log.error({ err: err.message }, "cannot run openclaw doctor");
      resolve(null);
    });
    child.once("exit", (code) => resolve(code));
  });
}

/** Periodic sweep of stale /tmp/openclaw* files while the gateway runs (before each start all of it goes). */
async function sweepLoop(s: Settings, signal: AbortSignal, clock: Clock, log: Logger): Promise<void> {
  if (!s.TMP_CLEAN) return;
  while (!signal.aborted) {
    await clock.sleep(s.TMP_SWEEP_INTERVAL_MS, signal);
    if (signal.aborted) break;
    try {
      const r = await sweepStaleGatewayTmp(s.TMP_DIR, process.getuid?.() ?? 0, { nowMs: clock.now(), staleMs: s.TMP_STALE_MS });
      if (r.removedFiles > 0) log.info({ removedFiles: r.removedFiles, removedBytes: r.removedBytes }, "swept stale gateway scratch files");
    } catch (err) {
      log.warn({ err: (err as Error).message }, "stale /tmp sweep failed");
    }
  }
}

/** `agent-supervisor run`: supervise the gateway and serve the local API until SIGTERM/SIGINT. */
async function runDaemon({ settings: s, file }: LoadedSettings): Promise<number> {
  const log = createLogger(s.AGENT_SUPERVISOR_LOG_LEVEL);
  const clock = systemClock;
  mkdirSync(s.AGENT_SUPERVISOR_DATA_DIR, { recursive: true, mode: 0o700 });
  const files = dataFiles(s.AGENT_SUPERVISOR_DATA_DIR);
  // Looked up again before every gateway start: a missing runtime holds the gateway, saying why
  // (the supervisor's UnavailableError path), instead of failing the daemon and its unit.
  const findRuntime = () =>
    resolveGatewayRuntime({
      dataDir: s.AGENT_SUPERVISOR_DATA_DIR,
      openclawNode: s.OPENCLAW_NODE,
      openclawEntry: s.OPENCLAW_ENTRY,
      openclawVersion: s.OPENCLAW_VERSION,
    });
  let runtime = await findRuntime().catch((err: unknown) => {
    if (!(err instanceof UnavailableError)) throw err;
    log.error({ err: err.message }, "the OpenClaw runtime is not usable; the gateway waits for it");
    return undefined;
  });
  const db = openDb(files.db, { nativeBinding: loadNativeSqliteBinding(s.AGENT_SUPERVISOR_DATA_DIR) });
  const turns = new TurnStore(db);
  const events = new EventStore(db);
  const gatewayToken = await ensureSecretFile(files.gatewayToken);
  const apiToken = await ensureSecretFile(files.apiToken);
  const layout = gatewayLayout(s.AGENT_SUPERVISOR_DATA_DIR);
  // Provider secrets and skills from the control plane, as last applied (0600 files, never SQLite).
  const secretsFile = join(layout.root, "provider-secrets.json");
  const skillsFile = join(layout.root, "skills-manifest.json");
  let cpSecrets = await loadStoredSecrets(secretsFile).catch((e) => (log.error({ err: (e as Error).message }, "ignoring stored secrets"), undefined));
  let cpSkills = await loadStoredSkills(skillsFile).catch((e) => (log.error({ err: (e as Error).message }, "ignoring stored skills"), undefined));
  const gatewaySettings = () => applyProviderSecrets(s, cpSecrets);
  // Standalone, a provider is required now (78). With a control plane, keys may arrive from it.
  if (s.CONTROL_PLANE_URL === undefined || cpSecrets !== undefined) selectModels(gatewaySettings());
  const metrics = createMetrics();
  const secrets = [gatewayToken, apiToken, s.MOONSHOT_API_KEY, s.OPENAI_API_KEY, s.OPENAI_COMPAT_API_KEY, s.CONTROL_PLANE_TOKEN].filter(
    (v): v is string => v !== undefined,
  );
  log.info({ version: VERSION, configFile: file ?? null, dataDir: s.AGENT_SUPERVISOR_DATA_DIR, runtime }, "agent-supervisor starting");

  const stop = new AbortController();
  // systemd: READY=1 once the local API serves (the daemon's own readiness; the gateway's state
  // goes to STATUS=, /readyz and `status`), STATUS= kept current, WATCHDOG=1 while healthy.
  const systemdLog = log.child({ subsystem: "systemd" });
  const notifier = createSystemdNotifier({ env: process.env, log: systemdLog });
  const status = new StatusReporter({
    notifier,
    clock,
    log: systemdLog,
    line: () => {
      const sup = supervisor.snapshot();
      const q = turns.counts();
      return statusLine({
        gatewayState: sup.state,
        reason: sup.reason,
        queueDepth: q.accepted + q.delivering,
        delivering: q.delivering,
        draining: service?.draining ?? false,
        connected: connection.ready,
        problem: cpProblem,
      });
    },
  });
  let service: TurnService;
  let delivery: TurnDelivery;
  let lastState = "stopped";
  const connection = new GatewayConnection({
    url: `ws://127.0.0.1:${s.OPENCLAW_GATEWAY_PORT}`,
    token: () => gatewayToken,
    clientVersion: VERSION,
    log: log.child({ subsystem: "connection" }),
    now: clock.now,
    onReady: (generation) => {
      supervisor.markReady(generation);
      delivery.notify();
    },
  });
  const supervisor = new GatewaySupervisor({
    spawn,
    clock,
    random: Math.random,
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
    secrets: () => [...secrets, ...secretValues(cpSecrets)],
    breaker: { windowMs: s.CRASH_LOOP_WINDOW_MS, maxRestarts: s.CRASH_LOOP_MAX_RESTARTS },
    openclawVersion: runtime?.openclawVersion ?? null,
    doctor: (spec) => runDoctor(spec, log.child({ subsystem: "doctor" })),
    prepare: async () => {
      const rt = (runtime = await findRuntime());
      if (s.TMP_CLEAN) {
        const swept = await sweepGatewayTmp(s.TMP_DIR, process.getuid?.() ?? 0);
        if (swept.removed.length + swept.skipped.length > 0) log.info({ ...swept }, "swept gateway scratch files");
      }
      const gs = gatewaySettings();
      if (cpSkills) await materializeSkills(layout.workspaceDir, cpSkills);
      await prepareGatewayFiles(gs, layout);
      return { command: rt.nodePath, args: gatewayArgs(rt.entryPath, gs), env: gatewayEnv(gs, layout, gatewayToken, process.env), cwd: layout.root };
    },
    onState: (snap) => {
      sync?.notifyStateChange();
      status.poke();
      if (snap.state === "starting" && snap.pid !== null) connection.connect(snap.generation);
      else if (snap.state !== "ready" && snap.state !== "starting") connection.disconnect();
      if ((snap.state === "backoff" || snap.state === "failed") && snap.state !== lastState) {
        metrics.gatewayRestartsTotal.inc({ cause: supervisor.lastCause ?? "crash" });
      }
      lastState = snap.state;
    },
  });
  delivery = new TurnDelivery({
    turns,
    gateway: connection,
    clock,
    log: log.child({ subsystem: "delivery" }),
    policy: { concurrency: s.TURN_CONCURRENCY, turnTimeoutMs: s.TURN_TIMEOUT_MS, maxAttempts: s.TURN_MAX_ATTEMPTS, reconcilePollMs: 1000 },
    onFinished: (t) => {
      if (t.source === "central") sync?.notifyResult();
      sync?.notifyCapacity();
      service.finished(t.id);
      status.poke();
      metrics.turnsTotal.inc({ outcome: t.state === "done" ? "done" : "failed" });
      if (t.finishedAt !== null) metrics.turnDurationSeconds.observe((t.finishedAt - t.createdAt) / 1000);
    },
  });
  service = new TurnService({ turns, now: clock.now, queueLimit: s.TURN_QUEUE_LIMIT, onSubmitted: () => (delivery.notify(), status.poke()) });

  // The control plane: claims, leases, results outbox, status, secrets and skills.
  let sync: SyncWorker | undefined;
  let poller: SecretsPoller | undefined;
  let cpProblem: string | null = null;
  let central: CentralTurnStore | undefined;
  if (s.CONTROL_PLANE_URL !== undefined) {
    const client = createControlPlaneClient({
      baseUrl: s.CONTROL_PLANE_URL,
      token: s.CONTROL_PLANE_TOKEN!,
      runtimeId: s.RUNTIME_ID!,
      accountId: s.ACCOUNT_ID!,
      fetch,
    });
    const store = (central = new CentralTurnStore(db));
    const syncLog = log.child({ subsystem: "sync" });
    const worker = (sync = new SyncWorker({
      client,
      central: store,
      clock,
      random: Math.random,
      log: syncLog,
      policy: {
        claimMax: s.CLAIM_MAX,
        claimWaitMs: s.CLAIM_WAIT_MS,
        idleJitterMs: s.CLAIM_IDLE_JITTER_MS,
        heartbeatIntervalMs: s.HEARTBEAT_INTERVAL_MS,
        statusIntervalMs: s.STATUS_INTERVAL_MS,
        backoffMaxMs: s.SYNC_BACKOFF_MAX_MS,
      },
      capacity: () => (service.draining ? 0 : s.TURN_CONCURRENCY - delivery.inFlight - turns.counts().accepted),
      onClaimed: () => (delivery.notify(), status.poke()),
      onLeaseLost: (turnId) => {
        delivery.abortTurn(turnId);
        service.finished(turnId);
      },
      statusSnapshot: async () => {
        const h = healthSnapshot();
        const derived = deriveRuntimeStatus(h, worker.snapshot().claiming === "stopped-auth");
        const status = derived.status === "online" && cpProblem ? { status: "degraded" as const, reason: cpProblem } : derived;
        return {
          daemonVersion: VERSION,
          openclawVersion: runtime?.openclawVersion ?? null,
          gatewayState: h.gateway.state,
          ...status,
          host: await hostMetrics(s.AGENT_SUPERVISOR_DATA_DIR, syncLog),
          queue: { accepted: h.queue.accepted, delivering: h.queue.delivering, outbox: store.outboxDepth() },
        };
      },
    }));
    poller = new SecretsPoller({
      source: client,
      clock,
      random: Math.random,
      log: syncLog,
      intervalMs: s.SECRETS_POLL_MS,
      backoffMaxMs: s.SYNC_BACKOFF_MAX_MS,
      current: { secretsVersion: cpSecrets?.version, skillsVersion: cpSkills?.version },
      onProblem: (p) => {
        if (p === cpProblem) return;
        cpProblem = p;
        status.poke();
        worker.notifyStateChange();
      },
      apply: async (change) => {
        // 1. Rewrite the gateway's env source (and skills) atomically; openclaw.json is rendered at start.
        if (change.secrets) await storeSecrets(secretsFile, change.secrets);
        if (change.skills) await writeFileAtomic(skillsFile, `${JSON.stringify(change.skills)}\n`, 0o600);
        if (change.secrets) cpSecrets = change.secrets;
        if (change.skills) cpSkills = change.skills;
        const before = supervisor.snapshot();
        if (before.state !== "ready" && before.state !== "starting") {
          supervisor.wake(); // not running: the next start uses the new files at once
          return;
        }
        // 2. Drain in-flight turns, 3. restart the gateway; delivery resumes once it is ready.
        const left = await delivery.pause(s.DRAIN_TIMEOUT_MS);
        log.info({ left, secretsVersion: change.secrets?.version, skillsVersion: change.skills?.version }, "restarting the gateway for new secrets/skills");
        supervisor.requestRestart("rotation");
        delivery.resume();
      },
    });
  }

  // Watchdogs: a protocol-level liveness probe and the memory of the gateway's process tree.
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
      void delivery.pause(s.DRAIN_TIMEOUT_MS).then(() => {
        supervisor.requestRestart("memory");
        delivery.resume();
      });
    },
  });

  let loopTickAt = clock.now();
  let memoryFile: Awaited<ReturnType<typeof readMemoryBudget>> | undefined;
  const healthSnapshot = (): HealthSnapshot => {
    const sup = supervisor.snapshot();
    const syncSnap = sync?.snapshot();
    return {
      loopTickAt,
      gateway: { ...sup, openclawVersion: runtime?.openclawVersion ?? null },
      connection: connection.snapshot(),
      queue: { ...turns.counts(), limit: s.TURN_QUEUE_LIMIT },
      draining: service.draining,
      memory: memory.snapshot(),
      ...(memoryFile ? { memoryFile: { status: memoryFile.status, output: memoryFile.output ?? null, chars: memoryFile.observedValue } } : {}),
      ...(syncSnap
        ? {
            controlPlane: {
              claiming: syncSnap.claiming,
              outboxDepth: syncSnap.outboxDepth,
              lastError: syncSnap.lastError ? `${syncSnap.lastError.code}: ${syncSnap.lastError.message}` : null,
              problem: cpProblem,
            },
          }
        : {}),
    };
  };
  const ticker = setInterval(() => (loopTickAt = clock.now()), 1000);
  const app = createHealthApp({
    turns: service,
    snapshot: () => healthSnapshot(),
    disk: () => statfsDiskUsage(s.AGENT_SUPERVISOR_DATA_DIR),
    metrics,
    now: clock.now,
    token: apiToken,
    maxMessageBytes: s.TURN_MAX_MESSAGE_BYTES,
    rssTrend: (since) => events.rssTrend(since),
    thresholds: {
      diskWarnFreeRatio: s.DISK_WARN_FREE_PERCENT / 100,
      diskFailFreeRatio: s.DISK_FAIL_FREE_PERCENT / 100,
      diskWarnFreeBytes: s.DISK_WARN_FREE_MB * 1024 * 1024,
      diskFailFreeBytes: s.DISK_FAIL_FREE_MB * 1024 * 1024,
    },
    service: { version: VERSION, releaseId: VERSION, serviceId: "agent-supervisor", description: "OpenClaw gateway supervisor" },
    log: log.child({ subsystem: "http" }),
  });
  const http = await startHttpServer({ app, host: s.AGENT_SUPERVISOR_HTTP_HOST, port: s.AGENT_SUPERVISOR_HTTP_PORT });
  log.info({ host: s.AGENT_SUPERVISOR_HTTP_HOST, port: http.port }, "local API listening");
  // Before READY=1: from then on systemd may stop us, and a stop must drain, not kill.
  let signals = 0;
  const drained = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        log.warn({ signal: sig }, "second signal: exiting now");
        supervisor.killNow();
        process.exit(EXIT.SOFTWARE);
      }
      log.info({ signal: sig, graceMs: s.DRAIN_TIMEOUT_MS }, "draining: no new turns; waiting for in-flight turns");
      service.startDraining();
      sync?.stopClaiming();
      void status.sendNow({ STOPPING: "1" });
      void delivery.drain(s.DRAIN_TIMEOUT_MS).then((left) => {
        if (left > 0) log.warn({ left }, "drain deadline reached; unfinished turns resume on next start");
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  // The unit is up once the local API serves; never held "activating" (and killed by
  // TimeoutStartSec) for a gateway that is slow or cannot start (issue 8).
  void status.sendNow({ READY: "1" });
  const reporting = status.run(stop.signal);
  // systemd recommends notifying every half of WatchdogSec; only while our own loop ticks.
  const watchdogMs = watchdogIntervalMs(process.env);
  const pinging =
    watchdogMs !== null
      ? startWatchdogPings({ notifier, intervalMs: watchdogMs, healthy: () => clock.now() - loopTickAt < 10_000, clock, signal: stop.signal })
      : undefined;

  // With a control plane and no provider keys yet, read its secrets before the first start, so the
  // gateway does not begin held in "failed: config" (bounded: the poll loop keeps trying anyway).
  if (poller && cpSecrets === undefined) {
    const waited = new AbortController();
    await Promise.race([poller.pollOnce(), clock.sleep(15_000, waited.signal), drained]);
    waited.abort();
  }
  if (signals > 0) stop.abort(); // stopped before anything started: start nothing
  const supervising = supervisor.run(stop.signal);
  const delivering = delivery.run(stop.signal);
  // The sync loops stop only after the drain, so results of drained turns are still reported.
  const syncStop = new AbortController();
  const syncing = Promise.all([sync?.run(syncStop.signal), poller?.run(syncStop.signal)]);
  // Memory decay of the workspace on its schedule, and the MEMORY.md bootstrap-budget check.
  const decaying = s.DECAY_ENABLED
    ? runDecaySchedule(
        {
          scheduler: cron,
          expression: s.DECAY_SCHEDULE,
          workspaceDir: layout.workspaceDir,
          db,
          policy: decayPolicyFrom(s),
          now: clock.now,
          log: log.child({ subsystem: "decay" }),
          memoryBudgetChars: s.MEMORY_BOOTSTRAP_MAX_CHARS,
        },
        stop.signal,
      )
    : undefined;
  const budgetLoop = (async () => {
    while (!stop.signal.aborted) {
      memoryFile = await readMemoryBudget(layout.workspaceDir, s.MEMORY_BOOTSTRAP_MAX_CHARS);
      await clock.sleep(60_000, stop.signal);
    }
  })();
  const watching = Promise.all([
    liveness.run(stop.signal),
    decaying,
    budgetLoop,
    memory.run(stop.signal),
    sweepLoop(s, stop.signal, clock, log),
  ]);
  process.on("SIGHUP", () => {
    log.info("SIGHUP: polling the control plane for secrets and skills now");
    poller?.refresh();
  });

  await drained;
  stop.abort();
  await Promise.all([supervising, delivering, watching, reporting, pinging]);
  syncStop.abort();
  await syncing;
  connection.disconnect();
  clearInterval(ticker);
  await http.close();
  db.close();
  log.info("agent-supervisor stopped");
  return EXIT.OK;
}

function apiClientFor(s: LoadedSettings["settings"], token: string) {
  const host = s.AGENT_SUPERVISOR_HTTP_HOST === "0.0.0.0" ? "127.0.0.1" : s.AGENT_SUPERVISOR_HTTP_HOST;
  return createApiClient({ baseUrl: `http://${host.includes(":") ? `[${host}]` : host}:${s.AGENT_SUPERVISOR_HTTP_PORT}`, token, fetch });
}

/** The local API token, for CLI clients. @throws UnavailableError ERR_API_TOKEN with a hint */
async function readApiToken(dataDir: string): Promise<string> {
  const path = dataFiles(dataDir).apiToken;
  try {
    return await readSecretFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new UnavailableError(
      "ERR_API_TOKEN",
      `cannot read the local API token ${path} (${code}): is the daemon running with this data directory, and are you its user or root?`,
    );
  }
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Build the CLI. Each action sets `process.exitCode`. */
function buildCli(): Command {
  const program = new Command("agent-supervisor")
    .description("Keeps an OpenClaw gateway alive and delivers turns to it")
    .version(VERSION, "-V, --version")
    .option("-c, --config <file>", "env file with settings (default /etc/agent-supervisor/agent-supervisor.env, optional)")
    .enablePositionalOptions()
    .exitOverride();
  // `--config` is accepted before and after the subcommand (`agent-supervisor run --config F`).
  const configOpt = "-c, --config <file>";
  const configHelp = "env file with settings";
  let leafConfig: string | undefined;
  const load = () => {
    const loaded = loadSettings(leafConfig ?? program.opts().config, process.env);
    // A private CA from the env file, for the https calls of every command (doctor, run, ...).
    trustExtraCaCertificates(loaded.settings.NODE_EXTRA_CA_CERTS, process.env);
    return loaded;
  };
  program.hook("preAction", (_root, leaf) => {
    leafConfig = leaf.opts().config;
  });

  program
    .command("run")
    .description("run the daemon: supervise the gateway, deliver turns, serve the local API")
    .option(configOpt, configHelp)
    .action(async () => {
      process.exitCode = await runDaemon(load());
      // Everything is closed; do not let a stray handle keep a stopped daemon alive.
      setTimeout(() => process.exit(), 2000).unref();
    });

  const config = program.command("config").description("inspect settings");
  config
    .command("check")
    .description("validate settings and exit (78 when invalid)")
    .option(configOpt, configHelp)
    .action(() => {
      const { settings, file } = load();
      // As `run`: standalone, a provider is required; with a control plane, its secrets bring the keys.
      const fromControlPlane = settings.CONTROL_PLANE_URL !== undefined;
      if (!fromControlPlane) selectModels(settings);
      out(`config ok${file ? ` (${file})` : " (environment only)"}${fromControlPlane ? "; model provider keys come from the control plane" : ""}`);
    });
  config
    .command("print")
    .description("print the effective settings, secrets redacted")
    .option(configOpt, configHelp)
    .option("--json", "as JSON")
    .option("--reference", "print every setting with its default and meaning (markdown)")
    .action((o: { json?: boolean; reference?: boolean }) => {
      if (o.reference) {
        out("| Setting | Default | Meaning |\n| --- | --- | --- |");
        for (const name of SETTING_NAMES) {
          const field = settingsSchema.shape[name];
          const def = field.safeParse(undefined);
          const shown = def.success && def.data !== undefined ? `\`${String(def.data)}\`` : "(unset)";
          out(`| \`${name}\` | ${shown} | ${field.description ?? ""} |`);
        }
        return;
      }
      const red = redactSettings(load().settings);
      if (o.json) return out(JSON.stringify(red, null, 2));
      for (const [k, v] of Object.entries(red)) out(`${k}=${v ?? ""}`);
    });

  program
    .command("openclaw")
    .description("manage the OpenClaw runtime")
    .command("install")
    .description("install Node 24 and openclaw into the data directory from the npm registry")
    .option("--version <version>", "openclaw version (default OPENCLAW_VERSION)")
    .option(configOpt, configHelp)
    .action(async (o: { version?: string }) => {
      const { settings } = load();
      await runOpenclawInstall({ settings, version: o.version, fetch, spawn, now: Date.now, env: process.env, writeErr: err });
    });

  program
    .command("doctor")
    .description("check config, data directory, runtime, ports, disk, control plane and gateway readiness (exit 0 pass, 1 warn, 2 fail)")
    .option(configOpt, configHelp)
    .action(async () => {
      const { settings, file } = load();
      const checks = await runDoctorChecks(settings, file, {
        runtime: () =>
          resolveGatewayRuntime({
            dataDir: settings.AGENT_SUPERVISOR_DATA_DIR,
            openclawNode: settings.OPENCLAW_NODE,
            openclawEntry: settings.OPENCLAW_ENTRY,
            openclawVersion: settings.OPENCLAW_VERSION,
          }),
        disk: () => statfsDiskUsage(nearestExisting(settings.AGENT_SUPERVISOR_DATA_DIR)),
        portFree,
        httpStatus: async (url, headers) => (await fetch(url, { headers, signal: AbortSignal.timeout(10_000) })).status,
        uid: process.getuid?.() ?? 0,
      });
      out(formatDoctor(checks));
      process.exitCode = doctorExitCode(checks);
    });

  program
    .command("decay")
    .description("run memory decay of the agent workspace now (roll-ups, archive, trash), journaled in SQLite")
    .option("--dry-run", "print the plan and change nothing")
    .option(configOpt, configHelp)
    .action(async (o: { dryRun?: boolean }) => {
      const { settings } = load();
      loadNativeSqliteBinding(settings.AGENT_SUPERVISOR_DATA_DIR); // the single executable's SQLite addon (no-op otherwise)
      await runDecayCommand({
        workspaceDir: gatewayLayout(settings.AGENT_SUPERVISOR_DATA_DIR).workspaceDir,
        dbPath: dataFiles(settings.AGENT_SUPERVISOR_DATA_DIR).db,
        policy: decayPolicyFrom(settings),
        now: Date.now,
        dryRun: o.dryRun ?? false,
        writeOut: out,
        memoryBudgetChars: settings.MEMORY_BOOTSTRAP_MAX_CHARS,
      });
    });

  program
    .command("turn")
    .description("send one turn through the running daemon and print the reply")
    .argument("<text>", "the message")
    .option("--conversation <id>", "conversation id (one gateway session per conversation)", "cli")
    .option(configOpt, configHelp)
    .option("--timeout <ms>", "how long to wait for the reply (ms); the turn goes on in the daemon after it (exit 75)", parseTimeoutMs, 600_000)
    .action(async (text: string, o: { conversation: string; timeout: number }) => {
      const { settings } = load();
      const dataDir = settings.AGENT_SUPERVISOR_DATA_DIR;
      process.exitCode = await runTurnCommand({
        client: apiClientFor(settings, await readApiToken(dataDir)),
        conversationId: o.conversation,
        text,
        timeoutMs: o.timeout,
        tokenPath: dataFiles(dataDir).apiToken,
        writeOut: out,
        writeErr: err,
      });
    });

  program
    .command("status")
    .description("summarise the daemon's health (from its local API)")
    .option("--json", "print the application/health+json document")
    .option(configOpt, configHelp)
    .action(async (o: { json?: boolean }) => {
      const { settings } = load();
      const client = apiClientFor(settings, "");
      const doc = await client.health();
      out(o.json ? JSON.stringify(doc, null, 2) : formatStatus(doc));
      process.exitCode = doc.status === "fail" ? 1 : 0;
    });

  const dev = program.command("dev").description("development tools and test peers");
  dev
    .command("control-plane")
    .description("run the reference control plane (a test peer and development tool, not a production service)")
    .option("--port <port>", "port on 127.0.0.1", "18800")
    .option("--db <file>", "SQLite file (default: in memory)")
    .option("--runtime <rid:account...>", "register runtime ids with their account (default dev-runtime:dev-account)")
    .option("--state-dir <dir>", "where the generated service and admin tokens are kept", ".data/control-plane")
    .option("--lease-ms <ms>", "lease length (ms)", "60000")
    .action(async (o: { port: string; db?: string; runtime?: string[]; stateDir: string; leaseMs: string }) => {
      loadNativeSqliteBinding(o.stateDir); // the single executable's SQLite addon, under the state dir (no-op otherwise)
      await runControlPlaneCommand(
        { port: o.port, db: o.db, runtime: o.runtime, stateDir: o.stateDir, leaseMs: Number(o.leaseMs) },
        { writeErr: err },
      );
    });
  dev
    .command("mock-model")
    .description("serve a local OpenAI-compatible echo model (stands in for the LLM provider)")
    .option("--port <port>", "port on 127.0.0.1", "18999")
    .action(async (o: { port: string }) => {
      const m = await startMockModel(Number(o.port));
      err(`mock model listening at ${m.url} (model id: any; replies "echo: <prompt>")`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await m.close();
    });
  return program;
}

async function main(argv: string[]): Promise<void> {
  // `agent-supervisor config print | head` closes our stdout early: that is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
  });
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : EXIT.USAGE;
      return;
    }
    const code = exitCodeFor(e);
    err(`agent-supervisor: ${e instanceof SupervisorError ? `${e.message} [${e.code}]` : (e as Error)?.stack ?? String(e)}`);
    process.exitCode = code;
  }
}

void main(process.argv);
