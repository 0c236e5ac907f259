/**
 * Token usage through TurnDelivery with a real SQLite TurnStore and the fake gateway connection:
 * from the final `agent` answer (done or failed), from the transcript after an interrupted
 * delivery, none when the gateway reports none. The set-up is in delivery-harness.ts.
 */
import { describe, expect, it } from "vitest";
import { UsageStore } from "../../src/store/usage.ts";
import { assistantMsg, okReply, userMsg } from "./fake-gateway.ts";
import { db, gw, setup, start, submit, useDeliveryHarness, whenFinished } from "./delivery-harness.ts";

useDeliveryHarness();

const AGENT_META = { provider: "compat", model: "echo-1", sessionId: "s", usage: { input: 300, output: 42, cacheRead: 1100, cacheWrite: 100, total: 1542 } };
const USAGE = { provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 };
const withMeta = (res: ReturnType<typeof okReply>, agentMeta: unknown) => ({ ...res, result: { ...res.result, meta: { durationMs: 5, agentMeta } } });

describe("TurnDelivery records token usage", () => {
  it("from the final agent answer's agentMeta; the day's totals count it", async () => {
    setup();
    gw.handlers.agent = async () => withMeta(okReply("echo: hi"), AGENT_META);
    start();
    const t = await whenFinished(submit("c", "hi"));
    expect(t).toMatchObject({ state: "done", reply: "echo: hi", usage: USAGE });
    expect(db.turns.get(t.id)?.usage).toEqual(USAGE);
    expect(new UsageStore(db.db).dayOf(t.finishedAt!)).toMatchObject({ turns: 1, input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 });
  });

  it("from a failed run's answer, as the tokens it spent", async () => {
    setup();
    gw.handlers.agent = async () => ({ ...withMeta(okReply(""), { ...AGENT_META, usage: { input: 300, output: 0 } }), status: "error", summary: "failed" });
    start();
    const t = await whenFinished(submit("c", "hi"));
    expect(t).toMatchObject({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", usage: { ...USAGE, output: 0, cacheRead: 0, cacheWrite: 0 } });
  });

  it("none when the answer carries none (the turn still completes)", async () => {
    setup();
    gw.handlers.agent = async () => withMeta(okReply("echo: hi"), { provider: "compat", usage: "n/a" });
    start();
    const t = await whenFinished(submit("c", "hi"));
    expect(t).toMatchObject({ state: "done", reply: "echo: hi", usage: null });
  });

  it("from the transcript's assistant messages when the delivery was interrupted", async () => {
    setup();
    let id = "";
    gw.handlers.agent = async () => {
      throw new Error("gateway closed (1006): ");
    };
    gw.handlers["chat.history"] = async () => ({
      messages: [
        userMsg(id),
        { ...assistantMsg(id, ""), stopReason: "toolUse", provider: "compat", model: "echo-1", usage: { input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 } },
        { ...assistantMsg(id, "echo: hi"), provider: "compat", model: "echo-1", usage: { input: 20, output: 8, cacheRead: 1400, cacheWrite: 0 } },
      ],
    });
    start();
    id = submit("c", "hi");
    const t = await whenFinished(id);
    expect(t).toMatchObject({ state: "done", reply: "echo: hi", usage: { provider: "compat", model: "echo-1", input: 320, output: 50, cacheRead: 2500, cacheWrite: 100 } });
    expect(gw.callsOf("agent")).toHaveLength(1);
  });
});
