/**
 * `agent-supervisor run`: supervise the gateway, deliver turns and serve the local API until
 * SIGTERM/SIGINT, then drain and stop everything in order. The sequence lives here; the parts
 * are built by assemble.ts, control-plane.ts and watchdogs.ts.
 */
import cron from "node-cron";
import type { LoadedSettings } from "../config/load.ts";
import { decayPolicyFrom } from "../config/schema.ts";
import { EXIT } from "../core/errors.ts";
import { keepRunning } from "../core/keep-running.ts";
import { createLogger } from "../core/logger.ts";
import { createSystemdNotifier } from "../core/systemd-notify.ts";
import { createHealthApp } from "../health/app.ts";
import { statfsDiskUsage } from "../health/disk.ts";
import { createMetrics } from "../health/metrics.ts";
import { startHttpServer } from "../health/server.ts";
import { runDecaySchedule } from "../workspace/decay-schedule.ts";
import { treeRemover } from "../supervisor/as-gateway.ts";
import { assemble } from "./assemble.ts";
import { buildControlPlaneLink } from "./control-plane.ts";
import type { Host } from "./host.ts";
import { installRefreshHandler, installSignalHandlers } from "./lifecycle.ts";
import { HealthView } from "./snapshot.ts";
import { StatusReporter } from "./systemd-status.ts";
import { upgradePorts, UpgradeRunner } from "./upgrade-wiring.ts";
import { upgradeFailpoint, withUpgradeFailpoint } from "./failpoint.ts";
import { buildWatchdogs } from "./watchdogs.ts";

/** Longest wait for the control plane's secrets before the first gateway start (ms). */
export const FIRST_SECRETS_WAIT_MS = 15_000;

/**
 * Run the daemon until stopped.
 * @returns the exit code (EXIT.OK after a clean drain)
 * @throws ConfigError (no provider, standalone), SqliteError, fs errors: before anything runs
 */
