/**
 * The real-gateway side of the suite: a mock model, a reference control plane on a SQLite file (so
 * it can be closed and restarted on the same port), one site and its daemon running the real
 * OpenClaw gateway. Booting takes about 15-20 s, so the real cases share one session; the pool
 * keeps at most one real gateway running (the machine has 2 cores).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startReferenceControlPlane, type RunningControlPlane, type StartReferenceControlPlaneOptions } from "../../src/dev/control-plane/server.ts";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { processGroupRss } from "../../src/watchdogs/memory.ts";
import { makeSite, startDaemon, until, waitReady, type Daemon, type Site } from "../../test/e2e/harness.ts";
import { watchAudit } from "./audit-check.ts";
import { submit, turnRows } from "./observe.ts";
import { saveLogs, stopDaemon } from "./stand-in.ts";

export const RT = "faults-rt";
export const ACC = "faults-acct";
const SERVICE_TOKEN = "faults-service-token-0123456789";
const ADMIN_TOKEN = "faults-admin-token-0123456789ab";
export const BOOT_MS = 240_000;

/** Liveness settings of the real sessions: a hang is declared after 3 probes of 2 s every 2 s. */
export const LIVENESS = { LIVENESS_INTERVAL_MS: "2000", LIVENESS_TIMEOUT_MS: "2000", LIVENESS_FAILURES: "3" } as const;

/** A short error-rate window, so the error-rate case sees the check rise and clear within a minute or two. */
export const ERROR_RATE = { ERROR_RATE_WINDOW_MS: "60000", ERROR_RATE_MIN_TURNS: "8" } as const;

/** Settings of every real session beyond makeSite's (ports, data dir, mock model). */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = {
  AGENT_SUPERVISOR_LOG_LEVEL: "info",
  GATEWAY_STOP_GRACE_MS: "5000",
  DECAY_ENABLED: "false",
  ...LIVENESS,
  // The cases run one after another, some right after a gateway restart: a short startup window.
  STARTUP_GRACE_MS: "5000",
  ...ERROR_RATE,
};

/** Control-plane settings of the shared session (with CONTROL_PLANE_URL, TOKEN, RUNTIME_ID, ACCOUNT_ID). */
export const CP_SETTINGS: Readonly<Record<string, string>> = {
  CLAIM_WAIT_MS: "5000",
  CLAIM_IDLE_JITTER_MS: "100",
  HEARTBEAT_INTERVAL_MS: "2000",
  STATUS_INTERVAL_MS: "2000",
  SYNC_BACKOFF_MAX_MS: "2000",
};

/** Gateway RSS (MiB) observed while the shared session booted and ran its first turn. */
export type RssCalibration = { bootPeakMb: number; idleMb: number; afterFirstTurnMb: number };

/** A running daemon with the real gateway (and, for the shared session, the control plane). */
export class RealSession {
  readonly model: MockModel;
  readonly site: Site;
  /** Settings passed in the daemon's environment (they win over the env file). */
  readonly env: Record<string, string>;
  daemon: Daemon;
  cp: RunningControlPlane | undefined;
  readonly cpOptions: StartReferenceControlPlaneOptions | undefined;
  calibration: RssCalibration | undefined;
  /** Logs of daemons this session ran before the current one. */
  readonly pastLogs: string[] = [];

  private constructor(model: MockModel, site: Site, daemon: Daemon, env: Record<string, string>, cp?: RunningControlPlane, cpOptions?: StartReferenceControlPlaneOptions) {
    this.model = model;
    this.site = site;
    watchAudit(site);
    this.daemon = daemon;
    this.env = env;
    this.cp = cp;
    this.cpOptions = cpOptions;
  }

