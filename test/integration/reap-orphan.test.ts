/**
 * reapOrphan (supervisor/pid-file.ts): a gateway left running by a daemon that was killed is
 * stopped by the next daemon before it starts its own, and only if the pid file's start time
 * still names that process (pid reuse). A real process group (`sh` and a `sleep` child), a real
 * pid file. The e2e daemon-SIGKILL case cannot always see this: there the old gateway may die by
 * itself first (its next log line hits the dead daemon's pipe).
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { processStartTicks } from "../../src/supervisor/child.ts";
import { reapOrphan } from "../../src/supervisor/pid-file.ts";
import { killGroup, memoryLogger, removeTempDirs, tempDir } from "./helpers.ts";

const groups: number[] = [];
afterEach(() => {
  for (const g of groups.splice(0)) killGroup(g);
  removeTempDirs();
});

/** A stand-in gateway: its own process group, a shell and a child, alive until killed. */
function orphan(): number {
  const child = spawn("sh", ["-c", "sleep 300 & wait"], { detached: true, stdio: "ignore" });
  child.unref();
  groups.push(child.pid!);
  return child.pid!;
}

const events = () => {
  const recorded: unknown[] = [];
  return { recorded, record: (e: unknown) => void recorded.push(e) };
};

it("stops a gateway left running (its whole group), records it, logs it and removes the pid file", async () => {
  const pid = orphan();
  const pidFile = join(tempDir("as-reap-"), "gateway.pid");
  writeFileSync(pidFile, JSON.stringify({ pid, startTicks: processStartTicks(pid) }));
  const sink = memoryLogger();
  const ev = events();
  await reapOrphan({ pidFile, clock: systemClock, stopGraceMs: 2000, events: ev as never, log: sink.log });
  expect(processStartTicks(pid)).toBeNull();
  expect(sink.lines().some((l) => l.msg === "stopping a gateway left running by a previous daemon" && l.pid === pid)).toBe(true);
  expect(ev.recorded).toMatchObject([{ state: "stopping", reason: "orphan from previous daemon", pid }]);
  expect(existsSync(pidFile)).toBe(false);
});

it("leaves a process alone whose start time differs (the pid was reused), and removes the pid file", async () => {
  const pid = orphan();
  const pidFile = join(tempDir("as-reap-"), "gateway.pid");
  writeFileSync(pidFile, JSON.stringify({ pid, startTicks: (processStartTicks(pid) ?? 0) + 1 }));
  const sink = memoryLogger();
  await reapOrphan({ pidFile, clock: systemClock, stopGraceMs: 2000, events: events() as never, log: sink.log });
  expect(processStartTicks(pid)).not.toBeNull();
  expect(sink.lines()).toEqual([]);
  expect(existsSync(pidFile)).toBe(false);
});
