/**
 * Real gateways on this host, at most two at a time (vitest's two workers) and the
 * timing-sensitive ones alone.
 *
 * vitest runs two test files at once (vitest.config.ts `maxWorkers`), so the suite's light files
 * and the droplet test (a container booting its own gateway, mostly waiting on systemd) overlap
 * with the rest. Files that boot the real OpenClaw gateway on this host (or time a daemon's
 * reactions, like the fast fault suite) hold this lock for their whole run, in one of two modes:
 *
 * - `exclusive` (the default): files whose scenario rests on a short deadline of the daemon set by
 *   the test (a probe turn's 12 s timeout, RUN_STUCK_MS, liveness probes of 1 s, event-loop lag
 *   thresholds, the fault suite's startup timeouts). A second gateway booting beside them on a
 *   2-core machine can make the deadline pass for the wrong reason, so nothing heavy runs beside them.
 * - `shared`: files whose waits are all in minutes (boots within BOOT_MS, turns within TURN_MS, the
 *   version change's 120 s health gate) and whose daemons keep their default deadlines (liveness
 *   10 s every 15 s, the gateway's startup 240 s). Two of them may overlap; each uses its own
 *   ports, data directory, users and mock model, and checks only its own processes. Before this
 *   mode they already ran beside the droplet test's gateway in CI. Their time is mostly gateway
 *   boots (one core each: node) and waits, so two at once take much less than one after the
 *   other: measured on the 2-core host (under its other users' load), the ten shared files ran in
 *   942 s two at a time, all passing, where one at a time they took 1434-1490 s (/tmp/ci.log);
 *   each file took about 1.25 times as long beside another.
 *
 * The lock is flock(1) (util-linux) on `.cache/heavy.lock` (`-s` for shared), held by a child
 * process for as long as its stdin is open: when the worker exits, however it exits, the pipe
 * closes and the lock is released, so a crashed worker never leaves it held. flock has no writer
 * preference: an exclusive file waits until no shared one holds the lock, so the exclusive files
 * tend to run after the shared ones (heavy-order.ts, vitest.config.ts's sequencer, orders them so).
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll } from "vitest";
import type { HeavyLockMode } from "./heavy-order.ts";

const LOCK = join(resolve(import.meta.dirname, "..", ".."), ".cache", "heavy.lock");

/**
 * Wait for the lock (as long as it takes: await it at the top of the file, where no hook timeout
 * applies), then keep it until the file's last `afterAll` has run.
 * @param mode `exclusive` (default): alone; `shared`: beside at most another shared file
 * @throws Error when flock(1) cannot be run
 */
export async function holdHeavyLock(mode: HeavyLockMode = "exclusive"): Promise<void> {
  mkdirSync(join(LOCK, ".."), { recursive: true });
  const child = spawn("flock", [...(mode === "shared" ? ["-s"] : []), LOCK, "sh", "-c", "echo held; exec cat >/dev/null"], { stdio: ["pipe", "pipe", "inherit"] });
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
