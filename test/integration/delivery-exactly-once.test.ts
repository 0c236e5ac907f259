/**
 * TurnDelivery's exactly-once rules where the gateway's in-memory idempotency cannot help
 * (issue 10): resend only on proof of absence read back to the turn's first send, the transcript
 * before the deadline, one run at a time per gateway session, and a lost lease stopping the run
 * in the gateway. A real SQLite store and the in-process fake gateway connection.
 */
import { describe, expect, it } from "vitest";
import { CentralTurnStore } from "../../src/store/central.ts";
import { db, delivery, gw, setup, start, submit, useDeliveryHarness, whenFinished } from "./delivery-harness.ts";
import { assistantMsg, never, okReply, userMsg } from "./fake-gateway.ts";

useDeliveryHarness();

const claim = (turnId: string, over: Record<string, unknown> = {}) => ({
  turnId,
  conversationId: `conv-${turnId}`,
  message: `message of ${turnId}`,
  leaseId: "L1",
  leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
  ...over,
});

/** Stage a central turn sent under lease L1, its lease lost, and the same turn claimed again under L2 (requeued). */
function claimedAgainAfterLostLease(turnId: string, runGeneration?: number): CentralTurnStore {
  const central = new CentralTurnStore(db.db);
  const now = Date.now();
  expect(central.acceptClaim(claim(turnId), now)).toBe("inserted");
  db.turns.startDelivery(turnId, now, 30_000);
  if (runGeneration !== undefined) db.turns.setRun(turnId, turnId, runGeneration, now);
  expect(central.loseLease(turnId, "L1", now + 1, "lease expired")).toBe(true);
  expect(central.acceptClaim(claim(turnId, { leaseId: "L2" }), now + 2)).toBe("requeued");
  return central;
}

/** A transcript of `n` messages with `turnId`'s exchange `behind` messages from the end, paged as the gateway pages it. */
function pagedHistory(turnId: string, reply: string, behind: number) {
  const all = [userMsg(turnId), assistantMsg(turnId, reply), ...Array.from({ length: behind }, (_, i) => ({ role: "assistant", content: `note ${i}`, stopReason: "stop" }))];
  const reads: { limit: number; offset: number }[] = [];
  const handler = async (p: Record<string, any>) => {
    const limit = p.limit ?? 100;
    const offset = p.offset ?? 0;
    reads.push({ limit, offset });
    const end = all.length - offset;
    const start = Math.max(0, end - limit);
    const hasMore = start > 0;
    return { messages: all.slice(start, end), ...(hasMore ? { hasMore, nextOffset: offset + (end - start) } : { hasMore: false }) };
  };
  return { handler, reads };
}

describe("resend only when the transcript proves absence", () => {
  it("a turn followed by more than 50 messages is found in the transcript and not sent again", async () => {
    setup();
    const id = "t-long";
    db.turns.insert({ id, source: "local", conversationId: "c", sessionKey: "agent:main:c", message: "hi", now: Date.now() });
    db.turns.startDelivery(id, Date.now(), 30_000); // sent by a previous daemon, answer lost
    const { handler, reads } = pagedHistory(id, "the answer", 450);
    gw.handlers["chat.history"] = handler;
    gw.handlers.agent = async () => okReply("sent twice");
    start();
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "the answer", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(0);
    expect(reads.length).toBeGreaterThan(1);
  });

  it("a central turn claimed again after its lease was lost is looked up before any resend", async () => {
    setup();
    claimedAgainAfterLostLease("t-lease", 0); // run accepted by a gateway process since restarted
    gw.handlers["chat.history"] = async () => ({ messages: [userMsg("t-lease"), assistantMsg("t-lease", "answered the first time")] });
    gw.handlers.agent = async () => okReply("second run");
    start();
    expect(await whenFinished("t-lease")).toMatchObject({ state: "done", reply: "answered the first time", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(0);
  });

  it("a turn claimed again that the gateway never got is sent, counting one more attempt", async () => {
    setup();
    claimedAgainAfterLostLease("t-never");
    gw.handlers["chat.history"] = async () => ({ messages: [] });
    gw.handlers.agent = async () => okReply("first real run");
    start();
    expect(await whenFinished("t-never")).toMatchObject({ state: "done", reply: "first real run", attempts: 2 });
    expect(gw.callsOf("agent")).toHaveLength(1);
  });
});

describe("the transcript before the deadline", () => {
  it("a reply already in the transcript completes a turn whose deadline has passed", async () => {
    setup({ expiryCheckMs: 5_000 });
    const id = "t-late";
    const long = Date.now() - 120_000;
    db.turns.insert({ id, source: "local", conversationId: "c", sessionKey: "agent:main:c", message: "hi", now: long });
    db.turns.startDelivery(id, long, 30_000); // deadline 90 s ago
    gw.handlers["chat.history"] = async () => ({ messages: [userMsg(id), assistantMsg(id, "made it")] });
    start();
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "made it" });
  });

  it("a run still going at its deadline is aborted in the gateway and the turn fails TURN_TIMEOUT", async () => {
    setup({ turnTimeoutMs: 300, expiryCheckMs: 5_000 });
    gw.handlers.agent = never;
    gw.handlers["chat.history"] = async (p) => ({ messages: [userMsg(String(id))], _p: p });
    gw.handlers["sessions.abort"] = async () => ({ ok: true });
    start();
    const id = submit("c");
    expect(await whenFinished(id)).toMatchObject({ state: "failed", errorCode: "TURN_TIMEOUT" });
    await expect.poll(() => gw.callsOf("sessions.abort").map((c) => c.params)).toEqual([{ key: "agent:main:c", runId: id }]);
  });
});

