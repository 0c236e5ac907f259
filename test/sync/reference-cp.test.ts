/**
 * The sync worker against the reference control plane (src/dev/control-plane/) on a real socket:
 * an independent implementation of the contract, with its own record of every report received.
 */
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { startReferenceControlPlane, type RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { removeTempDirs, tempDir, waitFor } from "../integration/helpers.ts";
import { ACCOUNT, RUNTIME, TOKEN } from "./fake-control-plane.ts";
import { startWorker, type Harness } from "./worker-harness.ts";

let cp: RunningControlPlane;
let h: Harness | undefined;
let dbPath: string;

beforeEach(async () => {
  cp = await startReferenceControlPlane({ serviceToken: TOKEN, runtimes: [{ runtimeId: RUNTIME, accountId: ACCOUNT }], leaseMs: 2_000 });
  dbPath = join(tempDir("as-sync-ref-"), "agent-supervisor.db");
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
  await cp.close();
  removeTempDirs();
});

const outcomes = (turnId: string) => cp.getTurn(turnId)!.reports.map((r) => r.outcome);

it("claims, delivers and reports each turn exactly once; status arrives", async () => {
  const ids = ["r1", "r2", "r3"].map((turnId, i) => cp.enqueueTurn({ accountId: ACCOUNT, conversationId: `conv-${i}`, message: `m${i}`, turnId }).turnId);
  h = startWorker({ url: cp.url, dbPath });
  await waitFor(() => ids.every((id) => cp.getTurn(id)!.state === "done"), "all done at the control plane", 10_000);
  for (const id of ids) expect(outcomes(id)).toEqual(["accept"]);
  expect(cp.getTurn("r2")!.reply).toBe("echo: m1");
  await waitFor(() => cp.latestStatus(RUNTIME) !== undefined, "status report");
  expect(cp.latestStatus(RUNTIME)!.report).toMatchObject({ accountId: ACCOUNT, runtimeId: RUNTIME, status: "online" });
});

it("a lost acknowledgement is retried and counted once (duplicate)", async () => {
  cp.faults.add({ operation: "complete", times: 1, phase: "after", action: { kind: "close" } });
  cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "dup" });
  h = startWorker({ url: cp.url, dbPath });
  await waitFor(() => outcomes("dup").length >= 2 && h!.central.outboxDepth() === 0, "retried report", 10_000);
  expect(outcomes("dup")).toEqual(["accept", "duplicate"]);
  expect(cp.getTurn("dup")!.state).toBe("done");
});

it("a lease taken back mid-turn and re-offered to us at once is adopted: the turn keeps running, one report", async () => {
  cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "adopt" });
  const w = startWorker({ url: cp.url, dbPath, autoDeliver: false });
  h = w;
  await waitFor(() => w.turns.get("adopt") !== undefined, "claimed");
  w.turns.startDelivery("adopt", Date.now(), 600_000);
  const first = w.central.liveLeases()[0]!.leaseId;
  cp.expireLease("adopt");
  await waitFor(() => w.central.liveLeases()[0]?.leaseId !== first, "new lease adopted", 10_000);
  expect(w.turns.get("adopt")!.state).toBe("delivering");
  expect(w.leaseLost).toEqual([]);
  w.turns.complete("adopt", "done once", Date.now());
  w.worker.notifyResult();
  await waitFor(() => cp.getTurn("adopt")!.state === "done", "done at the control plane", 10_000);
  expect(outcomes("adopt")).toEqual(["accept"]);
  expect(cp.getTurn("adopt")!.attempts).toBe(2);
});

it("a cancelled turn: heartbeat says lost, delivery is told to stop, nothing is reported", async () => {
  cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "gone" });
  const w = startWorker({ url: cp.url, dbPath, autoDeliver: false });
  h = w;
  await waitFor(() => w.turns.get("gone") !== undefined, "claimed");
  w.turns.startDelivery("gone", Date.now(), 600_000);
  cp.cancelTurn("gone");
  await waitFor(() => w.leaseLost.includes("gone"), "lease lost", 10_000);
  expect(w.turns.get("gone")!.errorCode).toBe("LEASE_LOST");
  w.worker.notifyResult();
  await new Promise((r) => setTimeout(r, 300));
  expect(outcomes("gone")).toEqual([]);
});

it("a turn failed by a lost lease runs again when it is offered again later, and is reported once", async () => {
  let free = 4;
  cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "again", turnId: "lost" });
  const w = startWorker({ url: cp.url, dbPath, autoDeliver: false, capacity: () => free, policy: { claimWaitMs: 100 } });
  h = w;
  await waitFor(() => w.turns.get("lost") !== undefined, "claimed");
  w.turns.startDelivery("lost", Date.now(), 600_000);
  free = 0;
  await new Promise((r) => setTimeout(r, 300)); // any parked claim has returned
  cp.expireLease("lost");
  await waitFor(() => w.leaseLost.includes("lost"), "lease lost", 10_000);
  expect(w.turns.get("lost")!.errorCode).toBe("LEASE_LOST");
  free = 4;
  w.worker.notifyCapacity();
  await waitFor(() => w.turns.get("lost")!.state === "accepted", "requeued", 10_000);
  w.deliverAll();
  await waitFor(() => cp.getTurn("lost")!.state === "done", "done at the control plane", 10_000);
  expect(outcomes("lost")).toEqual(["accept"]);
  expect(cp.getTurn("lost")!.attempts).toBe(2);
});
