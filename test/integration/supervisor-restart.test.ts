/**
 * GatewaySupervisor's restart policy with real child processes (small node scripts standing in
 * for the gateway): the crash-loop breaker, exit 78 and doctor, a config from a newer OpenClaw,
 * configuration errors and missing prerequisites from prepare(), and restarts asked for a hang.
 * The set-up is in supervisor-harness.ts.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { LaunchSpec } from "../../src/supervisor/child.ts";
import { runOpenclawDoctor } from "../../src/supervisor/doctor-step.ts";
import { waitFor } from "./helpers.ts";
import { events, policy, SECRET, stop, supervisor, useSupervisorHarness, type Harness } from "./supervisor-harness.ts";

useSupervisorHarness();

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

  it("exit 78: the doctor's output is logged with every secret the supervisor knows scrubbed", async () => {
    const h: Harness = supervisor({
      script: "exit78-doctor.mjs",
      env: { TEST_SECRET: SECRET },
      doctor: (spec, secrets) => runOpenclawDoctor(spawn, spec, h.sink.log, secrets),
    });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "failed", "the hold after doctor", 15_000);
    const text = h.sink.text();
    expect(text).toContain("doctor: checking provider key [redacted]");
    expect(text).toContain("doctor: warning, token=[redacted]");
    expect(text).toContain("doctor: done");
    // No piece of the secret either: a copy cut by a pipe read must not escape the scrub.
    for (let i = 0; i + 10 <= SECRET.length; i++) expect(text).not.toContain(SECRET.slice(i, i + 10));
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

  it("exit 78 because an earlier gateway's maintenance lease is still held: retried with backoff, no doctor, no hold", async () => {
    const doctored: LaunchSpec[] = [];
    const h = supervisor({ script: "lease-held.mjs", readyOn: "armed", doctor: async (spec) => (doctored.push(spec), 0) });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready after the lease frees", 15_000);
    expect(doctored).toEqual([]);
    expect(h.prepared).toEqual([1, 2, 3]);
    expect(h.states.some((s) => s.state === "failed")).toBe(false);
    const backoffs = h.states.filter((s) => s.state === "backoff").map((s) => s.reason);
    expect(backoffs).toHaveLength(2);
    expect(backoffs[0]).toMatch(/^startup refused: OpenClaw's database maintenance lease is still held by an earlier gateway process \(it expires within 5 minutes\); restarting in \d+ ms$/);
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

  it("a stall restart counts as a failure; a restart asked for an earlier generation is dropped (one stall, one restart)", async () => {
    const h = supervisor({ script: "never-ready.mjs", readyOn: true });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready");
    const first = h.sup.snapshot().generation;
    // The event-loop watchdog and the liveness probe both judge the same stalled generation.
    h.sup.requestRestart("stall", first);
    h.sup.requestRestart("hang", first);
    await waitFor(() => h.states.some((s) => s.state === "backoff"), "backoff");
    expect(h.sup.lastCause).toBe("stall");
    expect(events(h).find((e) => e.state === "backoff")!.reason).toMatch(/^stall; restarting in \d+ ms$/);
    await waitFor(() => h.sup.snapshot().state === "ready" && h.sup.snapshot().generation === first + 1, "the next generation ready");
    // A late verdict about the first generation must not restart the second.
    h.sup.requestRestart("hang", first);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sup.snapshot()).toMatchObject({ state: "ready", generation: first + 1 });
    expect(events(h).filter((e) => e.state === "backoff")).toHaveLength(1);
    await stop(h);
  });
});
