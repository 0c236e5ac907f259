/**
 * GatewaySupervisor when SQLite refuses its writes (issue 10, item 5): the generation counter,
 * the state events and the orphan record, each refused by a trigger on the real database file.
 * The gateway (a real child process) must still start and become ready, the run loop must never
 * reject, and events that could not be written are written, in order, once the store takes
 * writes again.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GatewaySupervisor } from "../../src/supervisor/supervisor.ts";
import { systemClock } from "../../src/core/clock.ts";
import { processStartTicks } from "../../src/supervisor/child.ts";
import { memoryLogger, openTestDb, processGone, waitFor } from "./helpers.ts";
import { dir, events, policy, spawned, stop, supervisor, useSupervisorHarness } from "./supervisor-harness.ts";

useSupervisorHarness();

const refuse = (db: { exec(sql: string): unknown }, name: string, on: string, when = "1") =>
  db.exec(`CREATE TRIGGER ${name} BEFORE ${on} WHEN ${when} BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);

describe("GatewaySupervisor when SQLite writes fail", () => {
  it("starts the gateway although the generation counter cannot be written", async () => {
    const h = supervisor({ script: "ignore-term.mjs", readyOn: "armed" });
    refuse(h.db.db, "no_gen_insert", "INSERT ON kv", "NEW.key = 'gateway.generation'");
    refuse(h.db.db, "no_gen_update", "UPDATE ON kv", "NEW.key = 'gateway.generation'");
    const running = h.run();
    let rejected: unknown;
    running.catch((err) => (rejected = err));
    await waitFor(() => h.sup.snapshot().state === "ready" || rejected !== undefined, "ready", 10_000);
    expect(rejected).toBeUndefined();
    expect(h.sup.snapshot()).toMatchObject({ state: "ready", generation: 1 });
    expect(h.sink.text()).toContain("cannot record gateway events or the generation");
    expect(h.db.events.getValue("gateway.generation")).toBeUndefined();

    h.db.db.exec("DROP TRIGGER no_gen_insert; DROP TRIGGER no_gen_update");
    await waitFor(() => h.db.events.getValue("gateway.generation") === "1", "the counter written once the store takes it", 10_000);
    await stop(h);
  });

  it("writes the state events it could not write, in order, once the store takes writes again", async () => {
    const h = supervisor({ script: "ignore-term.mjs", readyOn: "armed" });
    refuse(h.db.db, "no_events", "INSERT ON gateway_events");
    void h.run();
    await waitFor(() => h.sup.snapshot().state === "ready", "ready", 10_000);
    expect(events(h)).toEqual([]);

    h.db.db.exec("DROP TRIGGER no_events");
    await waitFor(() => events(h).some((e) => e.state === "ready"), "the held-back events to be written", 10_000);
    expect(events(h).map((e) => e.state)).toEqual(["starting", "starting", "ready"]);
    await stop(h);
    expect(events(h).map((e) => e.state)).toEqual(["starting", "starting", "ready", "stopping", "stopped", "stopped"]);
  });

  it("still stops an orphaned gateway when its event cannot be written", async () => {
    const orphan = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], { detached: true, stdio: "ignore" });
    spawned.push(orphan);
    await waitFor(() => processStartTicks(orphan.pid!) !== null, "the orphan to run");
    const pidFile = join(dir, "orphan.pid");
    writeFileSync(pidFile, JSON.stringify({ pid: orphan.pid, startTicks: processStartTicks(orphan.pid!) }));
    const h = supervisor({ script: "ignore-term.mjs", readyOn: "armed", pidFile });
    refuse(h.db.db, "no_events", "INSERT ON gateway_events");
    const running = h.run();
    let rejected: unknown;
    running.catch((err) => (rejected = err));
    await waitFor(() => h.sup.snapshot().state === "ready" || rejected !== undefined, "ready", 10_000);
    expect(rejected).toBeUndefined();
    expect(processGone(orphan.pid!)).toBe(true);
    await stop(h);
  });

  it("never reuses a generation a turn recorded, even if the counter was not written", async () => {
    const t = openTestDb();
    try {
      t.events.setValue("gateway.generation", "5");
      t.turns.insert({ id: "t1", source: "local", conversationId: "c", sessionKey: "agent:main:c", message: "hi", now: 1 });
      t.turns.startDelivery("t1", 2, 1000);
      t.turns.setRun("t1", "run-1", 7, 3); // gateway 7 ran it; the counter still says 5
      const sup = new GatewaySupervisor({
        spawn: () => {
          throw new Error("not started in this test");
        },
        clock: systemClock,
        random: () => 0,
        log: memoryLogger("error").log,
        events: t.events,
        policy,
        pidFile: join(dir, "none.pid"),
        secrets: () => [],
        prepare: async () => ({ command: "true", args: [], env: {}, cwd: dir }),
      });
      expect(sup.snapshot().generation).toBe(7);
    } finally {
      t.close();
    }
  });
});
