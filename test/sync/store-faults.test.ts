/**
 * The sync worker when SQLite refuses its writes (issue 10, item 5), with a control plane on a
 * real socket and a real SQLite file whose writes a trigger refuses at one site: the loops keep
 * running, nothing is lost, no result is reported under a lease that was not kept, and the
 * store's failure is not shown as a control-plane error.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../integration/helpers.ts";
import { sleep, useWorkerOnFake, type Harness } from "./worker-harness.ts";

const site = useWorkerOnFake();
const start = site.start;
const refuse = (w: Harness, name: string, on: string, when = "1") =>
  w.db.exec(`CREATE TRIGGER ${name} BEFORE ${on} WHEN ${when} BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);

describe("SyncWorker when SQLite writes fail", () => {
  it("a result acknowledged but not marked reported is reported again once the write lands (a duplicate ack), and the store's error is not a control-plane error", async () => {
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false });
    await waitFor(() => w.turns.get("t1") !== undefined, "claimed");
    refuse(w, "no_mark", "UPDATE OF reported_at ON turns", "NEW.reported_at IS NOT NULL");
    w.deliverAll();
    await waitFor(() => site.fake.cp.count("complete") >= 2, "the result reported, and again after the failed write", 5_000);
    expect(w.central.outboxDepth()).toBe(1);
    expect(w.worker.snapshot().lastError).toBeNull();

    w.db.exec("DROP TRIGGER no_mark");
    await waitFor(() => w.central.outboxDepth() === 0, "outbox drained", 5_000);
    expect(site.fake.cp.results.size).toBe(1);
    expect(site.fake.cp.results.get("t1")!.body.reply).toBe("echo: hello t1");
    expect(w.worker.snapshot().lastError).toBeNull();
  });

  it("a lease whose extension cannot be written is still kept (the lease clock is in memory), and the result is reported under it", async () => {
    site.fake.cp.leaseMs = 600;
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false, policy: { heartbeatIntervalMs: 100 } });
    await waitFor(() => w.turns.get("t1") !== undefined, "claimed");
    refuse(w, "no_extend", "UPDATE OF lease_expires_at ON turns");
    await sleep(1_500); // two and a half lease periods of heartbeats whose write fails
    expect(w.leaseLost).toEqual([]);
    expect(w.turns.get("t1")?.state).toBe("accepted");

    w.db.exec("DROP TRIGGER no_extend");
    w.deliverAll();
    await waitFor(() => site.fake.cp.results.has("t1"), "the result", 5_000);
    expect(site.fake.cp.count("complete")).toBe(1);
  });

  it("with several leases whose extensions cannot be written, every one is still kept (one failed write does not skip the others)", async () => {
    site.fake.cp.leaseMs = 600;
    site.fake.cp.enqueue({ turnId: "t1", conversationId: "c1" }, { turnId: "t2", conversationId: "c2" }, { turnId: "t3", conversationId: "c3" });
    const w = start({ autoDeliver: false, policy: { heartbeatIntervalMs: 100 } });
    await waitFor(() => w.central.centralInFlight() === 3, "three claimed");
    refuse(w, "no_extend", "UPDATE OF lease_expires_at ON turns");
    await sleep(1_500);
    expect(w.leaseLost).toEqual([]);
    expect(["t1", "t2", "t3"].map((id) => w.turns.get(id)?.state)).toEqual(["accepted", "accepted", "accepted"]);

    w.db.exec("DROP TRIGGER no_extend");
    w.deliverAll();
    await waitFor(() => site.fake.cp.results.size === 3, "three results", 5_000);
  });

  it("a lost lease whose LEASE_LOST cannot be written still stops the turn's run at once, and is written once possible", async () => {
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start({ autoDeliver: false });
    await waitFor(() => w.turns.get("t1") !== undefined, "claimed");
    w.turns.startDelivery("t1", Date.now(), 600_000);
    refuse(w, "no_lose", "UPDATE OF lease_lost_at ON turns", "NEW.lease_lost_at IS NOT NULL");
    site.fake.cp.leases.get("t1")!.lost = true;
    await waitFor(() => w.leaseLost.includes("t1"), "delivery told to stop the turn", 3_000);
    expect(w.turns.get("t1")?.state).toBe("delivering");

    w.db.exec("DROP TRIGGER no_lose");
    await waitFor(() => w.turns.get("t1")?.errorCode === "LEASE_LOST", "LEASE_LOST written", 5_000);
    w.worker.notifyResult();
    await sleep(300);
    expect(site.fake.cp.count("complete") + site.fake.cp.count("fail")).toBe(0);
  });

  it("a claimed turn that cannot be stored is taken when the control plane offers it again, and run once", async () => {
    site.fake.cp.leaseMs = 400;
    site.fake.cp.enqueue({ turnId: "t1" });
    const w = start();
    refuse(w, "no_insert", "INSERT ON turns");
    await waitFor(() => site.fake.cp.count("claim") >= 1 && w.sink.text().includes("cannot store a claimed turn"), "a claim the store refused", 5_000);
    expect(w.turns.get("t1")).toBeUndefined();
    expect(w.worker.snapshot().lastError).toBeNull();

    w.db.exec("DROP TRIGGER no_insert");
    // The fake offers a turn once; the control plane re-offers it after its lease expired.
    site.fake.cp.enqueue({ turnId: "t1" });
    await waitFor(() => site.fake.cp.results.has("t1"), "the result", 5_000);
    expect(w.turns.get("t1")).toMatchObject({ state: "done", attempts: 1 });
    expect(site.fake.cp.count("complete")).toBe(1);
  });
});
