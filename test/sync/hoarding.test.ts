/**
 * Claimed turns are not hoarded: a turn claimed but not started within startTimeoutMs (the
 * gateway is down) has its lease no longer extended, so it runs out at the control plane and
 * another runtime of the account can take the turn.
 */
import { expect, it } from "vitest";
import { createControlPlaneClient } from "../../src/sync/client.ts";
import { waitFor } from "../integration/helpers.ts";
import { ACCOUNT, RUNTIME, TOKEN } from "./fake-control-plane.ts";
import { referencePlaneSuite, sleep } from "./worker-harness.ts";

const OTHER = "rt-2";
const s = referencePlaneSuite("as-sync-hoard-", { leaseMs: 1_000, runtimes: [{ runtimeId: RUNTIME, accountId: ACCOUNT }, { runtimeId: OTHER, accountId: ACCOUNT }] });

it("a turn claimed but not started within the bound lets its lease run out; another runtime takes it", async () => {
  let free = 1;
  s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "waiting" });
  const w = s.start({ autoDeliver: false, capacity: () => free, policy: { claimWaitMs: 100, startTimeoutMs: 600 } });
  await waitFor(() => w.turns.get("waiting") !== undefined, "claimed");
  free = 0; // what the daemon reports while the gateway is down, with the turn queued
  const other = createControlPlaneClient({ baseUrl: s.cp.url, token: TOKEN, runtimeId: OTHER, accountId: ACCOUNT, fetch: globalThis.fetch });
  // Leases of 1 s beaten every 100 ms: without the bound the turn would stay ours for good.
  const deadline = Date.now() + 5_000;
  let taken: Awaited<ReturnType<typeof other.claim>>["turns"] = [];
  while (taken.length === 0 && Date.now() < deadline) {
    taken = (await other.claim({ max: 1, waitMs: 0 })).turns;
    if (taken.length === 0) await sleep(100);
  }
  expect(taken.map((t) => t.turnId)).toEqual(["waiting"]);
  expect(s.cp.getTurn("waiting")!.attempts).toBe(2);
  await waitFor(() => w.leaseLost.includes("waiting"), "given up locally too");
  expect(w.turns.get("waiting")!.errorCode).toBe("LEASE_LOST");
  expect(w.sink.text()).toContain("its lease is no longer extended");
});

it("a turn that starts in time keeps its lease extended", async () => {
  s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "started" });
  const w = s.start({ autoDeliver: false, policy: { startTimeoutMs: 600 } });
  await waitFor(() => w.turns.get("started") !== undefined, "claimed");
  w.turns.startDelivery("started", Date.now(), 600_000);
  await sleep(2_000);
  expect(w.leaseLost).toEqual([]);
  expect(s.cp.getTurn("started")!.attempts).toBe(1);
});
