/**
 * RunProgress (turns/run-progress.ts): which gateway events count as progress for an in-flight
 * run, and when its run counts as started. Event shapes as observed on openclaw 2026.9.6.
 */
import { describe, expect, it } from "vitest";
import { eventRun, RunProgress } from "../../src/turns/run-progress.ts";

function tracker() {
  let t = 1_000;
  const p = new RunProgress({ monotonic: () => t });
  return { p, at: (ms: number) => (t = ms), run: (id = "turn-1") => p.list().find((r) => r.turnId === id)! };
}

const lifecycle = (runId: string, sessionKey: string, phase = "start") => ({ runId, stream: "lifecycle", seq: 1, sessionKey, data: { phase } });
const task = (runId: string, sessionKey: string) => ({ action: "upserted", task: { id: "x", kind: "cli", status: "running", runId, sessionKey } });

describe("eventRun", () => {
  it.each([
    ["agent event", lifecycle("r1", "agent:main:a"), { runId: "r1", sessionKey: "agent:main:a" }],
    ["chat event", { runId: "r1", seq: 3, state: "aborted", sessionKey: "agent:main:a" }, { runId: "r1", sessionKey: "agent:main:a" }],
    ["task event", task("r2", "agent:main:b"), { runId: "r2", sessionKey: "agent:main:b" }],
    ["no run", { ts: 1 }, { runId: undefined, sessionKey: undefined }],
    ["not an object", "tick", { runId: undefined, sessionKey: undefined }],
    ["null", null, { runId: undefined, sessionKey: undefined }],
    ["wrong types", { runId: 7, sessionKey: ["x"] }, { runId: undefined, sessionKey: undefined }],
  ])("%s", (_name, payload, expected) => {
    expect(eventRun(payload)).toEqual(expected);
  });
});

describe("RunProgress", () => {
  it("a job's start, then its ack: both are progress; the ack marks it acknowledged, not started", () => {
    const { p, at, run } = tracker();
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1" });
    expect(run()).toMatchObject({ since: 1_000, lastProgressAt: 1_000, acked: false, started: false });
    at(1_500);
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1" });
    expect(run()).toMatchObject({ since: 1_000, lastProgressAt: 1_500, acked: true, started: false });
    expect(p.get("turn-1")).toEqual({ sessionKey: "agent:main:a", runId: "turn-1" });
  });

  it("an agent or chat event naming the run is progress and starts it; a task event is progress only", () => {
    const { p, at, run } = tracker();
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1" });
    at(2_000);
    p.observe("task", task("turn-1", "agent:main:a"));
    expect(run()).toMatchObject({ lastProgressAt: 2_000, started: false });
    at(3_000);
    p.observe("chat", { runId: "turn-1", state: "delta", sessionKey: "agent:main:a" });
    expect(run()).toMatchObject({ lastProgressAt: 3_000, started: true });
  });

  it("any run's event in the same session is progress (a holder, a restart recovery), but does not start ours", () => {
    const { p, at, run } = tracker();
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1" });
    at(5_000);
    p.observe("agent", lifecycle("recovery-run", "agent:main:a"));
    expect(run()).toMatchObject({ lastProgressAt: 5_000, started: false });
  });

  it("events of other sessions and runs, and events naming nothing, are not progress", () => {
    const { p, at, run } = tracker();
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1" });
    at(9_000);
    p.observe("agent", lifecycle("other", "agent:main:b"));
    p.observe("tick", { ts: 9_000 });
    p.observe("sessions.changed", {});
    p.observe("agent", undefined);
    expect(run()).toMatchObject({ lastProgressAt: 1_000, started: false });
  });

  it("a new run id (a send under a new key) is not started yet; delete stops tracking", () => {
    const { p, at, run } = tracker();
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1" });
    p.observe("agent", lifecycle("turn-1", "agent:main:a"));
    expect(run().started).toBe(true);
    at(4_000);
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1~2" });
    expect(run()).toMatchObject({ runId: "turn-1~2", started: false, lastProgressAt: 4_000 });
    expect(p.delete("turn-1")).toBe(true);
    expect(p.list()).toEqual([]);
    expect(p.get("turn-1")).toBeUndefined();
  });

  it("list() returns copies", () => {
    const { p, run } = tracker();
    p.set("turn-1", { sessionKey: "agent:main:a", runId: "turn-1" });
    run().lastProgressAt = -1;
    expect(run().lastProgressAt).toBe(1_000);
  });
});
