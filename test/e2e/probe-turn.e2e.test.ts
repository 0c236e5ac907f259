/**
 * The end-to-end probe turn (issue 12, failure mode 7) with the real daemon, the real OpenClaw
 * gateway and the mock model: probes pass with one model call each, stay out of the turn store
 * and the turn metrics, and the probe session stays small; when the model stops answering the
 * probe (mock `stall`), three misses restart the gateway with cause `probe`, and probes pass again.
 */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { PROBE_SESSION_KEY } from "../../src/watchdogs/probe-turn.ts";
import { chatHistory, gatewayRequest, getJson, makeSite, postTurn, startDaemon, until, waitReady, waitTurn, type Daemon, type Site, tearDown } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;
const PROBE = "ping: reply with pong";
const PRUNE_EVERY = 3;

async function metric(site: Site, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

const passes = (site: Site) => metric(site, "agent_supervisor_probe_turns_total", '{result="pass"}');
const misses = (site: Site) => metric(site, "agent_supervisor_probe_turns_total", '{result="miss"}');

function db<T>(site: Site, fn: (d: Database.Database) => T): T {
  const d = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

async function probeCheck(site: Site): Promise<{ status: string; output?: string; observedValue: unknown; consecutiveMisses?: number } | undefined> {
  return (await getJson(site, "/health")).body.checks["gateway:probe-turn"]?.[0];
}

describe("the probe turn with the real OpenClaw gateway", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;
  const probeCalls = () => model.requests.filter((r) => r.prompt.includes(PROBE)).length;

  beforeAll(async () => {
    model = await startMockModel();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-probe-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url, {
      AGENT_SUPERVISOR_LOG_LEVEL: "info",
      PROBE_TURN_INTERVAL_MS: "2000",
      // No probe inside the startup window (watchdogs/startup-grace.ts): a short one here.
      STARTUP_GRACE_MS: "2000",
      // Above the first turn after a boot (3.5-7.7 s: the gateway loads its agent runtime).
      PROBE_TURN_TIMEOUT_MS: "12000",
      PROBE_TURN_MISSES: "3",
      PROBE_TURN_PRUNE_EVERY: String(PRUNE_EVERY),
      GATEWAY_STOP_GRACE_MS: "5000",
      DECAY_ENABLED: "false",
    });
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
  }, BOOT_MS + 10_000);

  afterAll(() => tearDown(site, daemon, dir, model));

  it("probes pass with exactly one model call each, the probe session stays small, /metrics counts them, and no turn exists", async () => {
    // A count at a quiet point: the model holds the next probe, so every probe before it has ended.
    const quietCount = async () => {
      const since = Date.now();
      model.stall(PROBE);
      await until("the next probe to reach the model", () => model.requests.some((r) => r.at >= since && r.prompt.includes(PROBE)), 60_000, 50);
      return { p: await passes(site), m: await misses(site), c: probeCalls() - 1 };
    };
    // The first probe after a boot may be slow on a loaded machine (the gateway loads its agent runtime).
    await until("a first passed probe", async () => (await passes(site)) >= 1, 150_000, 500);
    const start = await quietCount();
    model.stall(null); // the held probe is answered and passes
    await until("8 more passed probes", async () => (await passes(site)) >= start.p + 8, 150_000, 500);
    const passing = await probeCheck(site);
    expect(passing).toMatchObject({ status: "pass", observedValue: expect.any(Number) });
    expect(passing).not.toHaveProperty("output");
    const end = await quietCount(); // the model keeps holding the probe: the next test's misses
    // One model call per probe, and none missed.
    expect(end.p - start.p).toBeGreaterThanOrEqual(8);
    expect(end.c - start.c).toBe(end.p - start.p);
    expect(end.m).toBe(start.m);
    const p = end.p;

    // Never a turn: not in the store, not in the turn metrics.
    expect(db(site, (d) => (d.prepare("SELECT COUNT(*) AS n FROM turns").get() as { n: number }).n)).toBe(0);
    expect(await metric(site, "agent_supervisor_turns_total", '{outcome="done"}')).toBe(0);
    expect(await metric(site, "agent_supervisor_turns_total", '{outcome="failed"}')).toBe(0);

    // The session never holds more than PRUNE_EVERY probes (a user and an assistant message each) plus the held one.
    const history = await chatHistory(site, PROBE_SESSION_KEY);
    const roles = (history.messages ?? []).map((m: { role: string }) => m.role);
    expect(roles.filter((r: string) => r === "user").length).toBeGreaterThanOrEqual(1);
    expect(roles.filter((r: string) => r === "user").length).toBeLessThanOrEqual(PRUNE_EVERY + 1);
    const listed = await gatewayRequest(site, "sessions.list", {});
    expect((listed.sessions ?? []).filter((s: { key: string }) => s.key === PROBE_SESSION_KEY)).toHaveLength(1);
    // Each deletion leaves one small archive in the gateway's sessions directory, one per PRUNE_EVERY probes.
    const deletions = daemon.logs.filter((l) => l.includes('"msg":"deleted the probe session"')).length;
    expect(deletions).toBeGreaterThanOrEqual(Math.floor(p / PRUNE_EVERY));
    const archives = readdirSync(join(site.dataDir, "gateway", "state", "agents", "main", "sessions")).filter((f) => f.includes(".jsonl.deleted."));
    expect(archives.length).toBe(deletions);
  }, 200_000);

  it("when the model stops answering the probe, three misses restart the gateway (cause probe) once; then probes pass again", async () => {
    model.stall(PROBE);
    const since = Date.now();
    const seen: string[] = [];
    const restarted = await until(
      "a restart with cause probe",
      async () => {
        const check = await probeCheck(site);
        if (check && check.status !== "pass" && check.output) seen.push(check.output);
        return db(site, (d) => d.prepare("SELECT at, reason FROM gateway_events WHERE reason = 'restart requested (probe)' AND at >= ?").get(since - 60_000)) as
          | { at: number; reason: string }
          | undefined;
      },
      120_000,
      500,
    );
    expect(await misses(site)).toBeGreaterThanOrEqual(3);
    // /health said so before the restart, counting towards the threshold.
    expect(seen.some((o) => /^probe turn got no reply [12] time\(s\) in a row: .*before a restart\)$/.test(o)), seen.join("\n")).toBe(true);
    // Counted once the old gateway has stopped (state backoff).
    await until("the restart to be counted", async () => (await metric(site, "agent_supervisor_gateway_restarts_total", '{cause="probe"}')) === 1, 30_000, 250);
    const events = db(site, (d) => d.prepare("SELECT state, reason FROM gateway_events WHERE at >= ? ORDER BY id").all(restarted.at) as { state: string; reason: string }[]);
    expect(events[0]).toEqual({ state: "stopping", reason: "restart requested (probe)" });
    expect(events.find((e) => e.state === "backoff")?.reason).toMatch(/^probe; restarting in \d+ ms$/);

    // The model answers again: the new gateway comes up, and after its startup window probes pass.
    model.stall(null);
    const before = await passes(site);
    await waitReady(site, BOOT_MS);
    await until("a probe to pass on the new gateway", async () => (await passes(site)) > before, 120_000, 500);
    await until("/health gateway:probe-turn to pass", async () => (await probeCheck(site))?.status === "pass", 30_000, 500);
    expect(await metric(site, "agent_supervisor_gateway_restarts_total", '{cause="probe"}')).toBe(1);
    // And turns are served.
    const id = await postTurn(site, "after-probe-restart", "hello after the probe restart");
    expect(await waitTurn(site, id, 120_000)).toMatchObject({ state: "done", reply: "echo: hello after the probe restart" });
  }, 300_000);
});