describe("one run at a time per gateway session", () => {
  it("two central turns of different conversations and one explicit sessionKey never run at once", async () => {
    setup();
    const central = new CentralTurnStore(db.db);
    const now = Date.now();
    central.acceptClaim(claim("t-a", { conversationId: "conv-a", sessionKey: "agent:ops:shared" }), now);
    central.acceptClaim(claim("t-b", { conversationId: "conv-b", sessionKey: "agent:ops:shared" }), now + 1);
    let running = 0;
    let most = 0;
    gw.handlers.agent = async (p) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      return okReply(`reply to ${p.message}`);
    };
    start();
    const [a, b] = await Promise.all([whenFinished("t-a"), whenFinished("t-b")]);
    expect([a.reply, b.reply]).toEqual(["reply to message of t-a", "reply to message of t-b"]);
    expect(most).toBe(1);
    expect(gw.callsOf("agent").map((c) => c.params.message)).toEqual(["message of t-a", "message of t-b"]);
  });
});

describe("a lost lease stops the run", () => {
  it("aborts the run in the gateway, once it is reachable, and records no result", async () => {
    setup();
    const central = new CentralTurnStore(db.db);
    central.acceptClaim(claim("t-lost"), Date.now());
    gw.handlers.agent = never;
    gw.handlers["sessions.abort"] = async () => ({ ok: true });
    start();
    await expect.poll(() => gw.callsOf("agent").length).toBe(1);
    gw.setReady(false);
    expect(central.loseLease("t-lost", "L1", Date.now(), "lease expired")).toBe(true);
    expect(delivery.abortTurn("t-lost")).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(gw.callsOf("sessions.abort")).toHaveLength(0); // not reachable: kept for later
    gw.setReady(true);
    delivery.notify();
    await expect.poll(() => gw.callsOf("sessions.abort").map((c) => c.params)).toEqual([{ key: "agent:main:conv-t-lost", runId: "t-lost" }]);
    expect(db.turns.get("t-lost")).toMatchObject({ state: "failed", errorCode: "LEASE_LOST" });
  });

  it("an abort that did not go out (transport error) is sent again about a second later, with nothing else to wake delivery", async () => {
    setup();
    const central = new CentralTurnStore(db.db);
    central.acceptClaim(claim("t-retry"), Date.now());
    gw.handlers.agent = never;
    let failures = 1;
    gw.handlers["sessions.abort"] = async () => {
      // Fails once the job has ended and delivery sleeps (no gatewayCode: not answered).
      if (failures-- > 0) await new Promise((r) => setTimeout(r, 300)).then(() => Promise.reject(new Error("gateway connection lost")));
      return { ok: true, status: "aborted" };
    };
    start();
    await expect.poll(() => gw.callsOf("agent").length).toBe(1);
    expect(central.loseLease("t-retry", "L1", Date.now(), "lease expired")).toBe(true);
    delivery.abortTurn("t-retry");
    await expect.poll(() => gw.callsOf("sessions.abort").length).toBe(1);
    await expect.poll(() => gw.callsOf("sessions.abort").length, { timeout: 3_000 }).toBe(2);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(gw.callsOf("sessions.abort")).toHaveLength(2); // answered: not sent a third time
  });

  it("claimed again, its stopped run unanswered and nothing running in the session: fails RUN_STOPPED, never sent again", async () => {
    setup();
    claimedAgainAfterLostLease("t-stopped");
    let active = true;
    gw.handlers["chat.history"] = async () => ({ messages: [userMsg("t-stopped")], sessionInfo: { hasActiveRun: active } });
    gw.handlers.agent = async () => okReply("second run");
    start();
    await expect.poll(() => gw.callsOf("chat.history").length).toBeGreaterThan(2);
    expect(db.turns.get("t-stopped")!.state).toBe("delivering"); // a run is active: wait for it
    active = false;
    expect(await whenFinished("t-stopped")).toMatchObject({ state: "failed", errorCode: "RUN_STOPPED" });
    expect(gw.callsOf("agent")).toHaveLength(0);
  });
});
