/**
 * Shared by the version change e2e files (upgrade*.e2e.test.ts): the runtimes 2026.9.5 (installed
 * once into `.cache/upgrade-runtime`) and 2026.9.6 (the global setup's), a site runtime directory
 * linking both, a stand-in 2026.9.7 that cannot start, and readers of what the daemon reports.
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventsSince } from "../../bench/faults/observe.ts";
import { CLI, getJson, ROOT, runCommand, type Site } from "./harness.ts";

/** The line the stand-in 2026.9.7 prints before it exits 1. */
export const STAND_IN_LINE = "Error: stand-in openclaw 2026.9.7 cannot start: state schema 99 is not supported";

/** Install 2026.9.5 into the shared cache once (a second run finds it and does nothing). */
export async function runtime95(): Promise<string> {
  const dataDir = join(ROOT, ".cache", "upgrade-runtime");
  const dir = join(dataDir, "runtime", "openclaw-2026.9.5");
  if (!existsSync(join(dir, "node_modules", "openclaw", "openclaw.mjs"))) {
    const res = await runCommand(CLI, ["--config", "/dev/null", "openclaw", "install", "--version", "2026.9.5"], {
      env: { ...(process.env as Record<string, string>), AGENT_SUPERVISOR_DATA_DIR: dataDir },
      timeoutMs: 15 * 60_000,
    });
    if (res.status !== 0) throw new Error(`openclaw install --version 2026.9.5 failed: ${res.stderr}`);
  }
  return dir;
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
