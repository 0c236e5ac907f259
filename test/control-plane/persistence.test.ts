/** A file-backed control plane keeps its state across a restart. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ACC, claimBody, closePlanes, completeBody, RT, RT2, startPlane, statusReport, T0 } from "./harness.ts";

const dirs: string[] = [];
afterEach(async () => {
  await closePlanes();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("persistence", () => {
  it("turns, leases, reports, registrations, status, secrets and skills survive a reopen", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-db-"));
    dirs.push(dir);
    const dbPath = join(dir, "nested", "control-plane.db");

    const a = await startPlane({ dbPath, leaseMs: 60_000 });
    const done = a.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "one" }).turnId;
    const held = a.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "two" }).turnId;
    const waiting = a.cp.enqueueTurn({ accountId: ACC, conversationId: "c", message: "three" }).turnId;
    const [t1, t2] = (await a.v1("claim", {}, claimBody(2))).json.turns;
    await a.v1("complete", { turnId: done }, completeBody(t1.leaseId, "reply one"));
    await a.v1("reportStatus", {}, statusReport());
    a.cp.setSecrets(RT, { openai: { apiKey: "sk-1" } });
    a.cp.setSecrets(RT, { openai: { apiKey: "sk-2" } });
    a.cp.setSkills(ACC, [{ name: "s", files: [{ path: "SKILL.md", content: "x" }] }]);
    a.cp.registerRuntime({ runtimeId: "rt-late", accountId: ACC });
    await a.cp.close();

    // Restart with no runtimes option and a later clock: everything comes from the file.
    const b = await startPlane({ dbPath, runtimes: [], leaseMs: 60_000 });
    b.clock.now = T0 + 30_000;
    expect(b.cp.getTurn(done)).toMatchObject({ state: "done", reply: "reply one", reports: [{ outcome: "accept" }] });
    expect(b.cp.getTurn(held)).toMatchObject({ state: "leased", lease: { leaseId: t2.leaseId, live: true } });
    // The live lease is honoured: only the queued turn is handed out.
    const again = (await b.v1("claim", { runtimeId: RT2 }, claimBody(10, 0, RT2))).json.turns;
    expect(again.map((t: { turnId: string }) => t.turnId)).toEqual([waiting]);
    expect((await b.v1("complete", { turnId: done }, completeBody(t1.leaseId, "reply one"))).json.duplicate).toBe(true);
    expect(b.cp.latestStatus(RT)?.report).toEqual(statusReport());
    expect((await b.v1("secrets", {})).json).toMatchObject({ version: "2", providers: { openai: { apiKey: "sk-2" } } });
    expect((await b.v1("skills", {})).json.version).toBe("1");
    expect(b.cp.runtimes().map((r) => r.runtimeId)).toEqual([RT, RT2, "rt-9", "rt-late"].sort());
  });
});
