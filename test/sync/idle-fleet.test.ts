/**
 * A fleet that idles cheaply (issue 15), against the real reference control plane on 127.0.0.1:
 * the real client and sync worker, a real SecretsPoller wired as the daemon wires it, a real
 * SQLite file. Requests are counted by wrapping the client's fetch. Nothing here measures time;
 * the request rates are in bench/idle-fleet.ts.
 */
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startReferenceControlPlane, type RunningControlPlane, type StartReferenceControlPlaneOptions } from "../../src/dev/control-plane/server.ts";
import { systemClock } from "../../src/core/clock.ts";
import { createControlPlaneClient, type ControlPlaneClient } from "../../src/sync/client.ts";
import { BASE_MAX_WAIT_MS, MAX_WAIT_MS } from "../../src/sync/contract.ts";
import { SecretsPoller, type SecretsChange } from "../../src/sync/secrets-poller.ts";
import type { StatusSnapshotInput } from "../../src/sync/worker.ts";
import { removeTempDirs, tempDir, waitFor } from "../integration/helpers.ts";
import { ACCOUNT, RUNTIME, TOKEN } from "./fake-control-plane.ts";
import { STATUS, startWorker, type Harness, type HarnessOptions } from "./worker-harness.ts";

const KEYS = (k: string) => ({ compat: { baseUrl: "http://127.0.0.1:1/v1", apiKey: k, model: "m" } });

let cp: RunningControlPlane | undefined;
let workers: Harness[] = [];
let stopPoller: AbortController | undefined;
afterEach(async () => {
  stopPoller?.abort();
  for (const w of workers) await w.stop();
  workers = [];
  await cp?.close();
  cp = undefined;
  removeTempDirs();
});

/** What the client sent, by operation (`POST claims`, `GET secrets`, ...), with the claim bodies. */
type Counted = { count(what: string): number; claimWaits: number[] };

async function startCp(o: Partial<StartReferenceControlPlaneOptions> = {}): Promise<RunningControlPlane> {
  cp = await startReferenceControlPlane({ serviceToken: TOKEN, runtimes: [{ runtimeId: RUNTIME, accountId: ACCOUNT }], ...o });
  cp.setSecrets(RUNTIME, KEYS("sk-1"));
  return cp;
}

function countingClient(url: string): { client: ControlPlaneClient; sent: Counted } {
  const seen: string[] = [];
  const claimWaits: number[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const what = `${init?.method ?? "GET"} ${String(input).split("/").at(-1)}`;
    seen.push(what);
    if (what === "POST claims") claimWaits.push((JSON.parse(String(init?.body)) as { waitMs: number }).waitMs);
    return globalThis.fetch(input, init);
  };
  const client = createControlPlaneClient({ baseUrl: url, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch });
  return { client, sent: { count: (w) => seen.filter((s) => s === w).length, claimWaits } };
}

/** A worker and a SecretsPoller on one counting client, wired as daemon/control-plane.ts wires them. */
function startRuntime(c: RunningControlPlane, o: { pollMs: number; worker?: Partial<HarnessOptions> }) {
  const { client, sent } = countingClient(c.url);
  const applied: SecretsChange[] = [];
  const poller = new SecretsPoller({
    source: client,
    clock: systemClock,
    random: Math.random,
    log: pino({ level: "silent" }),
    intervalMs: o.pollMs,
    backoffMaxMs: 1000,
    current: {},
    apply: async (change) => void applied.push(change),
    onProblem: () => {},
  });
  stopPoller = new AbortController();
  void poller.run(stopPoller.signal);
  const w = startWorker({ url: c.url, dbPath: join(tempDir("as-idle-"), "agent-supervisor.db"), client, announcements: poller, ...o.worker });
  workers.push(w);
  return { w, sent, applied, poller };
}

describe("secrets and skills versions on claim answers", () => {
  it("a change announced on a claim answer is fetched at once, and an idle runtime never polls for it", async () => {
    const c = await startCp();
    // A poll interval of an hour: every fetch after the first comes from an announcement.
    const r = startRuntime(c, { pollMs: 3_600_000, worker: { policy: { claimWaitMs: 200_000 } } });
    await waitFor(() => r.applied.length === 1 && c.parkedClaims() === 1, "first poll applied and a claim parked");
    expect(r.applied[0]!.secrets?.version).toBe("1");
    expect([r.sent.count("GET secrets"), r.sent.count("GET skills")]).toEqual([1, 1]);

    c.setSecrets(RUNTIME, KEYS("sk-2"));
    // The parked claim answers at once (its budget is 60 s to a fresh client, then 200 s).
    await waitFor(() => r.applied.length === 2, "the new secrets applied");
    expect(r.applied[1]).toEqual({ secrets: expect.objectContaining({ version: "2" }) });
    // Only what changed was fetched.
    expect([r.sent.count("GET secrets"), r.sent.count("GET skills")]).toEqual([2, 1]);

    c.setSkills(ACCOUNT, [{ name: "weather", files: [{ path: "SKILL.md", content: "# Weather\n" }] }]);
    await waitFor(() => r.applied.length === 3, "the new skills applied");
    expect(r.applied[2]).toEqual({ skills: expect.objectContaining({ version: "1" }) });
    expect([r.sent.count("GET secrets"), r.sent.count("GET skills")]).toEqual([2, 2]);
  });

  it("no poll while claims go round and announce the versions, however short the poll interval", async () => {
    const c = await startCp();
    const r = startRuntime(c, { pollMs: 1_000, worker: { policy: { claimWaitMs: 100 } } });
    await waitFor(() => r.sent.count("POST claims") >= 30, "30 claims", 20_000);
    expect([r.sent.count("GET secrets"), r.sent.count("GET skills")]).toEqual([1, 1]);
  });

  it("with an older control plane (no versions on its answers) the runtime keeps polling", async () => {
    const c = await startCp({ announceVersions: false });
    const r = startRuntime(c, { pollMs: 100, worker: { policy: { claimWaitMs: 100 } } });
    await waitFor(() => r.sent.count("GET secrets") >= 4 && r.sent.count("GET skills") >= 4, "polls going on");
    c.setSecrets(RUNTIME, KEYS("sk-2"));
    await waitFor(() => r.applied.some((a) => a.secrets?.version === "2"), "the new secrets applied by a poll");
  });

  it("polls again when claims stop (no free slot): the versions are no longer announced", async () => {
    const c = await startCp();
    let free = 4;
    const r = startRuntime(c, { pollMs: 200, worker: { capacity: () => free, policy: { claimWaitMs: 100 } } });
    await waitFor(() => r.sent.count("POST claims") >= 5, "claims going round");
    const polls = r.sent.count("GET secrets");
    free = 0;
    await waitFor(() => r.sent.count("GET secrets") >= polls + 3, "polls again without claims");
  });
});

