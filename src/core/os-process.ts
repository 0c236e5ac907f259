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