  /**
   * Boot a session in `dir`: with `controlPlane`, provider keys come from the reference control
   * plane's secrets (as on a fleet) and turns can be enqueued there as well as locally.
   * Unless `warmUp` is false, runs a warm-up turn and samples the gateway's RSS through boot and
   * that turn (the gateway loads its agent runtime lazily on the first turn).
   */
  static async boot(dir: string, runtimeDir: string, o: { controlPlane: boolean; settings: Record<string, string>; log: (l: string) => void; warmUp?: boolean }): Promise<RealSession> {
    const model = await startMockModel();
    let cp: RunningControlPlane | undefined;
    let cpOptions: StartReferenceControlPlaneOptions | undefined;
    const settings: Record<string, string> = { ...SESSION_SETTINGS, ...o.settings };
    if (o.controlPlane) {
      mkdirSync(join(dir, "cp"), { recursive: true });
      cpOptions = { serviceToken: SERVICE_TOKEN, adminToken: ADMIN_TOKEN, runtimes: [{ runtimeId: RT, accountId: ACC }], leaseMs: 60_000, dbPath: join(dir, "cp", "cp.db") };
      cp = await startReferenceControlPlane(cpOptions);
      cpOptions = { ...cpOptions, port: cp.port };
      cp.setSecrets(RT, { compat: { baseUrl: model.url, apiKey: "sk-faults-compat", model: "echo-1" } });
      Object.assign(settings, {
        OPENAI_COMPAT_BASE_URL: "",
        OPENAI_COMPAT_API_KEY: "",
        CONTROL_PLANE_URL: cp.url,
        CONTROL_PLANE_TOKEN: SERVICE_TOKEN,
        RUNTIME_ID: RT,
        ACCOUNT_ID: ACC,
        ...CP_SETTINGS,
      });
    }
    const site = await makeSite(dir, runtimeDir, model.url, settings);
    const daemon = startDaemon(site);
    const session = new RealSession(model, site, daemon, {}, cp, cpOptions);
    const samples: { at: number; mb: number }[] = [];
    const sampler = setInterval(() => {
      const pid = session.gatewayPidFromFile();
      const bytes = pid === null ? null : processGroupRss(pid);
      if (bytes !== null) samples.push({ at: Date.now(), mb: bytes / 1024 / 1024 });
    }, 250);
    try {
      const t0 = Date.now();
      await waitReady(site, BOOT_MS);
      const readyAt = Date.now();
      o.log(`real gateway ready after ${readyAt - t0} ms`);
      if (o.warmUp === false) {
        clearInterval(sampler);
        return session;
      }
      await new Promise((r) => setTimeout(r, 1500));
      const idleMb = samples.at(-1)?.mb ?? 0;
      const warm = await submit(site, "warm-up", "warm-up");
      await until("the warm-up turn", () => turnRows(site, [warm.id]).get(warm.id)?.state === "done", BOOT_MS, 100);
      await new Promise((r) => setTimeout(r, 1500));
      const bootPeakMb = Math.max(0, ...samples.filter((s) => s.at <= readyAt).map((s) => s.mb));
      const afterFirstTurnMb = Math.max(0, ...samples.filter((s) => s.at > readyAt).map((s) => s.mb));
      session.calibration = { bootPeakMb: Math.round(bootPeakMb), idleMb: Math.round(idleMb), afterFirstTurnMb: Math.round(afterFirstTurnMb) };
      o.log(`gateway RSS: boot peak ${session.calibration.bootPeakMb} MiB, idle ${session.calibration.idleMb} MiB, after the first turn ${session.calibration.afterFirstTurnMb} MiB`);
    } catch (err) {
      clearInterval(sampler);
      await session.stop();
      throw err;
    }
    clearInterval(sampler);
    return session;
  }

  /** The gateway pid from the daemon's pid file, or null. */
  gatewayPidFromFile(): number | null {
    try {
      return (JSON.parse(readFileSync(join(this.site.dataDir, "gateway.pid"), "utf8")) as { pid: number }).pid;
    } catch {
      return null;
    }
  }

  /** Start a new daemon process on the same site (the previous one must have exited). */
  relaunch(env: Record<string, string> = {}): Daemon {
    saveLogs(this.site, this.daemon.logs);
    this.pastLogs.push(...this.daemon.logs);
    this.daemon = startDaemon(this.site, { ...this.env, ...env });
    return this.daemon;
  }

  /**
   * Start the control plane again on the same port and database file (close it first), with
   * `over` replacing options for this run only (e.g. a skewed clock `now`).
   */
  async restartControlPlane(over: Partial<StartReferenceControlPlaneOptions> = {}): Promise<RunningControlPlane> {
    if (!this.cpOptions) throw new Error("this session has no control plane");
    this.cp = await startReferenceControlPlane({ ...this.cpOptions, ...over });
    return this.cp;
  }

  /** Every log line of every daemon of this session. */
  allLogs(): string[] {
    return [...this.pastLogs, ...this.daemon.logs];
  }

  /** Stop the daemon (drain), its gateway, the control plane and the model. */
  async stop(): Promise<void> {
    await stopDaemon(this.site, this.daemon);
    await this.cp?.close();
    await this.model.close();
  }
}

/**
 * The shared real-gateway session, booted on first use. `release()` stops it so another session
 * (e.g. the memory case's own) can run without two gateways at once.
 */
export class RealPool {
  readonly #runtimeDir: string;
  readonly #dir: string;
  readonly #log: (l: string) => void;
  #session: Promise<RealSession> | undefined;
  /** RSS measured when the shared session booted (kept after release). */
  calibration: RssCalibration | undefined;

  constructor(runtimeDir: string, dir: string, log: (l: string) => void) {
    this.#runtimeDir = runtimeDir;
    this.#dir = dir;
    this.#log = log;
  }

  /** The shared session (with the control plane), booting it if needed. */
  shared(): Promise<RealSession> {
    this.#session ??= (async () => {
      const dir = join(this.#dir, `shared-${Date.now()}`);
      mkdirSync(dir, { recursive: true });
      this.#log("booting the shared real-gateway session");
      const s = await RealSession.boot(dir, this.#runtimeDir, { controlPlane: true, settings: {}, log: this.#log });
      this.calibration = s.calibration;
      return s;
    })();
    this.#session.catch(() => (this.#session = undefined));
    return this.#session;
  }

  /** Stop the shared session if it runs. */
  async release(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) await (await s.catch(() => undefined))?.stop();
  }

  /** A directory for a session of its own. */
  dirFor(name: string): string {
    const dir = join(this.#dir, `${name}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  get runtimeDir(): string {
    return this.#runtimeDir;
  }
}
