/**
 * GatewaySupervisor with real child processes (small node scripts standing in for the gateway),
 * a real SQLite EventStore, the system clock and short policy values.
 *
 * Readiness normally comes from the WebSocket hello-ok; here the test calls markReady itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { getEventListeners } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import type { GatewayEvent } from "../../src/store/events.ts";
import type { SpawnFn } from "../../src/core/os-process.ts";
import { processStartTicks, type LaunchSpec } from "../../src/supervisor/child.ts";
import type { SupervisorSnapshot } from "../../src/supervisor/state.ts";
import { GatewaySupervisor, type SupervisorPolicy } from "../../src/supervisor/supervisor.ts";
import {
  killGroup,
  memoryLogger,
  openTestDb,
  processGone,
  removeTempDirs,
  tempDir,
  waitFor,
  type LogSink,
  type TestDb,
} from "./helpers.ts";

const SECRET = "sk-test-SECRET-abcdef0123456789";

/** Stand-in gateways, plain ESM so they need no type stripping. */
const SCRIPTS: Record<string, string> = {
  "never-ready.mjs": `console.log("stand-in up"); setInterval(() => {}, 1 << 30);`,
  "ignore-term.mjs": `process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
console.log("armed"); setInterval(() => {}, 1 << 30);`,
  "crash.mjs": `console.error("fatal: something broke"); process.exit(3);`,
  "exit78.mjs": `console.error("Invalid config: gateway.bogus is not allowed"); process.exit(78);`,
  "newer-config.mjs": `console.error("Refusing to run automatic gateway startup migrations because this OpenClaw binary (2026.9.6) is older than the config last written by OpenClaw 2099.1.1."); process.exit(1);`,
  // Spawns a grandchild in its own process group that ignores SIGTERM, then waits (or crashes).
  "with-grandchild.mjs": `import { spawn } from "node:child_process";
const g = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); console.log('gc armed'); setInterval(() => {}, 1 << 30)"], { stdio: ["ignore", "pipe", "inherit"] });
g.stdout.on("data", (d) => { if (String(d).includes("gc armed")) { console.log("grandchild " + g.pid); if (process.argv[2] === "crash") setTimeout(() => process.exit(3), 50); } });
setInterval(() => {}, 1 << 30);`,
  "noisy.mjs": `const secret = process.env.TEST_SECRET;
console.log("\\u001b[32mgateway\\u001b[39m listening with key " + secret);
console.error("warning: auth " + secret);
const line = "y".repeat(1023) + "\\n";
const chunk = line.repeat(256); // 256 KiB
let left = 16; // 4 MiB on stdout
const big = "z".repeat(2 * 1024 * 1024); // one 2 MiB line on stderr
process.stderr.write(big + "\\n");
function pump() {
  while (left > 0) {
    left--;
    if (!process.stdout.write(chunk)) return process.stdout.once("drain", pump);
  }
  console.log("finished writing");
}
pump();
setInterval(() => {}, 1 << 30);`,
};

const policy: SupervisorPolicy = { startupTimeoutMs: 1_500, stopGraceMs: 500, initialMs: 50, maxMs: 200, resetAfterMs: 3_600_000 };

type Harness = {
  sup: GatewaySupervisor;
  db: TestDb;
  sink: LogSink;
  states: SupervisorSnapshot[];
  controller: AbortController;
  run: () => Promise<void>;
  pidFile: string;
  prepared: number[];
};

let dir: string;
let spawned: ChildProcess[];
let extraPids: number[];
let harnesses: Harness[];

beforeEach(() => {
  dir = tempDir("as-sup-");
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(join(dir, name), text);
  spawned = [];
  extraPids = [];
  harnesses = [];
});

afterEach(async () => {
  for (const h of harnesses) h.controller.abort();
  await Promise.allSettled(harnesses.map((h) => h.run()));
  for (const c of spawned) if (c.pid !== undefined) killGroup(c.pid);
  for (const pid of extraPids) killGroup(pid);
  for (const h of harnesses) h.db.close();
  removeTempDirs();
});

