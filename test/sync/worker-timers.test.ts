/**
 * SyncWorker under vitest fake timers with an in-process client (no socket): stopping leaves no
 * timer behind, and the loops keep their rhythm in virtual time.
 */
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { CentralTurnStore } from "../../src/store/central.ts";
import { openDb } from "../../src/store/db.ts";
import type { ControlPlaneClient } from "../../src/sync/client.ts";
import { ControlPlaneError } from "../../src/sync/errors.ts";
import { SyncWorker } from "../../src/sync/worker.ts";
import { memoryLogger, removeTempDirs, tempDir } from "../integration/helpers.ts";
import { ACCOUNT, RUNTIME } from "./fake-control-plane.ts";
import { FAST, STATUS } from "./worker-harness.ts";

afterEach(() => {
  vi.useRealTimers();
  removeTempDirs();
});

/** A client whose claims long-poll (in fake time) and never return work; counts calls. */
function stubClient(calls: Record<string, number>): ControlPlaneClient {
  const hit = (op: string) => (calls[op] = (calls[op] ?? 0) + 1);
  const parked = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new ControlPlaneError("ERR_CP_ABORTED", "aborted"));
      }, { once: true });
    });
  const id = { accountId: ACCOUNT, runtimeId: RUNTIME };
  return {
    reportStatus: async () => (hit("status"), { receivedAt: new Date().toISOString() }),
    claim: async (req, opts) => {
      hit("claim");
      await parked(req.waitMs, opts?.signal);
      return { turns: [], announced: {}, waitMs: req.waitMs };
    },
    heartbeat: async () => (hit("heartbeat"), []),
    complete: async (turnId) => (hit("complete"), { ...id, turnId, duplicate: false }),
    fail: async (turnId) => (hit("fail"), { ...id, turnId, duplicate: false }),
    getSecrets: async () => ({ kind: "none" }),
    getSkills: async () => ({ ...id, version: "1", skills: [] }),
    shipAuditEvents: async (events) => (hit("audit"), events.map((e) => e.id)),
  };
}

it("stopping leaves no timer behind, with a long-poll parked and every loop asleep", async () => {
  vi.useFakeTimers();
  const db = openDb(join(tempDir("as-sync-"), "agent-supervisor.db"));
  const calls: Record<string, number> = {};
  const central = new CentralTurnStore(db);
  const worker = new SyncWorker({
    client: stubClient(calls),
    central,
    intake: central,
    clock: systemClock,
    random: () => 0.5,
    log: memoryLogger("warn").log,
    policy: { ...FAST, claimWaitMs: 25_000, statusIntervalMs: 30_000, statusKeepaliveMs: 45_000, heartbeatIntervalMs: 10_000 },
    capacity: () => 4,
    onClaimed: () => {},
    onLeaseLost: () => {},
    statusSnapshot: async () => STATUS,
  });
  const ac = new AbortController();
  const running = worker.run(ac.signal);
  await vi.advanceTimersByTimeAsync(61_000);
  // Claims: long-polls of 25 s each plus idle jitter. Status: looked at every 30 s, unchanged, so
  // sent at 0 and on the keepalive at 45 s only.
  expect(calls.claim).toBe(3);
  expect(calls.status).toBe(2);
  expect(vi.getTimerCount()).toBeGreaterThan(0);
  ac.abort();
  await running;
  expect(vi.getTimerCount()).toBe(0);
  db.close();
});
