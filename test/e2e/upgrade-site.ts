/**
 * Shared by the version change e2e files (upgrade*.e2e.test.ts): the runtimes 2026.9.5 (installed
 * once into `.cache/upgrade-runtime`) and 2026.9.6 (the global setup's), a site runtime directory
 * linking both, a stand-in 2026.9.7 that cannot start, and readers of what the daemon reports.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventsSince } from "../../bench/faults/observe.ts";
import { CLI, getJson, ROOT, runCommand, type Site } from "./harness.ts";

/** The line the stand-in 2026.9.7 prints before it exits 1. */
export const STAND_IN_LINE = "Error: stand-in openclaw 2026.9.7 cannot start: state schema 99 is not supported";

const RUNTIME95_DATA = join(ROOT, ".cache", "upgrade-runtime");
/** flock(1) file serialising the installs of 2026.9.5 (the global setup's and the upgrade files'). */
const RUNTIME95_LOCK = join(ROOT, ".cache", "upgrade-runtime.lock");
const INSTALL95 = ["--config", "/dev/null", "openclaw", "install", "--version", "2026.9.5"];
const INSTALL95_TIMEOUT_MS = 15 * 60_000;

/**
 * Install 2026.9.5 into the shared cache once (`.cache/upgrade-runtime`); returns its package
 * directory. Waits, under a flock(1) on `.cache/upgrade-runtime.lock`, for an install the global
 * setup started (installRuntime95InBackground); when it is installed the CLI says so and does nothing.
 * @throws Error when the install fails or takes over 15 minutes
 */
export async function runtime95(): Promise<string> {
  const dir = join(RUNTIME95_DATA, "runtime", "openclaw-2026.9.5");
  mkdirSync(RUNTIME95_DATA, { recursive: true });
  const res = await runCommand("flock", [RUNTIME95_LOCK, CLI, ...INSTALL95], {
    env: { ...(process.env as Record<string, string>), AGENT_SUPERVISOR_DATA_DIR: RUNTIME95_DATA },
    timeoutMs: INSTALL95_TIMEOUT_MS,
  });
  if (res.status !== 0 || !existsSync(join(dir, "node_modules", "openclaw", "openclaw.mjs"))) {
    throw new Error(`openclaw install --version 2026.9.5 failed (exit ${res.status}): ${res.stderr}`);
  }
  return dir;
}

/**
 * Start installing 2026.9.5 (as runtime95, under the same lock) without waiting for it, for the
 * global setup: on a clean checkout the install (~1 minute, mostly the registry) then runs beside
 * the first test files instead of inside the first upgrade file, on the chain of files that boot a
 * real gateway one at a time (heavy-lock.ts). Its output is discarded; runtime95 reports a failure.
 * @returns stop: kills the install if it still runs (the next install cleans up after it)
 */
export function installRuntime95InBackground(): { stop(): void } {
  mkdirSync(RUNTIME95_DATA, { recursive: true });
  const child = spawn("flock", [RUNTIME95_LOCK, CLI, ...INSTALL95], {
    env: { ...process.env, AGENT_SUPERVISOR_DATA_DIR: RUNTIME95_DATA },
    stdio: "ignore",
    detached: true, // its own process group: stop() ends flock, the CLI and npm together
  });
  child.once("error", () => {}); // no flock(1): runtime95 fails the upgrade files saying so
  return {
    stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
  };
}

/** A stand-in openclaw 2026.9.7 in the site's runtime: its entry prints an error line and exits 1. */
export function standIn(site: Site): void {
  const dir = join(site.dataDir, "runtime", "openclaw-2026.9.7", "node_modules", "openclaw");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "openclaw.mjs"), `console.error(${JSON.stringify(STAND_IN_LINE)});\nprocess.exit(1);\n`);
}

/** A runtime directory of links to the real versions, current.json naming 2026.9.5. */
export function runtimeDir(dir: string, e2e: string, openclaw95: string, dataDir: string): string {
  const rt = join(dir, "rt");
  mkdirSync(rt);
  symlinkSync(join(e2e, "node-24.21.0"), join(rt, "node-24.21.0"));
  symlinkSync(openclaw95, join(rt, "openclaw-2026.9.5"));
  symlinkSync(join(e2e, "openclaw-2026.9.6"), join(rt, "openclaw-2026.9.6"));
  const through = join(dataDir, "runtime"); // as the daemon sees it (makeSite links data/runtime here)
  writeFileSync(join(rt, "current.json"), JSON.stringify({
    openclawVersion: "2026.9.5", nodeVersion: "24.21.0", npmVersion: "11.21.2",
    nodePath: join(through, "node-24.21.0", "bin", "node"),
    entryPath: join(through, "openclaw-2026.9.5", "node_modules", "openclaw", "openclaw.mjs"),
    installedAt: new Date().toISOString(),
  }));
  return rt;
}

/** The `openclaw:version` check of /health. */
export type VersionCheck = { status: string; output?: string; observedValue: string | null; desired: string | null; lastFailed: { version: string; reason: string } | null; step: string | null };

/** The site's `openclaw:version` check (undefined while the API does not answer). */
export async function versions(site: Site): Promise<VersionCheck | undefined> {
  const doc = await getJson(site, "/health").catch(() => undefined);
  return doc?.body.checks["openclaw:version"]?.[0];
}

/** The `upgrade:<step>` gateway events, oldest first. */
export function upgradeEvents(site: Site): string[] {
  return eventsSince(site, 0).map((e) => e.state).filter((state) => state.startsWith("upgrade:"));
}

/** The reasons of the gateway's `stopping` events at or after `sinceMs` (epoch ms), oldest first. */
export function stopReasons(site: Site, sinceMs: number): string[] {
  return eventsSince(site, sinceMs).filter((e) => e.state === "stopping").map((e) => e.reason ?? "");
}
