/**
 * Stand-in gateways: small Node scripts the daemon runs instead of OpenClaw (OPENCLAW_NODE is this
 * Node, OPENCLAW_ENTRY the script), for faults the real gateway cannot be made to show on demand.
 * The daemon gives its child a fresh environment, so each script carries its behaviour as
 * constants and records what happened in files beside itself.
 *
 * The daemon runs `<node> <script> gateway run --port P --bind loopback`, and after an exit 78
 * `<node> <script> doctor --fix --yes --non-interactive`.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeSite, killSiteGateway, startDaemon, until, getJson, type Daemon, type Site } from "../../test/e2e/harness.ts";
import { watchAudit } from "./audit-check.ts";

/** What the stand-in does when started as the gateway. */
export type StandInBehaviour = {
  /** Exit with this code at once instead of listening. */
  exitCode?: number;
  /** Ignore SIGTERM (the daemon must SIGKILL it after GATEWAY_STOP_GRACE_MS). */
  ignoreSigterm?: boolean;
};

/**
 * Write the stand-in script into `dir`. As the gateway it appends `<epoch ms> <pid>` to
 * `starts.log`, then either exits (`exits.log` gets the time) or listens on the port and accepts
 * connections without ever answering (no HTTP, no WebSocket upgrade, no hello-ok). As `doctor` it
 * appends to `doctor.log` and exits 0.
 * @returns the script's path
 */
export function writeStandIn(dir: string, b: StandInBehaviour): string {
  const path = join(dir, "stand-in-gateway.mjs");
  writeFileSync(
    path,
    `import { appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
const here = import.meta.dirname;
const note = (file, text) => appendFileSync(join(here, file), Date.now() + " " + text + "\\n");
const args = process.argv.slice(2);
if (args[0] === "doctor") {
  note("doctor.log", args.join(" "));
  process.exit(0);
}
note("starts.log", String(process.pid));
const exitCode = ${JSON.stringify(b.exitCode ?? null)};
if (exitCode !== null) {
  note("exits.log", String(exitCode));
  process.exit(exitCode);
}
if (${JSON.stringify(b.ignoreSigterm ?? false)}) process.on("SIGTERM", () => note("sigterm.log", "ignored"));
const port = Number(args[args.indexOf("--port") + 1]);
const sockets = new Set();
createServer((s) => {
  sockets.add(s);
  s.on("error", () => {});
  s.on("close", () => sockets.delete(s));
}).listen(port, "127.0.0.1");
setInterval(() => {}, 1 << 30);
`,
  );
  return path;
}

/** Lines `<epoch ms> <text>` of one of the stand-in's record files (empty if none). */
export function standInRecords(dir: string, file: "starts.log" | "exits.log" | "doctor.log" | "sigterm.log"): { at: number; text: string }[] {
  let text: string;
  try {
    text = readFileSync(join(dir, file), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const sp = l.indexOf(" ");
      return { at: Number(l.slice(0, sp)), text: l.slice(sp + 1) };
    });
}

/** A daemon site running a stand-in gateway. */
export type StandInSite = { site: Site; daemon: Daemon; dir: string; env: Record<string, string> };

/**
 * Make a site in `dir` whose gateway is the stand-in, and start its daemon. The provider points at
 * an address nothing listens on (the stand-in never calls a model; the daemon only needs one
 * configured). `settings` override the env file's defaults.
 */
export async function startStandIn(dir: string, runtimeDir: string, behaviour: StandInBehaviour, settings: Record<string, string>): Promise<StandInSite> {
  const script = writeStandIn(dir, behaviour);
  const site = await makeSite(dir, runtimeDir, "http://127.0.0.1:9/v1", {
    AGENT_SUPERVISOR_LOG_LEVEL: "info",
    OPENCLAW_NODE: process.execPath,
    OPENCLAW_ENTRY: script,
    // Nothing in these cases should be decided by the (slow) defaults.
    GATEWAY_STOP_GRACE_MS: "1000",
    RESTART_BACKOFF_INITIAL_MS: "500",
    RESTART_BACKOFF_MAX_MS: "2000",
    DECAY_ENABLED: "false",
    ...settings,
  });
  watchAudit(site);
  const daemon = startDaemon(site);
  await until("the daemon's local API", async () => (await getJson(site, "/livez")).status === 200, 30_000, 50);
  return { site, daemon, dir, env: {} };
}

/**
 * SIGTERM the daemon (SIGKILL after 10 s), then kill whatever gateway its pid file still names.
 * The daemon's log lines are appended to `<site dir>/daemon.log` (kept with `run.ts --keep`).
 */
export async function stopDaemon(site: Site, daemon: Daemon): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let exit: { code: number | null; signal: NodeJS.Signals | null };
  if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) {
    daemon.proc.kill("SIGTERM");
    const timer = setTimeout(() => daemon.proc.kill("SIGKILL"), 10_000);
    exit = await daemon.exited;
    clearTimeout(timer);
  } else exit = await daemon.exited;
  killSiteGateway(site);
  saveLogs(site, daemon.logs);
  return exit;
}

/** Append log lines to `<site dir>/daemon.log`. */
export function saveLogs(site: Site, lines: readonly string[]): void {
  appendFileSync(join(site.dir, "daemon.log"), lines.length > 0 ? `${lines.join("\n")}\n` : "");
}
