/**
 * GatewaySupervisor with real child processes (small node scripts standing in for the gateway),
 * a real SQLite EventStore, the system clock and short policy values: readiness and the startup
 * timeout, crashes and backoff, process groups, orphans from a previous daemon and the child's
 * log output. The restart policy (breaker, config holds) is in supervisor-restart.test.ts; the
 * set-up is in supervisor-harness.ts.
 *
 * Readiness normally comes from the WebSocket hello-ok; here the test calls markReady itself.
 */
import { spawn } from "node:child_process";
import { getEventListeners } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processStartTicks } from "../../src/supervisor/child.ts";
import { killGroup, processGone, waitFor } from "./helpers.ts";
import { dir, events, extraPids, SECRET, spawned, stop, supervisor, useSupervisorHarness } from "./supervisor-harness.ts";

useSupervisorHarness();

describe("GatewaySupervisor with real child processes", () => {
  it("kills a child that never becomes ready after the startup timeout and starts another", async () => {
    const h = supervisor({ script: "never-ready.mjs" });
    void h.run();
    await waitFor(() => h.states.some((s) => s.generation === 2 && s.state === "starting" && s.pid !== null), "generation 2", 15_000);
    const firstPid = h.states.find((s) => s.generation === 1 && s.pid !== null)!.pid!;
    await stop(h);

    const gen1 = events(h).filter((e) => e.generation === 1);
    expect(gen1.map((e) => e.state)).toEqual(["starting", "starting", "stopping", "stopped", "backoff"]);
    expect(gen1[2]!.reason).toBe("not ready within 1500 ms");
    expect(gen1[3]).toMatchObject({ signal: "SIGTERM", exitCode: null });
    expect(gen1[4]!.reason).toBe("startup-timeout; restarting in 25 ms");
    expect(h.prepared.slice(0, 2)).toEqual([1, 2]);
    expect(processGone(firstPid)).toBe(true);
    expect(h.sup.snapshot()).toMatchObject({ state: "stopped", pid: null, generation: 2, restarts: 1 });
    // The generation is persisted so a later daemon continues from it.
    expect(h.db.events.getValue("gateway.generation")).toBe("2");
  });

  it("becomes ready on markReady and SIGKILLs a child that ignores SIGTERM on shutdown", async () => {
    const h = supervisor({ script: "ignore-term.mjs", readyOn: "armed" });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready");
    const pid = h.sup.snapshot().pid!;
    expect(existsSync(h.pidFile)).toBe(true);

    await stop(h);

    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    const evs = events(h);
    expect(evs.map((e) => e.state)).toEqual(["starting", "starting", "ready", "stopping", "stopped", "stopped"]);
    expect(evs[3]!.reason).toBe("daemon stopping");
    expect(evs[4]).toMatchObject({ signal: "SIGKILL", reason: "stopped" });
    expect(h.sink.text()).toContain("gateway ignored SIGTERM; sending SIGKILL");
    expect(h.sink.text()).toContain("ignoring SIGTERM");
    expect(h.sup.snapshot()).toMatchObject({ state: "stopped", lastExit: { signal: "SIGKILL", code: null } });
    expect(existsSync(h.pidFile)).toBe(false);
  });

  it("markReady of a stale generation is ignored", async () => {
    const h = supervisor({ script: "never-ready.mjs" });
    void h.run();
    await waitFor(() => h.sup.snapshot().pid !== null, "spawn");
    h.sup.markReady(h.sup.snapshot().generation - 1);
    h.sup.markReady(h.sup.snapshot().generation + 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.sup.snapshot().state).toBe("starting");
    h.sup.markReady(h.sup.snapshot().generation);
    await waitFor(() => h.sup.snapshot().state === "ready", "ready");
    await stop(h);
  });

  it("records the gateway's shutdown announcement and names it in the exit that follows", async () => {
    const h = supervisor({ script: "exit-later.mjs", readyOn: "armed" });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready");
    const g = h.sup.snapshot().generation;
    h.sup.announce(g - 1, { reason: "stale", restartExpectedMs: null });
    h.sup.announce(g, { reason: "gateway restarting", restartExpectedMs: 1500 });
    h.sup.announce(g, { reason: "SIGTERM", restartExpectedMs: null });
    await waitFor(() => events(h).some((e) => e.state === "exited"), "exit");
    await stop(h);
    const evs = events(h);
    expect(evs.filter((e) => e.state === "announced").map((e) => e.reason)).toEqual([
      "gateway announced an in-process restart, back in ~1500 ms: gateway restarting",
      "gateway announced a terminal shutdown: SIGTERM",
    ]);
    expect(evs.find((e) => e.state === "exited")).toMatchObject({ exitCode: 0, reason: "exited with code 0 after announcing a shutdown (SIGTERM)" });
    // The next exit of the next generation does not carry it.
    expect(evs.filter((e) => e.state === "exited").slice(1).every((e) => !String(e.reason).includes("announcing"))).toBe(true);
  });

  it("restarts a crashing child with growing backoff and records its exit code", async () => {
    const h = supervisor({ script: "crash.mjs" });
    void h.run();
    await waitFor(() => h.states.some((s) => s.generation === 4 && s.state === "starting"), "generation 4", 15_000);
    await stop(h);

    const evs = events(h);
    const exits = evs.filter((e) => e.state === "exited");
    expect(exits.length).toBeGreaterThanOrEqual(3);
    for (const e of exits) expect(e).toMatchObject({ exitCode: 3, signal: null, reason: "exited with code 3" });
    const backoffs = evs.filter((e) => e.state === "backoff").map((e) => e.reason);
    // random() = 0: half of 50, 100, 200 (the cap), 200 ms.
    expect(backoffs.slice(0, 3)).toEqual(["crash; restarting in 25 ms", "crash; restarting in 50 ms", "crash; restarting in 100 ms"]);
    expect(h.sup.snapshot().restarts).toBeGreaterThanOrEqual(3);
    expect(h.sink.lines().some((l) => l.stream === "stderr" && l.msg === "fatal: something broke" && l.level === "warn")).toBe(true);
  });

  it("does not pile up abort listeners on the run signal across restarts", async () => {
    const h = supervisor({ script: "crash.mjs" });
    void h.run();
    await waitFor(() => h.states.some((s) => s.generation === 2 && s.state === "backoff"), "two crashes", 15_000);
    const after2 = getEventListeners(h.controller.signal, "abort").length;
    await waitFor(() => h.states.some((s) => s.generation === 6 && s.state === "backoff"), "six crashes", 15_000);
    const after6 = getEventListeners(h.controller.signal, "abort").length;
    await stop(h);
    expect(after6).toBeLessThanOrEqual(after2);
  });

  it("records a prepare() failure as 'failed' and retries", async () => {
    let calls = 0;
    const h = supervisor({
      script: "never-ready.mjs",
      readyOn: true,
      onPrepare: () => {
        calls += 1;
        if (calls === 1) throw new Error("runtime missing");
      },
    });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready after a failed prepare");
    await stop(h);
    const evs = events(h);
    expect(evs.find((e) => e.state === "failed")?.reason).toBe("cannot start gateway: runtime missing");
    expect(evs.find((e) => e.state === "backoff")?.reason).toBe("crash; restarting in 25 ms");
  });

  it.each([
    ["stopped on shutdown", []],
    ["after it crashes", ["crash"]],
  ])("kills the whole process group: no grandchild survives when the child is %s", async (_name, args) => {
    const h = supervisor({ script: "with-grandchild.mjs", args, readyOn: "grandchild " });
    void h.run();
    await waitFor(() => /grandchild \d+/.test(h.sink.text()), "the grandchild");
    const gcPid = Number(/grandchild (\d+)/.exec(h.sink.text())![1]);
    extraPids.push(gcPid);
    const childPid = h.states.find((s) => s.pid !== null)!.pid!;
    if (args[0] === "crash") {
      await waitFor(() => events(h).some((e) => e.exitCode === 3), "the crash");
      await waitFor(() => processGone(gcPid), "the grandchild to be killed after the crash");
    }
    await stop(h);
    expect(processGone(childPid)).toBe(true);
    // SIGKILL to the group is sent before stop() resolves; the orphaned grandchild is reaped by
    // init a moment later (until then kill(pid, 0) still finds its zombie).
    await waitFor(() => processGone(gcPid), "the grandchild to be gone", 5_000);
  });

  it("reaps an orphan from a previous daemon before the first spawn", async () => {
    const orphan = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1 << 30)"], {
      detached: true,
      stdio: ["ignore", "pipe", "ignore"],
    });
    spawned.push(orphan);
    await new Promise<void>((res) => orphan.stdout!.once("data", () => res()));
    const pid = orphan.pid!;
    const startTicks = processStartTicks(pid);
    expect(startTicks).not.toBeNull();
    const pidFile = join(dir, "orphan.pid");
    writeFileSync(pidFile, JSON.stringify({ pid, startTicks }));

    let orphanGoneAtPrepare: boolean | undefined;
    const h = supervisor({
      script: "never-ready.mjs",
      pidFile,
      onPrepare: (gen) => {
        if (gen === 1) orphanGoneAtPrepare = processGone(pid);
      },
    });
    void h.run();
    await waitFor(() => h.sup.snapshot().pid !== null, "first spawn");
    expect(orphanGoneAtPrepare).toBe(true);
    const reaped = events(h).find((e) => e.reason === "orphan from previous daemon");
    expect(reaped).toMatchObject({ state: "stopping", pid, generation: 0 });
    // Our own child replaced the record in the pid file.
    expect(JSON.parse(readFileSync(pidFile, "utf8")).pid).toBe(h.sup.snapshot().pid);
    await stop(h);
    expect(existsSync(pidFile)).toBe(false);
  });

  it("leaves a process alone whose start time does not match the pid file (a recycled pid)", async () => {
    const other = spawn(process.execPath, ["-e", "console.log('up'); setInterval(() => {}, 1 << 30)"], {
      detached: true,
      stdio: ["ignore", "pipe", "ignore"],
    });
    spawned.push(other);
    await new Promise<void>((res) => other.stdout!.once("data", () => res()));
    const pid = other.pid!;
    const pidFile = join(dir, "stale.pid");
    writeFileSync(pidFile, JSON.stringify({ pid, startTicks: processStartTicks(pid)! + 1 }));

    const h = supervisor({ script: "never-ready.mjs", pidFile });
    void h.run();
    await waitFor(() => h.sup.snapshot().pid !== null, "first spawn");
    await stop(h);

    expect(processGone(pid)).toBe(false);
    expect(events(h).some((e) => e.reason === "orphan from previous daemon")).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    killGroup(pid);
  });

  it("ignores a pid file that is not JSON", async () => {
    const pidFile = join(dir, "garbage.pid");
    writeFileSync(pidFile, "not json");
    const h = supervisor({ script: "never-ready.mjs", pidFile, readyOn: true });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready");
    await stop(h);
    expect(events(h).some((e) => e.reason === "orphan from previous daemon")).toBe(false);
  });

  it("logs the child's output line by line with secrets redacted, and several MB of output do not block it", async () => {
    const h = supervisor({ script: "noisy.mjs", env: { TEST_SECRET: SECRET }, readyOn: true });
    void h.run();
    await waitFor(() => h.sink.text().includes("finished writing"), "the child to finish writing", 20_000);
    await stop(h);

    const text = h.sink.text();
    expect(text).not.toContain(SECRET);
    const lines = h.sink.lines();
    const child = lines.filter((l) => l.stream !== undefined);
    expect(child.find((l) => String(l.msg).startsWith("gateway listening"))).toMatchObject({
      msg: "gateway listening with key [redacted]",
      stream: "stdout",
      level: "info",
      source: "gateway",
      generation: 1,
    });
    expect(child.find((l) => String(l.msg).startsWith("warning:"))).toMatchObject({ msg: "warning: auth [redacted]", stream: "stderr", level: "warn" });
    expect(child.filter((l) => l.stream === "stdout" && /^y+$/.test(String(l.msg)))).toHaveLength(16 * 256);
    const big = child.find((l) => String(l.msg).startsWith("zzz"))!;
    expect(String(big.msg)).toBe(`${"z".repeat(8192)}… [${2 * 1024 * 1024 - 8192} more chars]`);
  });
});
