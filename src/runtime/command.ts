/**
 * The `agent-supervisor openclaw install [--version V]` command body, for cli/openclaw.ts to wire:
 * settings in, progress lines and the outcome line to `writeErr` (stderr), typed errors out
 * (main.ts maps them to exit codes). Holds no I/O of its own beyond what it is given.
 */
import type { AuditInput, AuditLog } from "../core/audit.ts";
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
  /** The audit trail: `openclaw.install` or `openclaw.switch` by the operator (see {@link installAuditEntry}). Default: none. */
  audit?: AuditLog;
};

/**
 * The audit entry of an install. Pure. `openclaw.install` when a runtime was installed, or the
 * current one confirmed; `openclaw.switch` when the current runtime changed to one already installed.
 */
export function installAuditEntry(r: InstallResult): AuditInput {
  const previous = r.previous?.openclawVersion ?? null;
  const detail = { version: r.record.openclawVersion, nodeVersion: r.record.nodeVersion, previousVersion: previous, status: r.status };
  if (r.status === "already-installed" && previous !== null && previous !== r.record.openclawVersion) {
    return { actor: "operator", action: "openclaw.switch", cause: "agent-supervisor openclaw install", detail };
  }
  return { actor: "operator", action: "openclaw.install", cause: "agent-supervisor openclaw install", detail };
}

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
  d.audit?.record(installAuditEntry(result));
  d.writeErr(formatInstallResult(result, d.settings.OPENCLAW_VERSION));
  return result;
}
