/**
 * The gateway child process: spawned in its own process group, output drained line by line
 * into the structured log, signalled as a group.
 */
import { procStatFields, type SpawnFn } from "../core/os-process.ts";
import { commandAsUser, type SystemUser } from "./gateway-user.ts";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { redactSecrets } from "../core/redact.ts";

/**
 * What to run. `env` is the complete environment (nothing inherited). `inputsVersion`: the version
 * of the launch inputs (secrets, skills) it was prepared from (launch.ts `GatewayLaunch.inputsVersion`).
 * `runAs`: the gateway's own user and the setpriv that switches to it (gateway-user.ts); absent,
 * it runs as the daemon's user.
 */
export type LaunchSpec = {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  inputsVersion?: number;
  runAs?: { user: SystemUser; setpriv: string } | undefined;
};

/** How a child ended. */
export type ChildExit = { code: number | null; signal: NodeJS.Signals | null };

/** A running gateway child. */
export type RunningChild = {
  pid: number;
  /** Kernel start time of the process (clock ticks since boot), to recognise it after a daemon restart. */
  startTicks: number | null;
  /** Resolves once when the process has exited (never rejects). */
  exited: Promise<ChildExit>;
  /** Signal the whole process group; false if it is already gone. */
  signalGroup(signal: NodeJS.Signals): boolean;
};

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const MAX_LINE = 8192;

/** Strip ANSI colour codes, cap the length and replace every secret value. Pure. */
export function sanitizeLine(line: string, secrets: readonly string[]): string {
  const out = redactSecrets(line.replace(ANSI, ""), secrets);
  return out.length > MAX_LINE ? `${out.slice(0, MAX_LINE)}… [${out.length - MAX_LINE} more chars]` : out;
}

/**
 * Drain a child's stream into `log` line by line (stdout at info, stderr at warn), each line
 * sanitized; `onLine` sees the sanitized line. Whole lines, so a secret is scrubbed even when a
 * pipe read cuts it in two.
 */
export function pipeLines(stream: Readable | null, log: Logger, name: "stdout" | "stderr", secrets: readonly string[], onLine?: (line: string) => void): void {
  if (!stream) return;
  // readline keeps reading whatever we do with the lines, so the child never blocks on a full pipe.
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on("line", (line) => {
    if (line.trim() === "") return;
    const msg = sanitizeLine(line, secrets);
    onLine?.(msg);
    if (name === "stderr") log.warn({ stream: name }, msg);
    else log.info({ stream: name }, msg);
  });
  stream.on("error", () => {});
}

/**
 * Process start time from /proc/<pid>/stat (field 22, clock ticks since boot), or null where
 * /proc is unavailable. Used with the pid to tell our orphan from a recycled pid.
 */
export function processStartTicks(pid: number): number | null {
  const ticks = Number(procStatFields(pid)?.[19]);
  return Number.isFinite(ticks) ? ticks : null;
}

/** Send `signal` to process group `pgid`. @returns false if no such group (ESRCH). */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

/**
 * Spawn the gateway detached (setsid: its own process group and session), stdin closed,
 * stdout/stderr drained into `log`; `onLine` sees each sanitized line (to recognise known errors).
 * @throws Error if the spawn fails synchronously (e.g. the node binary is missing: ENOENT)
 */
export function spawnChild(
  spawn: SpawnFn,
  spec: LaunchSpec,
  log: Logger,
  secrets: readonly string[],
  onLine?: (line: string) => void,
): Promise<RunningChild> {
  return new Promise((resolve, reject) => {
    const run = commandAsUser(spec.runAs, spec.command, spec.args);
    const child = spawn(run.command, run.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<ChildExit>((res) => child.once("exit", (code, signal) => res({ code, signal })));
    child.once("error", (err) => {
      if (child.pid === undefined) reject(err);
      else log.error({ err }, "gateway child error");
    });
    child.once("spawn", () => {
      const pid = child.pid!;
      pipeLines(child.stdout, log, "stdout", secrets, onLine);
      pipeLines(child.stderr, log, "stderr", secrets, onLine);
      resolve({
        pid,
        startTicks: processStartTicks(pid),
        exited,
        signalGroup: (signal) => signalProcessGroup(pid, signal),
      });
    });
  });
}
