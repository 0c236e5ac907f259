/**
 * The `agent-supervisor openclaw install [--version V]` command body, for cli/openclaw.ts to wire:
 * settings in, progress lines and the outcome line to `writeErr` (stderr), typed errors out
 * (main.ts maps them to exit codes). Holds no I/O of its own beyond what it is given.
 */
import { installOpenclaw, type InstallResult } from "./install.ts";
import { formatInstallResult, formatProgress } from "./progress.ts";
import type { SpawnFn } from "../core/os-process.ts";
import type { FetchLike } from "./registry.ts";

/** What {@link runOpenclawInstall} needs; cli/openclaw.ts passes the real fetch, spawn, clock and env. */
export type InstallCommandDeps = {
  settings: { AGENT_SUPERVISOR_DATA_DIR: string; OPENCLAW_VERSION: string; NPM_REGISTRY: string };
  /** `--version`; default OPENCLAW_VERSION. */
  version?: string | undefined;
  fetch: FetchLike;
  spawn: SpawnFn;
  /** Wall clock, ms since the epoch. */
  now: () => number;
  /** Environment for the npm child (usually `process.env`). */
  env: NodeJS.ProcessEnv;
  /** Writes one line (no trailing newline) to stderr. */
  writeErr: (line: string) => void;
  signal?: AbortSignal;
};

/**
 * Install (or confirm) the managed runtime, printing progress.
 * @returns the install outcome (the caller exits 0)
 * @throws whatever {@link installOpenclaw} throws
 */
export async function runOpenclawInstall(d: InstallCommandDeps): Promise<InstallResult> {
  const result = await installOpenclaw({
    dataDir: d.settings.AGENT_SUPERVISOR_DATA_DIR,
    openclawVersion: d.version ?? d.settings.OPENCLAW_VERSION,
    registry: d.settings.NPM_REGISTRY,
    fetch: d.fetch,
    spawn: d.spawn,
    now: d.now,
    env: d.env,
    signal: d.signal,
    onProgress: (event) => d.writeErr(formatProgress(event)),
  });
  d.writeErr(formatInstallResult(result, d.settings.OPENCLAW_VERSION));
  return result;
}