describe("long-poll length", () => {
  it("asks for the longest wait the control plane takes: 60 s until its answer names more", async () => {
    const c = await startCp();
    const { client, sent } = countingClient(c.url);
    for (const turnId of ["a", "b"]) {
      c.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId });
      await client.claim({ max: 1, waitMs: 1_000_000 });
    }
    expect(sent.claimWaits).toEqual([BASE_MAX_WAIT_MS, MAX_WAIT_MS]);
  });

  it("a control plane on the first contract's limit refuses more than 60 s, and is never sent more", async () => {
    const c = await startCp({ maxWaitMs: BASE_MAX_WAIT_MS });
    const refused = await fetch(`${c.url}/v1/runtimes/${RUNTIME}/claims`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ accountId: ACCOUNT, runtimeId: RUNTIME, max: 1, waitMs: BASE_MAX_WAIT_MS + 1 }),
    });
    expect(refused.status).toBe(400);
    const { client, sent } = countingClient(c.url);
    for (const turnId of ["a", "b"]) {
      c.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId });
      await client.claim({ max: 1, waitMs: MAX_WAIT_MS });
    }
    expect(sent.claimWaits).toEqual([BASE_MAX_WAIT_MS, BASE_MAX_WAIT_MS]);
  });
});

describe("status on change, plus a slow keepalive", () => {
  it("looks often, sends only on a change (not on CPU load alone), and on the keepalive", async () => {
    const c = await startCp();
    let status: StatusSnapshotInput = STATUS;
    let looks = 0;
    const look = () => (looks++, status);
    const w = startWorker({ url: c.url, dbPath: join(tempDir("as-idle-"), "agent-supervisor.db"), status: look, policy: { statusIntervalMs: 20, statusKeepaliveMs: 3_600_000 } });
    workers.push(w);
    const reports = () => c.statusHistory(RUNTIME, 100).length;
    await waitFor(() => looks >= 20, "20 looks");
    expect(reports()).toBe(1);

    status = { ...STATUS, gatewayState: "backoff", status: "degraded", reason: "gateway restarting" };
    w.worker.notifyStateChange();
    await waitFor(() => reports() === 2, "the change reported");
    expect(c.latestStatus(RUNTIME)!.report).toMatchObject({ gatewayState: "backoff", reason: "gateway restarting" });

    status = { ...status, host: { ...status.host, cpuLoadPercent: 97 } };
    const at = looks;
    await waitFor(() => looks >= at + 20, "20 more looks");
    expect(reports()).toBe(2);

    status = { ...status, queue: { accepted: 1, delivering: 0, outbox: 0 } };
    await waitFor(() => reports() === 3, "a queue change reported at the next look, without a wake");
    await w.stop();
    workers = [];

    const k = startWorker({ url: c.url, dbPath: join(tempDir("as-idle-"), "agent-supervisor.db"), status: look, policy: { statusIntervalMs: 20, statusKeepaliveMs: 200 } });
    workers.push(k);
    await waitFor(() => reports() >= 6, "keepalive reports of an unchanged status");
    expect(looks).toBeGreaterThan(reports());
  });

  it("sends the budget at once after the first answer lists it in accepts, then stops", async () => {
    const c = await startCp();
    const budget = { limit: 1000, used: 1, state: "ok" as const, action: "warn" as const, resetsAt: "2026-12-01T00:00:00.000Z" };
    let looks = 0;
    const w = startWorker({ url: c.url, dbPath: join(tempDir("as-idle-"), "agent-supervisor.db"), status: () => (looks++, { ...STATUS, budget }), policy: { statusIntervalMs: 20, statusKeepaliveMs: 3_600_000 } });
    workers.push(w);
    await waitFor(() => looks >= 20, "20 looks");
    const history = c.statusHistory(RUNTIME, 100);
    expect(history.map((h) => h.report.budget)).toEqual([budget, undefined]);
  });
});