/** `child_process.spawn`, remembering every child so afterEach can kill its group. */
const trackingSpawn: SpawnFn = (command, args, options) => {
  const c = spawn(command, args, options);
  spawned.push(c);
  return c;
};

type Options = {
  script: string;
  args?: string[];
  /** Call markReady once the child has printed this line (or at once with `true`). */
  readyOn?: string | true;
  pidFile?: string;
  env?: Record<string, string>;
  onPrepare?: (generation: number) => void;
  breaker?: { windowMs: number; maxRestarts: number };
  doctor?: (spec: LaunchSpec) => Promise<number | null>;
  /** Thrown by prepare() for this generation, if returned. */
  prepareError?: (generation: number) => Error | undefined;
};

function supervisor(o: Options): Harness {
  const db = openTestDb();
  const sink = memoryLogger("info");
  const states: SupervisorSnapshot[] = [];
  const controller = new AbortController();
  const pidFile = o.pidFile ?? join(dir, "gateway.pid");
  const prepared: number[] = [];
  let running: Promise<void> | undefined;
  const sup: GatewaySupervisor = new GatewaySupervisor({
    spawn: trackingSpawn,
    clock: systemClock,
    random: () => 0,
    log: sink.log,
    events: db.events,
    policy,
    pidFile,
    secrets: () => [SECRET],
    breaker: o.breaker,
    doctor: o.doctor,
    openclawVersion: "2026.9.6",
    prepare: async (generation): Promise<LaunchSpec> => {
      prepared.push(generation);
      o.onPrepare?.(generation);
      const err = o.prepareError?.(generation);
      if (err) throw err;
      return {
        command: process.execPath,
        args: [join(dir, o.script), ...(o.args ?? [])],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...o.env },
        cwd: dir,
      };
    },
    onState: (snap) => {
      states.push(snap);
      if (o.readyOn !== undefined && snap.state === "starting" && snap.pid !== null) {
        const gen = snap.generation;
        const marker = o.readyOn;
        void (async () => {
          // Like hello-ok, readiness arrives asynchronously, after the supervisor started watching.
          if (marker === true) await new Promise((r) => setImmediate(r));
          else await waitFor(() => sink.text().includes(marker), `"${marker}" from the child`);
          sup.markReady(gen);
        })().catch(() => {});
      }
    },
  });
  const h: Harness = {
    sup,
    db,
    sink,
    states,
    controller,
    pidFile,
    prepared,
    run: () => (running ??= sup.run(controller.signal)),
  };
  harnesses.push(h);
  return h;
}

/** Events oldest first. */
function events(h: Harness): GatewayEvent[] {
  return h.db.events.recent(1_000).reverse();
}

async function stop(h: Harness): Promise<void> {
  h.controller.abort();
  await h.run();
}

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

