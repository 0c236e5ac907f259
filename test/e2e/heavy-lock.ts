/**
 * One real gateway at a time across vitest's workers.
 *
 * vitest runs two test files at once (vitest.config.ts `maxWorkers`), so the suite's light files
 * and the droplet test (a container booting its own gateway, mostly waiting on systemd) overlap
 * with the rest. Files that boot the real OpenClaw gateway on this host (or time a daemon's
 * reactions, like the fast fault suite) are CPU-bound on a 2-core machine and have deadlines, so
 * they hold this lock for their whole run: two of them never overlap.
 *
 * The lock is flock(1) (util-linux) on `.cache/heavy.lock`, held by a child process for as long as
 * its stdin is open: when the worker exits, however it exits, the pipe closes and the lock is
 * released, so a crashed worker never leaves it held.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll } from "vitest";

const LOCK = join(resolve(import.meta.dirname, "..", ".."), ".cache", "heavy.lock");

/**
 * Wait for the lock (as long as it takes: await it at the top of the file, where no hook timeout
 * applies), then keep it until the file's last `afterAll` has run.
 * @throws Error when flock(1) cannot be run
 */
export async function holdHeavyLock(): Promise<void> {
  mkdirSync(join(LOCK, ".."), { recursive: true });
  const child = spawn("flock", [LOCK, "sh", "-c", "echo held; exec cat >/dev/null"], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((res, rej) => {
    child.once("error", (e) => rej(new Error(`flock(1) for ${LOCK}: ${e.message}`)));
    child.once("exit", (code) => rej(new Error(`flock(1) for ${LOCK} exited ${code} before taking the lock`)));
    child.stdout!.once("data", () => res());
  });
  child.removeAllListeners("exit");
  // Registered at the top level, after the file's own describe blocks are collected: runs last.
  afterAll(() => {
    child.stdin!.end();
  });
}
