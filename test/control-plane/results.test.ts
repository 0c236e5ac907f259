/** complete / fail over real HTTP: idempotence on the turn id, duplicates, lost leases, conflicts. */
import { afterEach, describe, expect, it } from "vitest";
import { ACC, claimBody, closePlanes, completeBody, failBody, OTHER_ACC, OTHER_RT, RT, RT2, startPlane, T0, type Plane } from "./harness.ts";

afterEach(closePlanes);

/** Enqueue one turn and claim it from `runtimeId`. */
async function claimed(p: Plane, runtimeId = RT) {
  const { turnId } = p.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "m" });
  const [t] = (await p.v1("claim", { runtimeId }, claimBody(1, 0, runtimeId))).json.turns;
  return { turnId, leaseId: t.leaseId as string };
}

describe("complete", () => {
  it("stores the first result; a repeat answers duplicate: true and is counted", async () => {
    const p = await startPlane();
    const { turnId, leaseId } = await claimed(p);
    const first = await p.v1("complete", { turnId }, completeBody(leaseId, "hello"));
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ accountId: ACC, runtimeId: RT, turnId, duplicate: false });
    const again = await p.v1("complete", { turnId }, completeBody(leaseId, "hello"));
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ accountId: ACC, runtimeId: RT, turnId, duplicate: true });

    const view = (await p.admin("GET", `/turns/${turnId}`)).json;
    expect(view).toMatchObject({ state: "done", reply: "hello", error: null, result: { kind: "complete", leaseId, attempts: 1, finishedAt: new Date(T0).toISOString() } });
    expect(view.reports.map((r: { outcome: string }) => r.outcome)).toEqual(["accept", "duplicate"]);
    expect(view.reports[1].body).toEqual(completeBody(leaseId, "hello"));
    expect(view.leases[0].endReason).toBe("completed");
  });

  it("keeps the token usage of the accepted result and shows it in the admin view; without usage it is null; a malformed one is a 400", async () => {
    const p = await startPlane();
    const usage = { provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 };
    const a = await claimed(p);
    const bad = await p.v1("complete", { turnId: a.turnId }, { ...completeBody(a.leaseId), usage: { ...usage, input: -1 } });
    expect(bad.status).toBe(400);
    expect(p.cp.getTurn(a.turnId)?.state).toBe("leased");
    expect((await p.v1("complete", { turnId: a.turnId }, { ...completeBody(a.leaseId), usage })).json.duplicate).toBe(false);
    expect((await p.admin("GET", `/turns/${a.turnId}`)).json).toMatchObject({ state: "done", usage });
    expect(p.cp.getTurn(a.turnId)?.usage).toEqual(usage);
    const b = await claimed(p);
    await p.v1("complete", { turnId: b.turnId }, completeBody(b.leaseId));
    expect(p.cp.getTurn(b.turnId)?.usage).toBeNull();
  });

  it("the first result wins even if a repeat carries another reply", async () => {
    const p = await startPlane();
    const { turnId, leaseId } = await claimed(p);
    await p.v1("complete", { turnId }, completeBody(leaseId, "first"));
    expect((await p.v1("complete", { turnId }, completeBody(leaseId, "second"))).json.duplicate).toBe(true);
    expect(p.cp.getTurn(turnId)?.reply).toBe("first");
  });

  it("accepts a result under the current lease after it ran out, while nobody re-claimed the turn", async () => {
    const p = await startPlane({ leaseMs: 1000 });
    const { turnId, leaseId } = await claimed(p);
    p.clock.now = T0 + 5000;
    expect((await p.v1("complete", { turnId }, completeBody(leaseId))).json.duplicate).toBe(false);
  });

  it("409 LEASE_LOST for a result under a lease that was re-leased to another runtime; that runtime's result wins", async () => {
    const p = await startPlane({ leaseMs: 1000 });
    const { turnId, leaseId: old } = await claimed(p);
    p.clock.now = T0 + 1000;
    const [again] = (await p.v1("claim", { runtimeId: RT2 }, claimBody(1, 0, RT2))).json.turns;
    expect(again.attempt).toBe(2);

    const late = await p.v1("complete", { turnId }, completeBody(old, "late"));
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("LEASE_LOST");
    const ok = await p.v1("complete", { turnId }, completeBody(again.leaseId, "winner", RT2));
    expect(ok.json).toEqual({ accountId: ACC, runtimeId: RT2, turnId, duplicate: false });
    // Still lost after the turn finished under the other lease.
    expect((await p.v1("complete", { turnId }, completeBody(old, "late"))).json.error.code).toBe("LEASE_LOST");
    const view = p.cp.getTurn(turnId)!;
    expect(view.reply).toBe("winner");
    expect(view.reports.map((r) => r.outcome)).toEqual(["lease-lost", "accept", "lease-lost"]);
  });

  it("409 LEASE_LOST for a cancelled turn and for a lease id the turn never had", async () => {
    const p = await startPlane();
    const { turnId, leaseId } = await claimed(p);
    expect((await p.v1("complete", { turnId }, completeBody("made-up-lease"))).json.error.code).toBe("LEASE_LOST");
    p.cp.cancelTurn(turnId);
    const a = await p.v1("complete", { turnId }, completeBody(leaseId));
    expect(a.status).toBe(409);
    expect(a.json.error.code).toBe("LEASE_LOST");
    expect(p.cp.getTurn(turnId)?.state).toBe("cancelled");
  });

  it("404 for an unknown turn and for a turn of another account", async () => {
    const p = await startPlane();
    expect((await p.v1("complete", { turnId: "no-such-turn" }, completeBody("l"))).status).toBe(404);
    const { turnId } = p.cp.enqueueTurn({ accountId: OTHER_ACC, conversationId: "c", message: "m" });
    const [t] = (await p.v1("claim", { runtimeId: OTHER_RT }, claimBody(1, 0, OTHER_RT, OTHER_ACC))).json.turns;
    const a = await p.v1("complete", { turnId }, completeBody(t.leaseId));
    expect(a.status).toBe(404);
    expect(a.json.error.code).toBe("NOT_FOUND");
  });

  it("403 when the body names an account the runtime does not belong to", async () => {
    const p = await startPlane();
    const { turnId, leaseId } = await claimed(p);
    const a = await p.v1("complete", { turnId }, completeBody(leaseId, "x", RT, OTHER_ACC));
    expect(a.status).toBe(403);
    expect(a.json.error.code).toBe("FORBIDDEN");
  });
});

