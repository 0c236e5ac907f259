/**
 * TurnDelivery with a real SQLite TurnStore and an in-process fake of its dependency, the
 * gateway connection (fake-gateway.ts): one turn at a time per conversation, the concurrency
 * limit, waiting for a ready gateway, reconciling turns left delivering, drain, abortTurn and
 * pause. The set-up is in delivery-harness.ts.
 */
import { describe, expect, it, vi } from "vitest";
import { assistantMsg, deferred, never, okReply, userMsg } from "./fake-gateway.ts";
import { waitFor } from "./helpers.ts";
import { db, delivery, finished, gw, setup, start, submit, useDeliveryHarness, whenFinished } from "./delivery-harness.ts";

useDeliveryHarness();

describe("TurnDelivery", () => {
  it("idle, looks at the queue when woken, not every second (issue 15, goal 2)", async () => {
    setup({ idleLookMs: undefined }); // the default safety net, 30 s
    gw.handlers.agent = async (p) => okReply(`re: ${p.message}`);
    const looks = vi.spyOn(db.turns, "counts");
    start();
    await new Promise((r) => setTimeout(r, 2_500));
    // Before: the dispatcher read the queue every second (3 looks here); now once, at start.
    expect(looks).toHaveBeenCalledTimes(1);
    const id = submit("c1"); // an event: the turn starts at once
    expect((await whenFinished(id)).state).toBe("done");
  });

  it("delivers the turns of one conversation one at a time, in order, and others alongside", async () => {
    setup();
    const gates = new Map<string, ReturnType<typeof deferred<void>>>();
    const inFlight = new Map<string, number>();
    let maxPerConversation = 0;
    let maxOverall = 0;
    gw.handlers.agent = async (p) => {
      const conv = String(p.sessionKey);
      inFlight.set(conv, (inFlight.get(conv) ?? 0) + 1);
      maxPerConversation = Math.max(maxPerConversation, inFlight.get(conv)!);
      maxOverall = Math.max(maxOverall, [...inFlight.values()].reduce((a, b) => a + b, 0));
      const gate = deferred();
      gates.set(String(p.idempotencyKey), gate);
      await gate.promise;
      inFlight.set(conv, inFlight.get(conv)! - 1);
      return okReply(`re: ${p.message}`);
    };
    const a = submit("c1", "first");
    const b = submit("c1", "second");
    const c = submit("c2", "other");
    start();
    await waitFor(() => gates.has(a) && gates.has(c), "the first turns of c1 and c2");
    expect(gates.has(b)).toBe(false);
    expect(db.turns.get(b)?.state).toBe("accepted");
    gates.get(a)!.resolve();
    await whenFinished(a);
    await waitFor(() => gates.has(b), "the second turn of c1");
    gates.get(b)!.resolve();
    gates.get(c)!.resolve();
    await Promise.all([whenFinished(b), whenFinished(c)]);
    expect(gw.callsOf("agent").filter((x) => x.params.sessionKey === "agent:main:c1").map((x) => x.params.message)).toEqual(["first", "second"]);
    expect(maxPerConversation).toBe(1);
    expect(maxOverall).toBe(2);
    expect(finished.get(b)).toMatchObject({ state: "done", reply: "re: second" });
  });

  it("starts no turn in a held session (being repaired) until it is released, and others meanwhile", async () => {
    const held = new Set(["agent:main:c1"]);
    setup({}, { sessionHeld: (key) => held.has(key) });
    gw.handlers.agent = async (p) => okReply(`re: ${p.message}`);
    const a = submit("c1", "waits");
    const b = submit("c2", "goes");
    start();
    await whenFinished(b);
    await new Promise((r) => setTimeout(r, 50));
    expect(db.turns.get(a)?.state).toBe("accepted");
    expect(gw.callsOf("agent").map((x) => x.params.message)).toEqual(["goes"]);
    held.clear();
    delivery.notify();
    expect(await whenFinished(a)).toMatchObject({ state: "done", reply: "re: waits" });
  });

  it("respects the concurrency limit", async () => {
    setup({ concurrency: 2 });
    const gates: ReturnType<typeof deferred<void>>[] = [];
    gw.handlers.agent = async (p) => {
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      return okReply(String(p.message));
    };
    const ids = ["a", "b", "c"].map((conv) => submit(conv, conv));
    start();
    await waitFor(() => gates.length === 2, "two turns in flight");
    expect(delivery.inFlight).toBe(2);
    expect(db.turns.counts()).toMatchObject({ accepted: 1, delivering: 2 });
    gates[0]!.resolve();
    await waitFor(() => gates.length === 3, "the third turn");
    for (const g of gates) g.resolve();
    await Promise.all(ids.map(whenFinished));
    expect(gw.callsOf("agent")).toHaveLength(3);
  });

  it("with one conversation stuck on a long answer, the other conversations' turns are all sent, each once (issue 15, goal 3)", async () => {
    setup({ concurrency: 4 });
    const slow = deferred();
    gw.handlers.agent = async (p) => {
      if (String(p.message) === "slow") await slow.promise;
      return okReply(`re: ${p.message}`);
    };
    const stuck = submit("slow", "slow");
    const behindIt = submit("slow", "after the slow one");
    const others = Array.from({ length: 10 }, (_, i) => [1, 2, 3].map((k) => submit(`c${i}`, `c${i} turn ${k}`))).flat();
    start();
    await Promise.all(others.map(whenFinished));
    // All 30 other turns went through the 3 free slots while the slow one held the fourth.
    expect(db.turns.get(stuck)?.state).toBe("delivering");
    expect(db.turns.get(behindIt)?.state).toBe("accepted");
    const sent = gw.callsOf("agent").map((c) => String(c.params.message));
    expect(sent.filter((m) => m.startsWith("c")).sort()).toEqual(others.map((id) => db.turns.get(id)!.message).sort());
    slow.resolve();
    expect(await whenFinished(behindIt)).toMatchObject({ state: "done", reply: "re: after the slow one" });
    expect(gw.callsOf("agent")).toHaveLength(32);
  });

  it("as many held sessions as the concurrency, queued first, keep no other conversation's turn from starting", async () => {
    const held = new Set(["agent:main:h1", "agent:main:h2"]);
    setup({ concurrency: 2 }, { sessionHeld: (key) => held.has(key) });
    gw.handlers.agent = async (p) => okReply(`re: ${p.message}`);
    const waiting = [submit("h1", "held 1"), submit("h2", "held 2")];
    const free = submit("c3", "free");
    start();
    expect(await whenFinished(free)).toMatchObject({ state: "done", reply: "re: free" });
    expect(waiting.map((id) => db.turns.get(id)?.state)).toEqual(["accepted", "accepted"]);
    held.clear();
    delivery.notify();
    await Promise.all(waiting.map(whenFinished));
    expect(gw.callsOf("agent").map((c) => c.params.message)).toEqual(["free", "held 1", "held 2"]);
  });

  it("sends nothing while the gateway is not ready, then delivers when it is", async () => {
    setup();
    gw.setReady(false);
    gw.handlers.agent = async () => okReply("late but fine");
    start();
    const id = submit("c");
    // Give the loop a real chance to (wrongly) dispatch.
    await new Promise((r) => setTimeout(r, 50));
    expect(gw.calls).toEqual([]);
    gw.setReady(true);
    delivery.notify();
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "late but fine" });
  });

  it("on start, reconciles turns a previous run left delivering instead of re-sending them", async () => {
    setup();
    const now = Date.now();
    db.turns.insert({ id: "left-over", source: "local", conversationId: "c", sessionKey: "agent:main:c", message: "hi", now });
    db.turns.startDelivery("left-over", now, 30_000);
    gw.handlers["chat.history"] = async () => ({ messages: [userMsg("left-over"), assistantMsg("left-over", "answered while we were down")] });
    start();
    expect(await whenFinished("left-over")).toMatchObject({ state: "done", reply: "answered while we were down", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(0);
  });

  it("drain waits for an in-flight turn that finishes within the grace and returns 0", async () => {
    setup();
    const gate = deferred();
    gw.handlers.agent = async () => {
      await gate.promise;
      return okReply("finished during drain");
    };
    start();
    const id = submit("c");
    await waitFor(() => gw.callsOf("agent").length === 1, "the send");
    const draining = delivery.drain(10_000);
    gate.resolve();
    expect(await draining).toBe(0);
    expect(db.turns.get(id)).toMatchObject({ state: "done", reply: "finished during drain" });
  });

  it("drain aborts a turn still in flight after the grace, returns 1 and leaves it delivering", async () => {
    setup();
    gw.handlers.agent = never;
    start();
    const id = submit("c");
    await waitFor(() => gw.callsOf("agent").length === 1, "the send");
    expect(await delivery.drain(100)).toBe(1);
    expect(delivery.inFlight).toBe(0);
    const call = gw.callsOf("agent")[0]!;
    expect(call.opts?.signal?.aborted).toBe(true);
    expect(call.settled).toBe(true);
    expect(db.turns.get(id)).toMatchObject({ state: "delivering", attempts: 1 });
    expect(finished.has(id)).toBe(false);
  });

  it("abortTurn stops one in-flight turn at once, records no result, and others go on", async () => {
    setup();
    gw.handlers.agent = async (params: any) => (String(params.message).includes("keep") ? okReply("kept") : never());
    start();
    const lost = submit("lost-lease", "drop me");
    await waitFor(() => gw.callsOf("agent").length === 1, "the first send");
    expect(delivery.abortTurn(lost)).toBe(true);
    await waitFor(() => delivery.inFlight === 0, "the aborted job to end");
    expect(gw.callsOf("agent")[0]!.opts?.signal?.aborted).toBe(true);
    expect(finished.has(lost)).toBe(false);
    expect(db.turns.get(lost)?.state).toBe("delivering");
    expect(delivery.abortTurn("unknown-turn")).toBe(false);
    const other = submit("other", "keep going");
    expect(await whenFinished(other)).toMatchObject({ state: "done", reply: "kept" });
  });

  it("pause waits for in-flight turns and starts none until released", async () => {
    setup();
    const gate = deferred();
    gw.handlers.agent = async (params: any) => {
      if (String(params.message) === "first") await gate.promise;
      return okReply(`re: ${params.message}`);
    };
    start();
    const first = submit("a", "first");
    await waitFor(() => gw.callsOf("agent").length === 1, "the first send");
    const pausing = delivery.pause(10_000);
    const second = submit("b", "second");
    gate.resolve();
    const paused = await pausing;
    expect(paused.left).toBe(0);
    expect(db.turns.get(first)?.state).toBe("done");
    delivery.notify();
    await new Promise((r) => setTimeout(r, 50));
    expect(db.turns.get(second)?.state).toBe("accepted");
    paused.release();
    expect(await whenFinished(second)).toMatchObject({ state: "done", reply: "re: second" });
  });

  it("takes no new turns once draining", async () => {
    setup();
    gw.handlers.agent = async () => okReply("x");
    start();
    expect(await delivery.drain(1_000)).toBe(0);
    const id = submit("c");
    delivery.notify();
    await new Promise((r) => setTimeout(r, 50));
    expect(db.turns.get(id)?.state).toBe("accepted");
    expect(gw.calls).toEqual([]);
  });
});
