/**
 * Leases do not depend on the host clock. The worker runs with its wall clock 10 minutes ahead,
 * 10 minutes behind, or stepped forward mid-run, against control planes whose clocks are right:
 * the reference (which sends each lease's `leaseTtlMs`) and the fake (which does not: the HTTP
 * Date header stands in). Claims are delivered, leases are extended, and a lease that really runs
 * out is given up on time.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../integration/helpers.ts";
import { ACCOUNT, startFake, type RunningFake } from "./fake-control-plane.ts";
import { referencePlaneSuite, skewedClock, sleep, startWorker, type Harness } from "./worker-harness.ts";

const TEN_MIN = 10 * 60_000;
const s = referencePlaneSuite("as-sync-clock-", { leaseMs: 1_500 });

const outcomes = s.outcomes;

describe("against the reference control plane (leaseTtlMs)", () => {
  it.each([
    { name: "10 minutes ahead", skew: TEN_MIN },
    { name: "10 minutes behind", skew: -TEN_MIN },
  ])("host clock $name: claimed turns run past their first lease on heartbeats and are reported once", async ({ skew }) => {
    s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "skewed" });
    const w = s.start({ autoDeliver: false, clock: skewedClock({ ms: skew }) });
    await waitFor(() => w.turns.get("skewed") !== undefined, "claimed");
    expect(w.turns.get("skewed")!.state).toBe("accepted");
    w.turns.startDelivery("skewed", Date.now(), 600_000);
    await sleep(2_500); // beyond the 1.5 s lease: alive only through heartbeats
    expect(w.leaseLost).toEqual([]);
    w.deliverAll();
    w.turns.complete("skewed", "on time", Date.now());
    w.worker.notifyResult();
    await waitFor(() => s.cp.getTurn("skewed")!.state === "done", "done at the control plane", 10_000);
    expect(outcomes("skewed")).toEqual(["accept"]);
  });

  it("host clock 10 minutes behind: a lease whose heartbeats fail is given up when it really runs out", async () => {
    s.cp.faults.add({ operation: "heartbeat", action: { kind: "status", status: 503 } });
    s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "late" });
    let free = 4;
    const w = s.start({ autoDeliver: false, capacity: () => free, policy: { claimWaitMs: 100 }, clock: skewedClock({ ms: -TEN_MIN }) });
    await waitFor(() => w.turns.get("late") !== undefined, "claimed");
    const claimedAt = Date.now();
    free = 0; // no re-claim of the expired turn (that would adopt it under a new lease)
    w.turns.startDelivery("late", Date.now(), 600_000);
    await waitFor(() => w.leaseLost.includes("late"), "the lease given up", 6_000);
    // The lease is 1.5 s: given up after it (not before), and long before 10 minutes.
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(1_000);
    expect(w.turns.get("late")!.errorCode).toBe("LEASE_LOST");
  });

  it("host clock stepped 10 minutes forward mid-turn: no lease is lost, the turn is reported once", async () => {
    const skew = { ms: 0 };
    s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "stepped" });
    const w = s.start({ autoDeliver: false, clock: skewedClock(skew) });
    await waitFor(() => w.turns.get("stepped") !== undefined, "claimed");
    w.turns.startDelivery("stepped", Date.now(), 600_000);
    await sleep(300);
    skew.ms = TEN_MIN; // an NTP step
    await sleep(2_000);
    expect(w.leaseLost).toEqual([]);
    w.turns.complete("stepped", "done", Date.now());
    w.worker.notifyResult();
    await waitFor(() => s.cp.getTurn("stepped")!.state === "done", "done at the control plane", 10_000);
    expect(outcomes("stepped")).toEqual(["accept"]);
  });
});

describe("against a control plane without leaseTtlMs (the HTTP Date header)", () => {
  let fake: RunningFake;
  let h: Harness | undefined;
  beforeEach(async () => {
    fake = await startFake();
    fake.cp.leaseMs = 3_000;
  });
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    await fake.close();
  });

  it.each([TEN_MIN, -TEN_MIN])("host clock off by %i ms: the turn is delivered and reported", async (skew) => {
    fake.cp.enqueue({ turnId: "dated" });
    const w = startWorker({ url: fake.url, dbPath: s.dbPath, clock: skewedClock({ ms: skew }) });
    h = w;
    await waitFor(() => fake.cp.results.has("dated"), "result of the turn", 10_000);
    expect(w.leaseLost).toEqual([]);
    expect(w.sink.text()).not.toContain("already expired");
  });
});