describe("fail", () => {
  it("stores the error; a repeat is a duplicate; a complete afterwards conflicts (409 LEASE_LOST)", async () => {
    const p = await startPlane();
    const { turnId, leaseId } = await claimed(p);
    expect((await p.v1("fail", { turnId }, failBody(leaseId))).json).toEqual({ accountId: ACC, runtimeId: RT, turnId, duplicate: false });
    expect((await p.v1("fail", { turnId }, failBody(leaseId))).json.duplicate).toBe(true);
    const conflict = await p.v1("complete", { turnId }, completeBody(leaseId));
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe("LEASE_LOST");
    expect(conflict.json.error.message).toMatch(/already has a fail result/);
    expect(p.cp.getTurn(turnId)?.reports.map((r) => r.outcome)).toEqual(["accept", "duplicate", "conflict"]);
    expect(p.cp.getTurn(turnId)).toMatchObject({
      state: "failed",
      reply: null,
      error: { code: "TURN_TIMEOUT", message: "the turn took too long" },
      result: { kind: "fail", attempts: 2 },
    });
    expect(p.cp.getTurn(turnId)?.leases[0]?.endReason).toBe("failed");
  });

  it("400 for a fail body that breaks the contract", async () => {
    const p = await startPlane();
    const { turnId, leaseId } = await claimed(p);
    const a = await p.v1("fail", { turnId }, { ...failBody(leaseId), error: { code: "", message: "m" } });
    expect(a.status).toBe(400);
    expect(a.json.error.message).toMatch(/error\.code/);
  });
});
