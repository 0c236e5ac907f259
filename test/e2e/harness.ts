/**
 * End-to-end harness: runs the real daemon (bin/agent-supervisor run) as a child process against
 * the real OpenClaw gateway and a mock model server on loopback.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { GatewayClient } from "@openclaw/gateway-client";
import { processStartTicks } from "../../src/supervisor/child.ts";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "bin", "agent-supervisor");

/**
 * A free TCP port on 127.0.0.1 (closed again before returning), chosen at random BELOW the
 * kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default).
 * A site keeps its ports across daemon and gateway restarts for minutes; vitest runs two files
 * at once, and a port from the ephemeral range can meanwhile be handed to another process's
 * outgoing connection or `listen(0)` (seen in CI: a restarted daemon got EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the default range
  }
  const min = 10_000;
  const span = Math.max(1000, low - min);
  for (let i = 0; i < 50; i++) {
    const port = min + Math.floor(Math.random() * span);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${min}-${min + span - 1} after 50 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** One daemon installation: a data dir with the cached runtime linked in, and its env file. */
export type Site = { dir: string; dataDir: string; envFile: string; httpPort: number; gatewayPort: number };

/** Make a site under `dir` that uses the runtime installed by the global setup. */
export async function makeSite(dir: string, runtimeDir: string, modelUrl: string, extra: Record<string, string> = {}): Promise<Site> {
  const dataDir = join(dir, "data");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  symlinkSync(runtimeDir, join(dataDir, "runtime"));
  const httpPort = await freePort();
  const gatewayPort = await freePort();
  const env: Record<string, string> = {
    AGENT_SUPERVISOR_DATA_DIR: dataDir,
    AGENT_SUPERVISOR_HTTP_PORT: String(httpPort),
    AGENT_SUPERVISOR_LOG_LEVEL: "debug",
    OPENCLAW_GATEWAY_PORT: String(gatewayPort),
    OPENAI_COMPAT_BASE_URL: modelUrl,
    OPENAI_COMPAT_MODEL: "echo-1",
    OPENAI_COMPAT_API_KEY: "sk-e2e-compat-secret-value",
    TMP_DIR: join(dir, "tmp"),
    ...extra,
  };
  mkdirSync(env.TMP_DIR!, { recursive: true });
  const envFile = join(dir, "agent-supervisor.env");
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
  return { dir, dataDir, envFile, httpPort, gatewayPort };
}

/** A running daemon process. */
export type Daemon = {
  proc: ChildProcess;
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/**
 * Start `agent-supervisor run` for a site (plus process-level `env`, e.g. NOTIFY_SOCKET); its
 * stdout/stderr lines are collected. `runAs`: a command line the daemon runs under (e.g. setpriv
 * switching to another user), before the CLI. `cli`: the program to run, by default the development
 * launcher bin/agent-supervisor; the single executable (dist/agent-supervisor-linux-<arch>) takes
 * the same arguments.
 */
export function startDaemon(site: Site, env: Record<string, string> = {}, runAs: string[] = [], cli: string = CLI): Daemon {
  const [command, ...args] = [...runAs, cli, "--config", site.envFile, "run"];
  const proc = spawn(command!, args, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: site.dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  for (const s of [proc.stdout!, proc.stderr!]) {
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      logs.push(...lines);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once("exit", (code, signal) => res({ code, signal })),
  );
  return { proc, logs, exited };
}

/** The local API's bearer token. */
export function apiToken(site: Site): string {
  return readFileSync(join(site.dataDir, "api.token"), "utf8").trim();
}

/** GET a JSON document from the daemon. */
export async function getJson(site: Site, path: string, auth = false): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${site.httpPort}${path}`, {
    headers: auth ? { authorization: `Bearer ${apiToken(site)}` } : {},
  });
  return { status: res.status, body: await res.json() };
}

/** POST a turn; returns its id. */
export async function postTurn(site: Site, conversationId: string, message: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${site.httpPort}/v1/turns`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken(site)}`, "content-type": "application/json" },
    body: JSON.stringify({ conversationId, message }),
  });
  if (res.status !== 202) throw new Error(`POST /v1/turns: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { turnId: string }).turnId;
}

/** Wait for the turn to be done or failed (long-polls). */
export async function waitTurn(site: Site, turnId: string, timeoutMs: number): Promise<any> {
  return until(`turn ${turnId} to finish`, async () => {
    const { body } = await getJson(site, `/v1/turns/${turnId}?wait=10000`, true);
    return body.state === "done" || body.state === "failed" ? body : undefined;
  }, timeoutMs, 0);
}

