/**
 * TurnDelivery with a real SQLite TurnStore and an in-process fake of its dependency, the
 * gateway connection (fake-gateway.ts). Gateway error answers come from a real protocol round
 * trip (gateway-wire-error.ts) so `isGatewayProtocolResponseError` recognises them.
 */
import { GatewayClientRequestError, isGatewayProtocolResponseError } from "@openclaw/gateway-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { TurnDelivery, type DeliveryPolicy } from "../../src/turns/delivery.ts";
import { TurnService } from "../../src/turns/turn-service.ts";
import type { Turn } from "../../src/store/turns.ts";
import { assistantMsg, deferred, FakeGateway, never, okReply, userMsg } from "./fake-gateway.ts";
import { gatewayResponseError } from "./gateway-wire-error.ts";
import { memoryLogger, openTestDb, removeTempDirs, waitFor, type TestDb } from "./helpers.ts";

let db: TestDb;
let gw: FakeGateway;
let delivery: TurnDelivery;
let service: TurnService;
let controller: AbortController;
let running: Promise<void> | undefined;
let finished: Map<string, Turn>;
let finishWaiters: Map<string, (t: Turn) => void>;
let finishedTwice: string[];

const basePolicy: DeliveryPolicy = { concurrency: 4, turnTimeoutMs: 30_000, maxAttempts: 5, reconcilePollMs: 20 };

function setup(policy: Partial<DeliveryPolicy> = {}): void {
  delivery = new TurnDelivery({
    turns: db.turns,
    gateway: gw,
    clock: systemClock,
    log: memoryLogger("warn").log,
    policy: { ...basePolicy, ...policy },
    onFinished: (t) => {
      if (finished.has(t.id)) finishedTwice.push(t.id);
      finished.set(t.id, t);
      finishWaiters.get(t.id)?.(t);
      service.finished(t.id);
    },
  });
  service = new TurnService({ turns: db.turns, now: () => Date.now(), queueLimit: 100, onSubmitted: () => delivery.notify() });
}

function start(): void {
  running = delivery.run(controller.signal);
}

/** Resolves with the turn once delivery finished it (done or failed). */
function whenFinished(id: string): Promise<Turn> {
  const t = finished.get(id);
  if (t) return Promise.resolve(t);
  return new Promise((res) => finishWaiters.set(id, res));
}

function submit(conversationId: string, message = "hi"): string {
  return service.submit({ conversationId, message }).turnId;
}

beforeEach(() => {
  db = openTestDb();
  gw = new FakeGateway();
  controller = new AbortController();
  running = undefined;
  finished = new Map();
  finishWaiters = new Map();
  finishedTwice = [];
  delivery = undefined as unknown as TurnDelivery;
});

afterEach(async () => {
  if (delivery) await delivery.drain(0);
  controller.abort();
  await running;
  db.close();
  removeTempDirs();
  expect(finishedTwice, "turns reported finished more than once").toEqual([]);
});

describe("gateway errors made by the reference client", () => {
  it("a directly constructed GatewayClientRequestError is not recognised as a gateway answer", () => {
    expect(isGatewayProtocolResponseError(new GatewayClientRequestError({ code: "INVALID_REQUEST", message: "bad" }))).toBe(false);
  });

  it("an error from a real error frame is", async () => {
    const err = await gatewayResponseError({ code: "INVALID_REQUEST", message: "bad" });
    expect(err).toBeInstanceOf(GatewayClientRequestError);
    expect(isGatewayProtocolResponseError(err)).toBe(true);
    expect(err).toMatchObject({ gatewayCode: "INVALID_REQUEST", retryable: false, message: "bad" });
  });
});