export async function runDaemon({ settings: s, file }: LoadedSettings, host: Host, version: string): Promise<number> {
  const log = createLogger(s.AGENT_SUPERVISOR_LOG_LEVEL);
  const { clock } = host;
  const metrics = createMetrics({ eventLoopResolutionMs: s.METRICS_EVENT_LOOP_RESOLUTION_MS });
  const p = await assemble(s, host, log, metrics, version);
  // A last resort: every loop below is kept running and never rejects; if a promise still
  // rejects unhandled (a bug), it is logged and counted, and the daemon and its gateway stay up.
  host.onUnhandledRejection?.((reason) => {
    metrics.unhandledRejectionsTotal.inc();
    log.error({ err: reason }, "unhandled promise rejection (a bug); the daemon goes on");
  });
  log.info({ version, configFile: file ?? null, dataDir: s.AGENT_SUPERVISOR_DATA_DIR, runtime: p.launch.runtime }, "agent-supervisor starting");

  const stop = new AbortController();
  // Audit entries SQLite refuses are retried until the very end (the gateway's stop is recorded after `stop`).
  const auditRun = new AbortController();
  p.audit.start(auditRun.signal);
  // systemd: READY=1 once the local API serves (the daemon's own readiness; the gateway's state
  // goes to STATUS=, /readyz and `status`), STATUS= kept current, WATCHDOG=1 while healthy.
  const systemdLog = log.child({ subsystem: "systemd" });
  const notifier = createSystemdNotifier({ env: host.env, log: systemdLog });
  // The systemd pings read the loop tick of `health` only once running, after it exists.
  const watchdogs = buildWatchdogs(p, notifier, () => health.loopTickAt);
  const health = new HealthView(p, watchdogs.all, watchdogs.memory);
  const status = new StatusReporter({ notifier, clock, log: systemdLog, line: () => health.statusLine() });
  p.links.status = status;
  const upgrader = new UpgradeRunner(p, withUpgradeFailpoint(upgradePorts(p), upgradeFailpoint(host.env), log.child({ subsystem: "upgrade" })));
  health.versions = () => upgrader.versions();
  const link = s.CONTROL_PLANE_URL !== undefined ? buildControlPlaneLink(p, health, upgrader) : undefined;

  health.startTicking();
  const app = createHealthApp({
    turns: p.service,
    snapshot: () => health.snapshot(),
    loopTickAt: () => health.loopTickAt,
    disk: () => statfsDiskUsage(s.AGENT_SUPERVISOR_DATA_DIR),
    metrics,
    now: clock.now,
    token: p.apiToken,
    maxMessageBytes: s.TURN_MAX_MESSAGE_BYTES,
    rssTrend: (since) => p.events.rssTrend(since),
    auditEvents: (q) => p.auditStore.list(q),
    thresholds: {
      diskWarnFreeRatio: s.DISK_WARN_FREE_PERCENT / 100,
      diskFailFreeRatio: s.DISK_FAIL_FREE_PERCENT / 100,
      diskWarnFreeBytes: s.DISK_WARN_FREE_MB * 1024 * 1024,
      diskFailFreeBytes: s.DISK_FAIL_FREE_MB * 1024 * 1024,
    },
    service: { version, releaseId: version, serviceId: "agent-supervisor", description: "OpenClaw gateway supervisor" },
    log: log.child({ subsystem: "http" }),
  });
  const http = await startHttpServer({ app, host: s.AGENT_SUPERVISOR_HTTP_HOST, port: s.AGENT_SUPERVISOR_HTTP_PORT });
  log.info({ host: s.AGENT_SUPERVISOR_HTTP_HOST, port: http.port }, "local API listening");
  const life = installSignalHandlers(p, { stopClaiming: () => link?.sync.stopClaiming(), notifyStopping: () => void status.sendNow({ STOPPING: "1" }) });
  // The unit is up once the local API serves; never held "activating" (and killed by
  // TimeoutStartSec) for a gateway that is slow or cannot start (issue 8).
  void status.sendNow({ READY: "1" });
  // Each loop is kept running: one that throws is logged and started again after a backoff.
  const keep = (name: string, loop: () => Promise<void>, o: { signal?: AbortSignal; onCrash?: () => void } = {}) =>
    keepRunning(name, loop, { signal: o.signal ?? stop.signal, clock, random: host.random, log, onCrash: o.onCrash });
  const reporting = keep("systemd-status", () => status.run(stop.signal));
  // The watchdogs start here, as systemd's pings must (the first one is due within WatchdogSec).
  const watching = Promise.all(watchdogs.all.map((w) => keep(`watchdog:${w.name}`, () => w.run(stop.signal))));

  // With a control plane and no provider keys yet, read its secrets before the first start, so the
  // gateway does not begin held in "failed: config" (bounded: the poll loop keeps trying anyway).
  if (link && p.launch.secrets === undefined) {
    const waited = new AbortController();
    await Promise.race([link.poller.pollOnce(), clock.sleep(FIRST_SECRETS_WAIT_MS, waited.signal), life.drained]);
    waited.abort();
  }
  if (life.stopping) stop.abort(); // stopped before anything started: start nothing
  // A crashed supervisor loop may leave its gateway running: kill it; the next loop starts another.
  const supervising = keep("supervisor", () => p.supervisor.run(stop.signal), { onCrash: () => p.supervisor.killNow() });
  const delivering = keep("delivery", () => p.delivery.run(stop.signal));
  // One desired OpenClaw version at a time (issue 14); a stop releases a gateway it holds.
  const upgrading = keep("upgrade", () => upgrader.run(stop.signal));
  // The sync loops stop only after the drain, so results of drained turns are still reported.
  const syncStop = new AbortController();
  const syncing = link
    ? Promise.all([
        keep("sync", () => link.sync.run(syncStop.signal), { signal: syncStop.signal }),
        keep("secrets-poll", () => link.poller.run(syncStop.signal), { signal: syncStop.signal }),
        keep("audit-outbox", () => link.audit.run(syncStop.signal), { signal: syncStop.signal }),
      ])
    : undefined;
  // Memory decay of the workspace on its schedule (a pass also logs MEMORY.md over budget).
  const decaying = s.DECAY_ENABLED
    ? keep("decay", () => runDecaySchedule(
        {
          scheduler: cron,
          expression: s.DECAY_SCHEDULE,
          workspaceDir: p.files.gateway.workspaceDir,
          db: p.db,
          policy: decayPolicyFrom(s),
          now: clock.now,
          log: log.child({ subsystem: "decay" }),
          memoryBudgetChars: s.MEMORY_BOOTSTRAP_MAX_CHARS,
          writes: p.writeFaults,
          // The workspace is the gateway user's with the boundary on: trash is removed as that user.
          removeTree: treeRemover(host.spawn, () => {
            const b = p.boundary();
            return b.on ? b : undefined;
          }),
          sleep: clock.sleep,
          random: host.random,
          audit: p.audit,
        },
        stop.signal,
      ))
    : undefined;
  installRefreshHandler(p, link ? () => link.poller.refresh() : undefined);

  await life.drained;
  stop.abort();
  await Promise.all([supervising, delivering, upgrading, decaying, watching, reporting]);
  syncStop.abort();
  await syncing;
  p.connection.disconnect();
  health.stopTicking();
  p.service.endWaits(); // pending long-polls answer now (POST ?wait= gets its turn id), before the API closes
  await http.close();
  auditRun.abort();
  p.audit.stop();
  p.db.close();
  log.info("agent-supervisor stopped");
  return EXIT.OK;
}
