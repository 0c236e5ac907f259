/**
 * A local turn submitted while delivery has a free slot is committed straight into `delivering`
 * (one commit instead of accept + start) and sent at once, without waiting for the dispatcher's
 * wake-up (issue 15, goal 1). These tests hold that path to the same rules as the queued one: one
 * `agent` call per turn, one turn at a time per session, the concurrency limit, pauses, a gateway
 * that is not ready, and a crash right after the commit. Real SQLite file, fake gateway
 * connection (delivery-harness.ts).
 */
import { describe, expect, it } from "vitest";
import { deferred, okReply } from "./fake-gateway.ts";
import { db, delivery, gw, setup, start, submit, useDeliveryHarness, whenFinished } from "./delivery-harness.ts";

useDeliveryHarness();

/** An `agent` handler that holds each run until its gate (by idempotency key) is resolved. */
function gatedAgent(): Map<string, ReturnType<typeof deferred<void>>> {
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  gw.handlers.agent = async (p) => {
    const gate = deferred();
    gates.set(String(p.idempotencyKey), gate);
    await gate.promise;
    return okReply(`re: ${p.message}`);
  };
  return gates;
}

describe("a local turn submitted while delivery has a free slot", () => {
  it("is committed delivering with its first attempt counted and sent before submit returns, once", async () => {
    setup();
    const gates = gatedAgent();
    start();
    const id = submit("c1", "fast");
    // Already sent: no wake-up of the dispatcher in between.
    expect(gw.callsOf("agent").map((c) => c.params.idempotencyKey)).toEqual([id]);
    expect(db.turns.get(id)).toMatchObject({ state: "delivering", attempts: 1, idempotencyKey: id });
    expect(db.turns.get(id)?.firstDeliveredAt).not.toBeNull();
    expect(db.turns.get(id)!.deadlineAt).toBe(db.turns.get(id)!.firstDeliveredAt! + 30_000);
    expect(db.turns.counts()).toMatchObject({ accepted: 0, delivering: 1 });
    gates.get(id)!.resolve();
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "re: fast", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(1);
  });

  it("waits accepted when no slot is free or its session is busy, and the dispatcher starts it later, each once", async () => {
    setup({ concurrency: 1 });
    const gates = gatedAgent();
    start();
    const a = submit("c1", "a");
    const b = submit("c2", "b"); // no free slot
    const c = submit("c1", "c"); // its session has a turn delivering
    expect(db.turns.get(a)?.state).toBe("delivering");
    expect(db.turns.get(b)).toMatchObject({ state: "accepted", attempts: 0 });
    expect(db.turns.get(c)).toMatchObject({ state: "accepted", attempts: 0 });
    expect(gw.callsOf("agent")).toHaveLength(1);
    gates.get(a)!.resolve();
    await whenFinished(a);
    for (const next of [b, c]) {
      await new Promise<void>((r) => {
        const poll = () => (gates.has(next) ? r() : setTimeout(poll, 5));
        poll();
      });
      gates.get(next)!.resolve();
      await whenFinished(next);
    }
    expect(gw.callsOf("agent").map((x) => x.params.idempotencyKey)).toEqual([a, b, c]);
    expect([a, b, c].map((x) => db.turns.get(x)?.attempts)).toEqual([1, 1, 1]);
  });

  it("waits accepted while delivery is paused or the gateway is not ready", async () => {
    setup();
    gw.handlers.agent = async (p) => okReply(`re: ${p.message}`);
    start();
    const pause = await delivery.pause(0);
    const paused = submit("c1", "paused");
    expect(db.turns.get(paused)?.state).toBe("accepted");
    gw.setReady(false);
    pause.release();
    const notReady = submit("c2", "not ready");
    expect(db.turns.get(notReady)?.state).toBe("accepted");
    expect(gw.callsOf("agent")).toHaveLength(0);
    gw.setReady(true);
    delivery.notify();
    await Promise.all([whenFinished(paused), whenFinished(notReady)]);
    expect(gw.callsOf("agent")).toHaveLength(2);
  });

  it("waits accepted before delivery runs (its recovery of turns left delivering comes first)", () => {
    setup();
    const id = submit("c1");
    expect(db.turns.get(id)?.state).toBe("accepted");
  });
});

describe("a turn committed straight into delivering and left there by a crash", () => {
  it("is reconciled on the next start and sent once: the transcript shows the gateway never had it", async () => {
    // The crash: the commit landed, the process died before the request left.
    const { turn, started } = db.turns.insert(
      { id: "t-crashed", source: "local", conversationId: "c1", sessionKey: "agent:main:c1", message: "again", now: Date.now() },
      { timeoutMs: 30_000 },
    );
    expect(started).toBe(true);
    expect(turn).toMatchObject({ state: "delivering", attempts: 1 });
    setup();
    gw.handlers["chat.history"] = async () => ({ messages: [] });
    gw.handlers.agent = async (p) => okReply(`re: ${p.message}`);
    start();
    expect(await whenFinished("t-crashed")).toMatchObject({ state: "done", reply: "re: again" });
    expect(gw.callsOf("chat.history").length).toBeGreaterThan(0);
    expect(gw.callsOf("agent")).toHaveLength(1);
  });
});
