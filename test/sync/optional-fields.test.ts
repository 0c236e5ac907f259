/**
 * The optional request fields added to contract 1 (contract.ts OPTIONAL_REQUEST_FIELDS: the
 * complete and fail reports' `usage`, the status report's `budget`) are sent only to a control
 * plane that lists them in `accepts`. Against the real reference control plane on 127.0.0.1, once
 * as a newer one (it takes them all) and once as one on the first contract (`accepts: []`: its
 * strict schemas answer 400 to them, and it lists none). Before this, a newer daemon's reports to
 * a first-contract control plane were refused forever: leases expired and turns ran again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startReferenceControlPlane, type RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { createControlPlaneClient, type ControlPlaneClient, type StatusInput } from "../../src/sync/client.ts";
import { ACCOUNT, RUNTIME, TOKEN } from "./fake-control-plane.ts";
import { STATUS } from "./worker-harness.ts";

const USAGE = { provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 };
const BUDGET = { limit: 1000, used: 442, state: "ok" as const, action: "warn" as const, resetsAt: "2026-12-01T00:00:00.000Z" };
const OPENCLAW = { desired: "2026.9.7", lastFailed: null, step: null };
const status = (): StatusInput => ({ ...STATUS, budget: BUDGET, openclaw: OPENCLAW, sentAt: new Date().toISOString() });

let cp: RunningControlPlane | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
});

async function start(accepts?: readonly string[]): Promise<{ cp: RunningControlPlane; client: ControlPlaneClient }> {
  cp = await startReferenceControlPlane({ serviceToken: TOKEN, runtimes: [{ runtimeId: RUNTIME, accountId: ACCOUNT }], ...(accepts ? { accepts } : {}) });
  return { cp, client: createControlPlaneClient({ baseUrl: cp.url, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch }) };
}

/** Claim one enqueued turn; its lease id. */
async function claimOne(c: RunningControlPlane, client: ControlPlaneClient, turnId: string): Promise<string> {
  c.enqueueTurn({ accountId: ACCOUNT, conversationId: `conv-${turnId}`, message: "m", turnId });
  const [t] = (await client.claim({ max: 1, waitMs: 0 })).turns;
  expect(t?.turnId).toBe(turnId);
  return t!.leaseId;
}

describe("a control plane that takes the optional fields (lists them in accepts)", () => {
  it("gets the budget from the second status report on (the first goes before any answer listed it), and usage in complete and fail", async () => {
    const { cp: c, client } = await start();
    await client.reportStatus(status());
    expect(c.latestStatus(RUNTIME)?.report.budget).toBeUndefined();
    await client.reportStatus(status());
    expect(c.latestStatus(RUNTIME)?.report.budget).toEqual(BUDGET);
    expect(c.latestStatus(RUNTIME)?.report.openclaw).toEqual(OPENCLAW);

    const done = await claimOne(c, client, "t-done");
    await client.complete("t-done", { leaseId: done, reply: "r", attempts: 1, finishedAt: new Date().toISOString(), usage: USAGE });
    expect(c.getTurn("t-done")?.usage).toEqual(USAGE);

    const failed = await claimOne(c, client, "t-failed");
    await client.fail("t-failed", { leaseId: failed, error: { code: "GATEWAY_RUN_FAILED", message: "x" }, attempts: 1, finishedAt: new Date().toISOString(), usage: USAGE });
    expect(c.getTurn("t-failed")?.reports.at(-1)?.body).toMatchObject({ usage: USAGE });
  });
});

describe("a control plane on the first contract (accepts: [])", () => {
  it("refuses the fields it does not take with 400, as its strict schemas do (so the case below is a real one)", async () => {
    const { cp: c } = await start([]);
    const res = await fetch(`${c.url}/v1/runtimes/${RUNTIME}/status`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ accountId: ACCOUNT, runtimeId: RUNTIME, ...status() }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
  });

  it("gets every status report and result, without the fields: nothing is refused, nothing reported twice", async () => {
    const { cp: c, client } = await start([]);
    for (let i = 0; i < 2; i++) await client.reportStatus(status());
    expect(c.latestStatus(RUNTIME)?.report).not.toHaveProperty("budget");
    expect(c.latestStatus(RUNTIME)?.report).not.toHaveProperty("openclaw");

    const done = await claimOne(c, client, "t-done");
    const ack = await client.complete("t-done", { leaseId: done, reply: "r", attempts: 1, finishedAt: new Date().toISOString(), usage: USAGE });
    expect(ack.duplicate).toBe(false);
    expect(c.getTurn("t-done")).toMatchObject({ state: "done", reply: "r", usage: null });

    const failed = await claimOne(c, client, "t-failed");
    await client.fail("t-failed", { leaseId: failed, error: { code: "GATEWAY_RUN_FAILED", message: "x" }, attempts: 1, finishedAt: new Date().toISOString(), usage: USAGE });
    expect(c.getTurn("t-failed")?.reports.map((r) => r.outcome)).toEqual(["accept"]);
    expect(c.getTurn("t-failed")?.reports[0]?.body).not.toHaveProperty("usage");
  });
});
