/**
 * TurnDelivery with a real SQLite TurnStore and an in-process fake of its dependency, the
 * gateway connection (fake-gateway.ts): sending a turn, collecting its reply after a transport
 * error or a gateway restart, re-sending, and failing a turn. Gateway error answers come from a
 * real protocol round trip (gateway-wire-error.ts) so `isGatewayProtocolResponseError` recognises
 * them. Ordering, concurrency, drain and pause are in delivery-scheduling.test.ts; the set-up is
 * in delivery-harness.ts.
 */
import { GatewayClientRequestError, isGatewayProtocolResponseError } from "@openclaw/gateway-client";
import { describe, expect, it } from "vitest";
import { assistantMsg, never, okReply, userMsg } from "./fake-gateway.ts";
import { gatewayResponseError } from "./gateway-wire-error.ts";
import { gw, service, setup, start, submit, useDeliveryHarness, whenFinished } from "./delivery-harness.ts";

useDeliveryHarness();

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

  it("records the reason of a failed run from its error payloads, as openclaw 2026.9.6 gives a context overflow", async () => {
    setup();
    const reason = "Context overflow: prompt too large for the model. Try /reset (or /new) to start a fresh session, or use a larger-context model.";
    gw.handlers.agent = async () => ({ runId: "r", status: "error", summary: "failed", result: { payloads: [{ text: reason, isError: true, mediaUrl: null }], meta: { durationMs: 572 } } });
    start();
    const t = await whenFinished(submit("c"));
    expect(t).toMatchObject({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: `run ended with status error ("failed"): ${reason}` });
    expect(gw.callsOf("agent")).toHaveLength(1);
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
});
