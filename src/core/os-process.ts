/**
 * Facts about other processes, from the kernel: whether a pid exists, and fields of
 * /proc/<pid>/stat (proc(5)); and the injected `spawn` every child goes through.
 */
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";

/** `child_process.spawn` (the subset used), injected so tests can substitute a stand-in child. */
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** `kill(pid, 0)`: true unless the process does not exist (EPERM means it exists but is not ours). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name, so that index 0 is field 3 (state),
 * index 2 field 5 (pgrp) and index 19 field 22 (starttime). The command name (field 2) may hold
 * spaces and parentheses, hence the parse after the last ')'.
 * @returns null when the process is gone or /proc is unavailable
 */
export function procStatFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** How a child process ended. */
export type ProcessEnd = { code: number | null; signal: NodeJS.Signals | null };

/**
 * Resolves once `child` has exited and its output has been read to the end ("close"), or
 * `drainMs` after its exit when a grandchild still holds its pipes open, so that a child's last
 * lines are not lost and a leftover process cannot hang the caller. Never rejects; it does not
 * resolve while the child runs (callers bound that with a timeout).
 */
export function exitedAndDrained(child: ChildProcess, drainMs: number): Promise<ProcessEnd> {
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      const grace = setTimeout(() => resolve({ code, signal }), drainMs);
      child.once("close", () => {
        clearTimeout(grace);
        resolve({ code, signal });
      });
    });
  });
}