describe("TurnDelivery", () => {
  it("sends a fresh turn once and completes it with the agent's reply", async () => {
    setup();
    gw.handlers.agent = async (_p, opts) => {
      opts?.onAccepted?.({ runId: "run-fresh", status: "accepted" });
      return okReply("echo: hi", "run-fresh");
    };
    start();
    const id = submit("conv-1", "hi");
    const t = await whenFinished(id);

    expect(t).toMatchObject({ state: "done", reply: "echo: hi", attempts: 1, runId: "run-fresh", gatewayGeneration: 1, idempotencyKey: id });
    const [call, ...rest] = gw.callsOf("agent");
    expect(rest).toEqual([]);
    expect(call!.params).toMatchObject({ message: "hi", sessionKey: "agent:main:conv-1", idempotencyKey: id });
    expect(call!.params.timeout).toBe(30);
    expect(call!.opts).toMatchObject({ expectFinal: true });
    expect(gw.callsOf("chat.history")).toEqual([]);
    expect(await service.waitFinished(id, 1_000)).toMatchObject({ state: "done", reply: "echo: hi" });
  });

  it("after a transport error, collects the reply from chat.history without sending again", async () => {
    setup();
    let id = "";
    gw.handlers.agent = async () => {
      throw new Error("gateway closed (1006): ");
    };
    gw.handlers["chat.history"] = async (p) => {
      expect(p).toMatchObject({ sessionKey: "agent:main:c" });
      return { messages: [userMsg(id), assistantMsg(id, "echo: hi")] };
    };
    start();
    id = submit("c");
    const t = await whenFinished(id);
    expect(t).toMatchObject({ state: "done", reply: "echo: hi", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(1);
    expect(gw.callsOf("agent.wait")).toHaveLength(0);
  });

  it("after the gateway restarted mid-turn, takes the gateway's own recovery reply", async () => {
    setup();
    let id = "";
    gw.handlers.agent = async (_p, opts) => {
      opts?.onAccepted?.({ runId: id, status: "accepted" });
      // The gateway crashes: a new generation comes up and the socket of the old one closed.
      gw.generation = 2;
      throw new Error("gateway closed (1012): service restart");
    };
    gw.handlers["chat.history"] = async () => ({
      messages: [
        userMsg(id),
        {
          role: "user",
          content: "[System] Your previous turn was interrupted...",
          idempotencyKey: "11111111-2222-4333-8444-555555555555:user",
          provenance: { kind: "internal_system", sourceTool: "main_session_restart_recovery" },
        },
        assistantMsg("11111111-2222-4333-8444-555555555555", "recovered answer"),
      ],
    });
    start();
    id = submit("c");
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "recovered answer", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(1);
    // The run id belonged to the dead gateway: agent.wait would not know it.
    expect(gw.callsOf("agent.wait")).toHaveLength(0);
  });

  it("after a transport error on the same gateway, waits for the run with agent.wait", async () => {
    setup();
    gw.handlers.agent = async (_p, opts) => {
      opts?.onAccepted?.({ runId: "run-same", status: "accepted" });
      throw new Error("gateway closed (1006): ");
    };
    gw.handlers["agent.wait"] = async (p) => {
      expect(p.runId).toBe("run-same");
      return { status: "ok", terminalReply: { text: "waited reply" } };
    };
    start();
    const id = submit("c");
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "waited reply" });
    expect(gw.callsOf("agent")).toHaveLength(1);
    expect(gw.callsOf("chat.history")).toHaveLength(0);
  });

  it("re-sends exactly once under <id>~2 when the gateway abandoned the input", async () => {
    setup();
    let id = "";
    gw.handlers.agent = async (p) => {
      if (gw.callsOf("agent").length === 1) throw new Error("gateway closed (1006): ");
      return okReply(`answer to ${p.idempotencyKey}`, p.idempotencyKey);
    };
    gw.handlers["chat.history"] = async () => ({
      messages: [],
      pendingInputs: { items: [{ id: "pi-1", state: "interrupted", runId: id, message: { role: "user", content: "hi" } }], total: 1 },
    });
    start();
    id = submit("c");
    const t = await whenFinished(id);
    expect(gw.callsOf("agent").map((c) => c.params.idempotencyKey)).toEqual([id, `${id}~2`]);
    expect(t).toMatchObject({ state: "done", reply: `answer to ${id}~2`, attempts: 2, idempotencyKey: `${id}~2` });
    expect(gw.callsOf("chat.history")).toHaveLength(1);
  });

  it("re-sends under the same key when the transcript shows the gateway never got the message", async () => {
    setup();
    const unavailable = await gatewayResponseError({ code: "UNAVAILABLE", message: "starting", retryable: true, retryAfterMs: 10 });
    gw.handlers.agent = async () => {
      if (gw.callsOf("agent").length === 1) throw unavailable;
      return okReply("second time lucky");
    };
    gw.handlers["chat.history"] = async () => ({ messages: [] });
    start();
    const id = submit("c");
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "second time lucky", attempts: 2 });
    expect(gw.callsOf("agent").map((c) => c.params.idempotencyKey)).toEqual([id, id]);
  });

  it("fails the turn with the gateway's code on a non-retryable error, without retrying", async () => {
    setup();
    const invalid = await gatewayResponseError({ code: "INVALID_REQUEST", message: "bad" });
    gw.handlers.agent = async () => {
      throw invalid;
    };
    start();
    const id = submit("c");
    expect(await whenFinished(id)).toMatchObject({ state: "failed", errorCode: "INVALID_REQUEST", errorMessage: "bad", reply: null });
    expect(gw.callsOf("agent")).toHaveLength(1);
    expect(gw.callsOf("chat.history")).toHaveLength(0);
  });

  it("fails with GATEWAY_RUN_FAILED when the run ends in an error status", async () => {
    setup();
    gw.handlers.agent = async () => ({ runId: "r", status: "error", error: { message: "model refused" } });
    start();
    const id = submit("c");
    const t = await whenFinished(id);
    expect(t).toMatchObject({ state: "failed", errorCode: "GATEWAY_RUN_FAILED" });
    expect(t.errorMessage).toContain("model refused");
  });

  it("fails with TURN_TIMEOUT once the turn's deadline passes", async () => {
    setup({ turnTimeoutMs: 300 });
    gw.handlers.agent = never;
    gw.handlers["chat.history"] = async () => ({ messages: [] });
    start();
    const id = submit("c");
    const t = await whenFinished(id);
    expect(t).toMatchObject({ state: "failed", errorCode: "TURN_TIMEOUT", errorMessage: "no reply within 300 ms" });
    expect(gw.callsOf("agent")).toHaveLength(1);
    expect(gw.callsOf("agent")[0]!.opts?.timeoutMs).toBeLessThanOrEqual(300);
  });

  it("gives up with TOO_MANY_ATTEMPTS after maxAttempts sends", async () => {
    setup({ maxAttempts: 2 });
    const unavailable = await gatewayResponseError({ code: "UNAVAILABLE", message: "busy", retryable: true, retryAfterMs: 5 });
    gw.handlers.agent = async () => {
      throw unavailable;
    };
    gw.handlers["chat.history"] = async () => ({ messages: [] });
    start();
    const id = submit("c");
    expect(await whenFinished(id)).toMatchObject({ state: "failed", errorCode: "TOO_MANY_ATTEMPTS", attempts: 2 });
    expect(gw.callsOf("agent")).toHaveLength(2);
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

  it("pause waits for in-flight turns and starts none until resume", async () => {
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
    expect(await pausing).toBe(0);
    expect(db.turns.get(first)?.state).toBe("done");
    delivery.notify();
    await new Promise((r) => setTimeout(r, 50));
    expect(db.turns.get(second)?.state).toBe("accepted");
    delivery.resume();
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
