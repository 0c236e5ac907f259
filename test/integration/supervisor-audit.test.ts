/**
 * The supervisor's audit trail over real child processes and a real SQLite file: every start,
 * stop, restart decision, hold and doctor run is recorded with its cause, actor and generation,
 * and matches the gateway events one for one.
 */
import { describe, expect, it } from "vitest";
import { auditGaps } from "../../bench/faults/audit-check.ts";
import type { EventRow } from "../../bench/faults/observe.ts";
import { waitFor } from "./helpers.ts";
import { events, stop, supervisor, useSupervisorHarness, type Harness } from "./supervisor-harness.ts";

useSupervisorHarness();

const trail = (h: Harness) => h.audit.list({ limit: 1000 });
/** The gateway events as the fault suite's check reads them. */
const rows = (h: Harness): EventRow[] =>
  events(h).map((e) => ({ id: e.id, at: e.at, generation: e.generation, state: e.state, reason: e.reason, pid: e.pid, exit_code: e.exitCode, signal: e.signal }));

describe("the supervisor's audit trail", () => {
  it("a boot, a rotation restart (by the control plane) and the shutdown stop, each with its cause", async () => {
    const h = supervisor({ script: "never-ready.mjs", readyOn: true });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready");
    h.sup.requestRestart("rotation");
    await waitFor(() => h.sup.snapshot().state === "ready" && h.sup.snapshot().generation === 2, "ready again");
    await stop(h);

    const got = trail(h).map((e) => [e.action, e.actor, e.cause, e.detail.generation]);
    expect(got).toEqual([
      ["gateway.start", "daemon", "boot", 1],
      ["gateway.stop", "control-plane", "rotation", 1],
      ["gateway.restart", "control-plane", "rotation", 1],
      ["gateway.start", "control-plane", "rotation", 2],
      ["gateway.stop", "daemon", "shutdown", 2],
    ]);
    expect(trail(h)[1]!.detail).toMatchObject({ exitCode: null, signal: "SIGTERM", killed: false });
    // Every gateway action has its entry; the rotation itself (secrets.apply) is the poller's to record, not here.
    expect(auditGaps(rows(h), trail(h))).toEqual(["audit trail: the rotation restart of generation 1 has no secrets.apply or skills.apply entry"]);
  });

  it("a crashing child: a restart entry per exit with its backoff, and the breaker's hold", async () => {
    const h = supervisor({ script: "crash.mjs", breaker: { windowMs: 60_000, maxRestarts: 3 } });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "failed", "the breaker to open", 15_000);
    await stop(h);
    const t = trail(h);
    const restarts = t.filter((e) => e.action === "gateway.restart");
    expect(restarts.length).toBeGreaterThanOrEqual(2);
    for (const r of restarts) expect(r).toMatchObject({ actor: "daemon", cause: "crash", detail: { delayMs: expect.any(Number), lastExit: { code: 3 } } });
    expect(t.filter((e) => e.action === "gateway.hold")).toMatchObject([{ cause: "crash-loop breaker open; last cause: crash" }]);
    expect(auditGaps(rows(h), t)).toEqual([]);
  });

  it("exit 78: the doctor run and the hold that follows its second failure", async () => {
    const h = supervisor({ script: "exit78.mjs", doctor: async () => 0 });
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "failed", "held for config", 15_000);
    await stop(h);
    const t = trail(h);
    expect(t.filter((e) => e.action === "doctor.run")).toMatchObject([{ actor: "daemon", detail: { exitCode: 0, generation: 1 } }]);
    expect(t.at(-1)).toMatchObject({ action: "gateway.hold", cause: expect.stringContaining("EX_CONFIG") });
    expect(auditGaps(rows(h), t)).toEqual([]);
  });
});