/** Wait until /readyz says ready; returns the /health document. */
export async function waitReady(site: Site, timeoutMs = 180_000): Promise<any> {
  await until("daemon /readyz", async () => (await getJson(site, "/readyz")).status === 200, timeoutMs, 500);
  return (await getJson(site, "/health")).body;
}

/** The gateway's pid as /health reports it. */
export async function gatewayPid(site: Site): Promise<number> {
  const doc = (await getJson(site, "/health")).body;
  const pid = doc.checks["gateway:process"][0].pid ?? doc.checks["gateway:process"][0].observedValue?.pid;
  if (typeof pid !== "number") throw new Error(`no gateway pid in /health: ${JSON.stringify(doc.checks["gateway:process"])}`);
  return pid;
}

/**
 * A client of the site's gateway (independent of the daemon), returned once hello-ok arrived;
 * the caller stops it. Rejects with the connect error (e.g. the gateway is not up).
 */
export async function connectGateway(site: Site): Promise<GatewayClient> {
  const token = readFileSync(join(site.dataDir, "gateway.token"), "utf8").trim();
  const ready = Promise.withResolvers<void>();
  const client = new GatewayClient({
    url: `ws://127.0.0.1:${site.gatewayPort}`,
    token,
    minProtocol: 4,
    maxProtocol: 4,
    deviceIdentity: null,
    onHelloOk: () => ready.resolve(),
    onConnectError: (e) => ready.reject(e),
  });
  client.start();
  try {
    await ready.promise;
  } catch (err) {
    client.stop();
    throw err;
  }
  return client;
}

/** One request straight to the site's gateway (independent of the daemon), on a fresh connection. */
export async function gatewayRequest(site: Site, method: string, params: unknown): Promise<any> {
  const client = await connectGateway(site);
  try {
    return await client.request(method, params);
  } finally {
    client.stop();
  }
}

/** Read a session transcript straight from the gateway (independent of the daemon). */
export function chatHistory(site: Site, sessionKey: string): Promise<any> {
  return gatewayRequest(site, "chat.history", { sessionKey, limit: 100 });
}

/**
 * Kill the gateway a site's pid file names (cleanup after a test), only if the process at that pid
 * started when the file says (`startTicks`, as the daemon's own orphan reaping checks): the file
 * outlives its gateway, and pids recycle within a test run (pid_max is 32768 here).
 */
export function killSiteGateway(site: Site): void {
  try {
    const { pid, startTicks } = JSON.parse(readFileSync(join(site.dataDir, "gateway.pid"), "utf8")) as { pid: number; startTicks: number | null };
    if (startTicks === null || processStartTicks(pid) !== startTicks) return;
    process.kill(-pid, "SIGKILL");
  } catch {
    // no pid file or already gone
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Test teardown: SIGKILL the daemon if it still runs, then whatever gateway its site's pid file names. */
export async function killDaemon(site: Site | undefined, daemon: Daemon | undefined): Promise<void> {
  if (daemon && daemon.proc.exitCode === null && daemon.proc.signalCode === null) {
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
  }
  if (site) killSiteGateway(site);
}

/**
 * Run a command without blocking this process (unlike spawnSync, the mock model and control plane
 * a test runs in-process keep answering, e.g. to `doctor`'s provider check); its exit code and output.
 */
export function runCommand(command: string, args: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: opts.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** How a site's daemon is linked to a reference control plane: its service token and identities. */
export type ControlPlaneLink = { url: string; token: string; runtimeId: string; accountId: string };

/**
 * The settings that link a site's daemon to a reference control plane, with loops short enough for
 * tests (a 5 s claim long-poll, 200 ms idle jitter, backoff capped at 1 s); `extra` adds or overrides.
 */
export function controlPlaneEnv(link: ControlPlaneLink, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CONTROL_PLANE_URL: link.url,
    CONTROL_PLANE_TOKEN: link.token,
    RUNTIME_ID: link.runtimeId,
    ACCOUNT_ID: link.accountId,
    CLAIM_WAIT_MS: "5000",
    CLAIM_IDLE_JITTER_MS: "200",
    SYNC_BACKOFF_MAX_MS: "1000",
    ...extra,
  };
}

/**
 * A file's teardown for one site: kill its daemon and gateway (killDaemon), close its peers (the
 * mock model, a control plane, ...; undefined ones are skipped, for a beforeAll that failed
 * early), then remove its directory.
 */
export async function tearDown(site: Site | undefined, daemon: Daemon | undefined, dir: string | undefined, ...peers: ({ close(): unknown } | undefined)[]): Promise<void> {
  await killDaemon(site, daemon);
  for (const p of peers) await p?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
