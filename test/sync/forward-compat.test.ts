/**
 * Forward compatibility: a control plane that adds fields to its answers (a newer version of the
 * contract) must not break the daemon. Every answer of the reference control plane carries an
 * extra field (fault `mutate: unknownField`, on every operation): the worker claims, heartbeats,
 * reports results and status, and reads secrets and skills as usual, logging the unknown fields
 * at debug level only.
 */
import { expect, it } from "vitest";
import { createControlPlaneClient } from "../../src/sync/client.ts";
import { memoryLogger, waitFor } from "../integration/helpers.ts";
import { ACCOUNT, RUNTIME, TOKEN } from "./fake-control-plane.ts";
import { referencePlaneSuite, sleep } from "./worker-harness.ts";

const s = referencePlaneSuite("as-sync-compat-", { leaseMs: 2_000 });

const outcomes = s.outcomes;

it("every answer with an extra field: claims, heartbeats, results and status work; the fields are logged at debug", async () => {
  s.cp.faults.add({ operation: "*", action: { kind: "mutate", mutation: "unknownField" } });
  s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c1", message: "m1", turnId: "ok" });
  s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c2", message: "m2", turnId: "bad" });
  const w = s.start({ autoDeliver: false });
  await waitFor(() => w.turns.get("ok") !== undefined && w.turns.get("bad") !== undefined, "both claimed", 10_000);
  w.turns.startDelivery("ok", Date.now(), 600_000);
  w.turns.startDelivery("bad", Date.now(), 600_000);
  // Leases of 2 s with beats every 100 ms: the turns outlive their first lease only through heartbeats.
  await sleep(2_500);
  expect(w.leaseLost).toEqual([]);
  expect(s.cp.getTurn("ok")!.leases[0]!.heartbeats).toBeGreaterThan(0);
  w.turns.complete("ok", "fine", Date.now());
  w.turns.fail("bad", "TURN_TIMEOUT", "too slow", Date.now());
  w.worker.notifyResult();
  await waitFor(() => s.cp.getTurn("ok")!.state === "done" && s.cp.getTurn("bad")!.state === "failed", "both results accepted", 10_000);
  expect([outcomes("ok"), outcomes("bad")]).toEqual([["accept"], ["accept"]]);
  await waitFor(() => w.central.outboxDepth() === 0, "outbox drained (acks read)");
  w.worker.notifyStateChange();
  await waitFor(() => w.worker.snapshot().lastStatusAt !== null, "status acknowledged");
  const text = w.sink.text();
  expect(text).not.toContain("ERR_CP_CONTRACT");
  expect(w.worker.snapshot().lastError).toBeNull();
  for (const field of ["unexpectedField", "turns.0.unexpectedField", "leases.0.unexpectedField"]) expect(text).toContain(`"${field}"`);
  const naming = w.sink.lines().filter((l) => JSON.stringify(l).includes("unexpectedField"));
  expect(naming.length).toBeGreaterThan(0);
  expect(new Set(naming.map((l) => l.level))).toEqual(new Set(["debug"]));
});

it("secrets and skills with extra fields are read; an error body with extra fields keeps its code", async () => {
  s.cp.setSecrets(RUNTIME, { openai: { apiKey: "sk-compat-1" } });
  s.cp.faults.add({ operation: "*", action: { kind: "mutate", mutation: "unknownField" } });
  const sink = memoryLogger("debug");
  const client = createControlPlaneClient({ baseUrl: s.cp.url, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch, log: sink.log });
  const secrets = await client.getSecrets(undefined);
  expect(secrets).toMatchObject({ kind: "changed", secrets: { version: "1", providers: { openai: { apiKey: "sk-compat-1" } } } });
  expect(await client.getSkills()).toMatchObject({ version: "0", skills: [] });
  s.cp.faults.clear();
  const body = JSON.stringify({ error: { code: "LEASE_LOST", message: "gone", detail: { since: 1 } }, requestId: "req-7" });
  s.cp.faults.add({ operation: "complete", times: 1, action: { kind: "raw", status: 409, body } });
  const err = await client.complete("t", { leaseId: "l", reply: "r", attempts: 1, finishedAt: new Date().toISOString() }).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: "ERR_CP_LEASE_LOST", serverCode: "LEASE_LOST" });
  expect(sink.text()).not.toContain("sk-compat-1");
});
