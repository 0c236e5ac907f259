/**
 * TurnDelivery.stopStuck (issue 12, stuck runs): a run aborted for making no progress is
 * reconciled from its transcript, never run a second time unless the transcript proves the gateway
 * never had the turn. A real SQLite store and the in-process fake gateway; the aborted `agent`
 * request ends the way openclaw 2026.9.6 ends it (`{status:"timeout", summary:"aborted"}`).
 */
import { describe, expect, it } from "vitest";
import { db, delivery, gw, setup, start, submit, useDeliveryHarness, whenFinished } from "./delivery-harness.ts";
import { assistantMsg, deferred, okReply, userMsg } from "./fake-gateway.ts";

useDeliveryHarness();

const ABORTED = { status: "timeout", summary: "aborted", stopReason: "rpc" };

/** An `agent` handler that acknowledges, then hangs until sessions.abort names its run (then answers `final`). */
function stallUntilAborted(final: unknown = ABORTED) {
  const aborted = deferred();
  const accepted = deferred();
  gw.handlers.agent = async (p, opts) => {
    opts?.onAccepted?.({ runId: p.idempotencyKey, status: "accepted" });
    accepted.resolve();
    await aborted.promise;
    return final;
  };
  gw.handlers["sessions.abort"] = async () => {
    aborted.resolve();
    return { ok: true, abortedRunId: null, status: "aborted" };
  };
  return { accepted: accepted.promise };
}

describe("a run aborted as stuck", () => {
  it("without a reply in the transcript, fails RUN_STUCK after one send, with the reason", async () => {
    setup();
    const { accepted } = stallUntilAborted();
    start();
    const id = submit("c1");
    await accepted;
    gw.handlers["chat.history"] = async () => ({ messages: [userMsg(id)], sessionInfo: { hasActiveRun: false } });
    expect(delivery.stopStuck(id, "run X made no progress for 240 s")).toBe(true);
    const t = await whenFinished(id);
    expect(t).toMatchObject({ state: "failed", errorCode: "RUN_STUCK", attempts: 1 });
    expect(t.errorMessage).toContain("run X made no progress for 240 s");
    expect(gw.callsOf("agent")).toHaveLength(1);
    expect(gw.callsOf("sessions.abort").map((c) => c.params)).toEqual([{ key: "agent:main:c1", runId: id }]);
    // The gateway's answer to the aborted request is not the verdict: agent.wait is not asked either.
    expect(gw.callsOf("agent.wait")).toHaveLength(0);
  });

  it("completes with a reply that reached the transcript before the abort took effect", async () => {
    setup();
    const { accepted } = stallUntilAborted();
    start();
    const id = submit("c2");
    await accepted;
    gw.handlers["chat.history"] = async () => ({ messages: [userMsg(id), assistantMsg(id, "late but here")], sessionInfo: { hasActiveRun: false } });
    delivery.stopStuck(id, "no progress");
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "late but here", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(1);
  });

  it("an ok final after the abort (the run finished meanwhile) completes the turn", async () => {
    setup();
    const { accepted } = stallUntilAborted(okReply("finished anyway"));
    start();
    const id = submit("c3");
    await accepted;
    delivery.stopStuck(id, "no progress");
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "finished anyway" });
  });

  it("is sent again only when the transcript proves the gateway never had it", async () => {
    setup();
    const { accepted } = stallUntilAborted();
    const stalled = gw.handlers.agent!;
    gw.handlers.agent = (p, opts, call) => (gw.callsOf("agent").length === 1 ? stalled(p, opts, call) : Promise.resolve(okReply("ran once")));
    start();
    const id = submit("c4");
    await accepted;
    gw.handlers["chat.history"] = async () => ({ messages: [], sessionInfo: { hasActiveRun: false } });
    delivery.stopStuck(id, "no progress");
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "ran once", attempts: 2 });
    expect(gw.callsOf("agent")).toHaveLength(2);
  });

  it("a connection lost after the abort: reconciled, a run still active there is stopped again, RUN_STUCK", async () => {
    setup();
    const accepted = deferred();
    gw.handlers.agent = async (p, opts) => {
      opts?.onAccepted?.({ runId: p.idempotencyKey });
      accepted.resolve();
      await new Promise((r) => setTimeout(r, 30));
      throw new Error("gateway closed (1012): service restart");
    };
    gw.handlers["sessions.abort"] = async () => ({ ok: true, status: "aborted" });
    start();
    const id = submit("c5");
    await accepted.promise;
    gw.handlers["chat.history"] = async () => ({ messages: [userMsg(id)], sessionInfo: { hasActiveRun: true } });
    delivery.stopStuck(id, "no progress");
    expect(await whenFinished(id)).toMatchObject({ state: "failed", errorCode: "RUN_STUCK", attempts: 1 });
    expect(gw.callsOf("sessions.abort").length).toBeGreaterThanOrEqual(2);
    expect(gw.callsOf("agent")).toHaveLength(1);
  });

  it("a queued turn cancelled by the session abort (abortRun false): sent again under a new key, no run abort", async () => {
    setup();
    const cancelled = deferred();
    const accepted = deferred();
    gw.handlers.agent = async (p, opts) => {
      if (gw.callsOf("agent").length > 1) return okReply(`ran once as ${p.idempotencyKey}`);
      opts?.onAccepted?.({ runId: p.idempotencyKey, status: "accepted" });
      accepted.resolve();
      await cancelled.promise;
      return ABORTED;
    };
    start();
    const id = submit("c6");
    await accepted.promise;
    // What openclaw 2026.9.6 shows after sessions.abort cancelled a queued input: pendingInputs `cancelled`.
    gw.handlers["chat.history"] = async () => ({ messages: [], pendingInputs: { items: [{ runId: id, state: "cancelled" }] }, sessionInfo: { hasActiveRun: true } });
    expect(delivery.stopStuck(id, "queued, never started", false)).toBe(true);
    cancelled.resolve();
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: `ran once as ${id}~2`, attempts: 2 });
    expect(gw.callsOf("sessions.abort")).toHaveLength(0);
  });

  it("stopStuck of a turn that is not in flight does nothing", async () => {
    setup();
    start();
    expect(delivery.stopStuck("nope", "no progress")).toBe(false);
    expect(gw.callsOf("sessions.abort")).toHaveLength(0);
    expect(db.turns.get("nope")).toBeUndefined();
  });
});