describe("restart policy with real children", () => {
  it("opens the crash-loop breaker: state failed with the reason, still retrying slowly", async () => {
    const h = supervisor({ script: "crash.mjs", breaker: { windowMs: 60_000, maxRestarts: 3 } });
    void h.run();
    await waitFor(() => h.states.some((s) => s.state === "failed" && /crash loop/.test(s.reason ?? "")), "the breaker to open", 15_000);
    const at = h.sup.snapshot().generation;
    await waitFor(() => h.sup.snapshot().generation > at, "a slow retry while open", 15_000);
    expect(h.sup.lastCause).toBe("crash");
    await stop(h);
    const failed = events(h).filter((e) => e.state === "failed");
    expect(failed[0]!.reason).toMatch(/^crash loop: 3 restarts within 60 s; retrying every 0 s; last cause: crash$/);
  });

  it("exit 78: runs doctor once, retries once, then holds in failed: config until woken", async () => {
    const doctored: LaunchSpec[] = [];
    const h = supervisor({ script: "exit78.mjs", doctor: async (spec) => (doctored.push(spec), 0) });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "failed", "the hold", 15_000);
    expect(doctored).toHaveLength(1);
    expect(doctored[0]!.args[0]).toContain("exit78.mjs");
    expect(h.sup.snapshot().reason).toMatch(/^config: the gateway exits 78 \(EX_CONFIG\) again after openclaw doctor --fix/);
    expect(h.sup.lastCause).toBe("config");
    const spawnsWhenHeld = h.prepared.length;
    expect(spawnsWhenHeld).toBe(2);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(h.prepared.length).toBe(spawnsWhenHeld); // no loop
    h.sup.wake(); // e.g. new secrets were applied
    await waitFor(() => h.prepared.length > spawnsWhenHeld, "a start after wake");
    await stop(h);
  });

  it("a config written by a newer OpenClaw is reported plainly and not retried", async () => {
    const h = supervisor({ script: "newer-config.mjs" });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "failed", "the hold", 15_000);
    expect(h.sup.snapshot().reason).toBe(
      "config written by a newer OpenClaw (2099.1.1) than this runtime (2026.9.6): run 'agent-supervisor openclaw install --version 2099.1.1' and set OPENCLAW_VERSION=2099.1.1",
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(h.prepared).toEqual([1]);
    await stop(h);
  });

  it("a configuration error from prepare() holds until woken, then starts", async () => {
    const { ConfigError } = await import("../../src/core/errors.ts");
    const h = supervisor({
      script: "never-ready.mjs",
      readyOn: true,
      prepareError: (g) => (g === 1 ? new ConfigError("no model provider configured") : undefined),
    });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "failed", "the hold");
    expect(h.sup.snapshot().reason).toBe("config: no model provider configured");
    h.sup.wake();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready after wake");
    await stop(h);
  });

  it("a missing prerequisite from prepare() (the OpenClaw runtime) holds in failed saying why, looks again every maxMs, and starts once it is there", async () => {
    const { UnavailableError } = await import("../../src/core/errors.ts");
    let missing = true;
    const h = supervisor({
      script: "never-ready.mjs",
      readyOn: true,
      prepareError: () => (missing ? new UnavailableError("ERR_RUNTIME_MISSING", "no managed OpenClaw runtime in /x; run 'agent-supervisor openclaw install'") : undefined),
    });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "failed", "the hold");
    const from = h.states.length;
    const tries = h.prepared.length;
    await new Promise((r) => setTimeout(r, policy.maxMs * 5 + 100));
    // Held the whole time with the reason (never "backoff: crash"), and rechecked about every maxMs.
    const during = h.states.slice(from);
    expect(during.filter((s) => s.state !== "starting").every((s) => s.state === "failed" && s.reason?.startsWith("unavailable: no managed OpenClaw runtime"))).toBe(true);
    expect(h.sup.snapshot().reason).toBe("unavailable: no managed OpenClaw runtime in /x; run 'agent-supervisor openclaw install'");
    expect(h.prepared.length - tries).toBeGreaterThanOrEqual(3);
    expect(h.prepared.length - tries).toBeLessThanOrEqual(7);
    missing = false;
    await waitFor(() => h.sup.snapshot().state === "ready", "ready once the runtime is there");
    await stop(h);
  });

  it("a restart requested for a hang counts as a failure and records its cause", async () => {
    const h = supervisor({ script: "never-ready.mjs", readyOn: true });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready");
    h.sup.requestRestart("hang");
    await waitFor(() => h.states.some((s) => s.state === "backoff"), "backoff");
    expect(h.sup.lastCause).toBe("hang");
    expect(events(h).find((e) => e.state === "backoff")!.reason).toMatch(/^hang; restarting in \d+ ms$/);
    await stop(h);
  });
});
