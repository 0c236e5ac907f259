/**
 * End to end with the control plane: the real daemon and the real OpenClaw gateway, pointed at
 * the reference control plane on loopback (the stand-in for the fleet's API) with provider keys
 * coming only from its secrets, and the mock model as the provider.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startReferenceControlPlane, type RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { MOCK_USAGE, startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import Database from "better-sqlite3";
import { apiToken, chatHistory, controlPlaneEnv, gatewayPid, getJson, makeSite, postTurn, startDaemon, tearDown, until, waitReady, waitTurn, type Daemon, type Site } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;
const RT = "rt-e2e";
const ACC = "acct-e2e";
const SERVICE_TOKEN = "svc-token-e2e-0123456789abcdef";

describe("agent-supervisor with the reference control plane and the real gateway", () => {
  let model: MockModel;
  let cp: RunningControlPlane;
  let dir: string;
  let site: Site;
  let daemon: Daemon;

  const compat = (apiKey: string) => ({ compat: { baseUrl: model.url, apiKey, model: "echo-1" } });

  async function finished(turnId: string, timeoutMs = 120_000) {
    return until(`control-plane turn ${turnId} to finish`, () => {
      const t = cp.getTurn(turnId);
      return t && (t.state === "done" || t.state === "failed") ? t : undefined;
    }, timeoutMs);
  }

  beforeAll(async () => {
    model = await startMockModel();
    cp = await startReferenceControlPlane({ serviceToken: SERVICE_TOKEN, runtimes: [{ runtimeId: RT, accountId: ACC }], leaseMs: 30_000 });
    cp.setSecrets(RT, compat("sk-rotation-one"));
    dir = mkdtempSync(join(tmpdir(), "as-e2e-cp-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url, {
      // No provider in the settings: keys come from the control plane only.
      OPENAI_COMPAT_BASE_URL: "",
      OPENAI_COMPAT_API_KEY: "",
      ...controlPlaneEnv({ url: cp.url, token: SERVICE_TOKEN, runtimeId: RT, accountId: ACC }, {
        HEARTBEAT_INTERVAL_MS: "2000",
        STATUS_INTERVAL_MS: "2000",
        SECRETS_POLL_MS: "1000",
        // A budget far above what the tests use: it shows in /health, /metrics and the status report.
        TOKEN_BUDGET_DAILY: "100000000",
      }),
    });
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
  }, BOOT_MS + 10_000);

  afterAll(() => tearDown(site, daemon, dir, cp, model));

  it("claims a turn, delivers it through the gateway and completes it at the control plane", async () => {
    const { turnId } = cp.enqueueTurn({ accountId: ACC, conversationId: "cp-conv-1", message: "hello from the fleet" });
    const t = await finished(turnId);
    expect(t.state).toBe("done");
    expect(t.reply).toBe("echo: hello from the fleet");
    expect(t.reports.filter((r) => r.outcome === "accept")).toHaveLength(1);
    // The key came from the control plane's secrets, through the gateway's environment.
    expect(model.requests.at(-1)?.authorization).toBe("Bearer sk-rotation-one");
    // Status reports arrive and say online.
    const status = await until("an online status report", () => {
      const s = cp.latestStatus(RT);
      return s?.report.status === "online" ? s : undefined;
    }, 30_000);
    expect(status.report).toMatchObject({ runtimeId: RT, accountId: ACC, gatewayState: "ready", openclawVersion: "2026.9.6" });
    expect(status.report.host.memTotalBytes).toBeGreaterThan(0);
    // Secrets never reach SQLite or the daemon's log.
    const db = readFileSync(join(site.dataDir, "agent-supervisor.db"));
    expect(db.includes("sk-rotation-one")).toBe(false);
    expect(daemon.logs.join("\n")).not.toContain("sk-rotation-one");
    expect(daemon.logs.join("\n")).not.toContain(SERVICE_TOKEN);
  }, BOOT_MS);

  it("records each turn's token usage from the gateway: in the local API, /metrics, the transcript and the control plane's stored result; the budget counts it", async () => {
    // What the gateway makes of the mock's OpenAI usage: input = prompt - cache read - cache write.
    const d = MOCK_USAGE.prompt_tokens_details;
    const want = { provider: "compat", model: "echo-1", input: MOCK_USAGE.prompt_tokens - d.cached_tokens - d.cache_write_tokens, output: MOCK_USAGE.completion_tokens, cacheRead: d.cached_tokens, cacheWrite: d.cache_write_tokens };
    expect(want).toEqual({ provider: "compat", model: "echo-1", input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 });
    const metric = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    const tokens = (text: string) => ["input", "output", "cache_read", "cache_write"].map((kind) => metric(text, `agent_supervisor_tokens_total{provider="compat",model="echo-1",kind="${kind}"}`));
    const before = tokens(await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text());

    const central = cp.enqueueTurn({ accountId: ACC, conversationId: "usage-central", message: "count my tokens, fleet" }).turnId;
    const t = await finished(central);
    expect(t.state).toBe("done");
    expect(t.usage).toEqual(want);
    expect(t.reports.find((r) => r.outcome === "accept")?.body).toMatchObject({ usage: want });
    expect((await getJson(site, `/v1/turns/${central}`, true)).body).toMatchObject({ state: "done", usage: want });
    const local = await postTurn(site, "usage-local", "count my tokens, local");
    expect(await waitTurn(site, local, 120_000)).toMatchObject({ state: "done", reply: "echo: count my tokens, local", usage: want });
    // Exactly one model call per turn, so the numbers are one call's.
    expect(model.requests.filter((r) => r.prompt.startsWith("count my tokens")).map((r) => r.prompt).sort()).toEqual(["count my tokens, fleet", "count my tokens, local"]);
    // The transcript's assistant message carries the same usage (a turn completed from it gets it too).
    const answer = ((await chatHistory(site, "agent:main:usage-local")).messages ?? []).filter((m: any) => m.role === "assistant").at(-1);
    expect(answer).toMatchObject({ provider: "compat", model: "echo-1", usage: { input: 300, output: 42, cacheRead: 1100, cacheWrite: 100 } });

    const text = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
    expect(tokens(text).map((n, i) => n - before[i]!)).toEqual([2 * want.input, 2 * want.output, 2 * want.cacheRead, 2 * want.cacheWrite]);
    for (const phase of ["queue_wait", "gateway", "total"]) expect(metric(text, `agent_supervisor_turn_phase_seconds_count{phase="${phase}"}`)).toBeGreaterThanOrEqual(2);
    // The budget: today's input + output + cache write, as SQLite sums the turns' rows.
    const db = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
    const dayStart = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const summed = db.prepare(`SELECT SUM(usage_input + usage_output + usage_cache_write) FROM turns WHERE finished_at >= ?`).pluck().get(dayStart) as number;
    db.close();
    expect(summed).toBeGreaterThanOrEqual(2 * 442);
    const budget = (await getJson(site, "/health")).body.checks["turns:budget"][0];
    expect(budget).toMatchObject({ status: "pass", observedValue: summed, observedUnit: "tokens", limit: 100_000_000, warnAt: 80_000_000, action: "warn" });
    expect(metric(text, "agent_supervisor_token_budget_limit_tokens")).toBe(100_000_000);
    expect(metric(text, "agent_supervisor_token_budget_used_tokens")).toBe(summed);
    const report = await until("a status report with today's tokens", () => {
      const r = cp.latestStatus(RT)?.report;
      return r?.budget?.used === summed ? r : undefined;
    }, 30_000);
    expect(report.budget).toMatchObject({ limit: 100_000_000, used: summed, state: "ok", action: "warn" });
  }, BOOT_MS);

  it("rotating a provider key restarts the gateway with the new key and loses no turn", async () => {
    const before = await gatewayPid(site);
    cp.setSecrets(RT, compat("sk-rotation-two"));
    const ids = ["r1", "r2", "r3"].map((c) => cp.enqueueTurn({ accountId: ACC, conversationId: `rot-${c}`, message: `during rotation ${c}` }).turnId);
    await until("a new gateway process", async () => {
      const pid = await gatewayPid(site).catch(() => undefined);
      return pid !== undefined && pid !== before;
    }, BOOT_MS);
    await waitReady(site, BOOT_MS);
    for (const id of ids) {
      const t = await finished(id, BOOT_MS);
      expect(t.state).toBe("done");
      expect(t.reports.filter((r) => r.outcome === "accept")).toHaveLength(1);
    }
    const after = cp.enqueueTurn({ accountId: ACC, conversationId: "rot-after", message: "after rotation" }).turnId;
    expect((await finished(after)).reply).toBe("echo: after rotation");
    expect(model.requests.at(-1)?.authorization).toBe("Bearer sk-rotation-two");
    const events = (await getJson(site, "/health")).body.checks["gateway:process"][0];
    expect(events.restarts).toBeGreaterThanOrEqual(1);
    for (const [i, id] of ids.entries()) {
      const conv = `rot-r${i + 1}`;
      const history = await chatHistory(site, `agent:main:${conv}`);
      const users = (history.messages ?? []).filter((m: any) => m.role === "user" && String(m.content).includes("during rotation"));
      expect(users, `transcript of ${id}`).toHaveLength(1);
    }
    // The audit trail: the rotation applied and the restart it caused, both by the control plane,
    // shipped to it (never the key), and readable on the local API.
    const shipped = await until("the rotation's audit entries at the control plane", () => {
      const held = cp.auditEvents.list(RT);
      const applied = held.find((e) => e.action === "secrets.apply" && e.detail.previousVersion !== null);
      const stop = held.find((e) => e.action === "gateway.stop" && e.cause === "rotation");
      return applied && stop ? { applied, stop, held } : undefined;
    }, 60_000);
    expect(shipped.applied.actor).toBe("control-plane");
    expect(shipped.stop.actor).toBe("control-plane");
    expect(shipped.held.some((e) => e.action === "gateway.start" && e.cause === "rotation")).toBe(true);
    expect(JSON.stringify(shipped.held)).not.toContain("sk-rotation-");
    const local = await fetch(`http://127.0.0.1:${site.httpPort}/v1/events?limit=1000`, { headers: { authorization: `Bearer ${apiToken(site)}` } });
    const localIds = ((await local.json()) as { events: { id: string }[] }).events.map((e) => e.id);
    expect(localIds).toEqual(expect.arrayContaining(shipped.held.map((e) => e.id)));
  }, 3 * BOOT_MS);

  it("a lease lost mid-turn stops that delivery and reports nothing for it; the re-claimed turn completes once", async () => {
    const marker = "lease-expiry delay=5000";
    const { turnId } = cp.enqueueTurn({ accountId: ACC, conversationId: "lease", message: marker });
    await until("the model to receive the turn", () => model.requests.some((r) => r.prompt.includes(marker)), 60_000);
    const firstLease = cp.getTurn(turnId)!.leases[0]!.leaseId;
    cp.expireLease(turnId);
    const t = await finished(turnId, BOOT_MS);
    expect(t.state).toBe("done");
    expect(t.reply).toBe(`echo: ${marker}`);
    // Nothing was reported under the lost lease; one result under the new one.
    expect(t.reports.filter((r) => r.leaseId === firstLease)).toHaveLength(0);
    expect(t.reports.filter((r) => r.outcome === "accept")).toHaveLength(1);
    expect(t.leases.length).toBeGreaterThanOrEqual(2);
    // The gateway ran the conversation's message once: the retry reused the idempotency key.
    const history = await chatHistory(site, "agent:main:lease");
    const users = (history.messages ?? []).filter((m: any) => m.role === "user" && String(m.content).includes("lease-expiry"));
    expect(users).toHaveLength(1);
  }, BOOT_MS);

  it("keeps results while the control plane refuses them, then reports each exactly once", async () => {
    const outage = cp.faults.add({ operation: "complete", action: { kind: "status", status: 503, retryAfter: 1 } });
    const ids = [1, 2, 3].map((i) => cp.enqueueTurn({ accountId: ACC, conversationId: `outage-${i}`, message: `outage ${i}` }).turnId);
    await until("results waiting in the daemon's outbox", async () => {
      const sync = (await getJson(site, "/health")).body.checks["control-plane:sync"]?.[0];
      return sync?.outboxDepth === 3;
    }, 120_000);
    expect(ids.map((id) => cp.getTurn(id)!.state)).not.toContain("done");
    cp.faults.clear(outage.id);
    for (const id of ids) {
      const t = await finished(id);
      expect(t.state).toBe("done");
      expect(t.reports.filter((r) => r.outcome === "accept")).toHaveLength(1);
      expect(t.reports.filter((r) => r.outcome === "duplicate")).toHaveLength(0);
    }
  }, BOOT_MS);

  it("stops claiming on 401 and reports it, then resumes when the token is accepted again", async () => {
    const refuse = cp.faults.add({ operation: "*", action: { kind: "status", status: 401 } });
    let turnId: string;
    try {
      await until("claiming to stop on the refused token", async () => {
        const sync = (await getJson(site, "/health")).body.checks["control-plane:sync"]?.[0];
        return sync?.observedValue === "stopped-auth" && sync.status === "warn";
      }, 60_000);
      // A claim parked in its long-poll before the token was refused may still return; let it end.
      await new Promise((r) => setTimeout(r, 6_000));
      turnId = cp.enqueueTurn({ accountId: ACC, conversationId: "auth", message: "after auth" }).turnId;
      await new Promise((r) => setTimeout(r, 3_000));
      expect(cp.getTurn(turnId)!.state).toBe("queued");
      // Every request after the refusal was answered 401: the daemon kept probing, slowly.
      expect(refuse.hits).toBeGreaterThan(0);
    } finally {
      cp.faults.clear(refuse.id);
    }
    expect((await finished(turnId, 120_000)).reply).toBe("echo: after auth");
  }, BOOT_MS);

  it("a malformed claim answer is logged without its content and never crashes the daemon", async () => {
    const raw = cp.faults.add({ operation: "claim", times: 2, action: { kind: "raw", body: '{"accountId":"acct-e2e","runtimeId":"rt-e2e","turns":[{"secret":"leak-me-not"}]}' } });
    const foreign = cp.faults.add({ operation: "claim", times: 1, action: { kind: "mutate", mutation: "foreignAccount" } });
    await until("the daemon to meet all three bad answers", () => raw.hits === 2 && foreign.hits === 1, 60_000);
    const { turnId } = cp.enqueueTurn({ accountId: ACC, conversationId: "malformed", message: "survives bad answers" });
    expect((await finished(turnId, 120_000)).reply).toBe("echo: survives bad answers");
    expect(daemon.proc.exitCode).toBeNull();
    expect(daemon.logs.join("\n")).not.toContain("leak-me-not");
    expect(raw.hits).toBe(2);
    expect(foreign.hits).toBe(1);
    expect(daemon.logs.some((l) => l.includes("ERR_CP_CONTRACT"))).toBe(true);
  }, BOOT_MS);

  it("an unwritable skills manifest is refused and reported; the gateway still starts and serves turns with the last good skills", async () => {
    const skillMd = "---\nname: fleet-weather\ndescription: Weather lookups approved by the fleet.\n---\n# Weather\n";
    cp.setSkills(ACC, [{ name: "fleet-weather", files: [{ path: "SKILL.md", content: skillMd }] }]);
    const skillsDir = join(site.dataDir, "gateway", "workspace", "skills");
    await until("the approved skill in the workspace", () => existsSync(join(skillsDir, "fleet-weather", "SKILL.md")), BOOT_MS);
    await waitReady(site, BOOT_MS);
    // "a" would have to be a file and the directory of "a/b": it cannot be written.
    const x = { content: "x" };
    const bad = cp.setSkills(ACC, [{ name: "broken", files: [{ path: "SKILL.md", ...x }, { path: "a", ...x }, { path: "a/b", ...x }] }]);
    const report = await until("a degraded status report naming the refused manifest", () => {
      const r = cp.latestStatus(RT)?.report;
      return r?.status === "degraded" && r.reason?.includes(`skills manifest ${bad.version} rejected`) ? r : undefined;
    }, 60_000);
    expect(report.reason).toMatch(/file a is also the directory of file a\/b/);
    const refused = await until("the refused manifest in the shipped audit trail", () => cp.auditEvents.list(RT).find((e) => e.action === "skills.refuse" && e.detail.version === bad.version), 60_000);
    expect(refused.actor).toBe("control-plane");
    // The gateway starts again (killed here, as a crash would) with the last good skills.
    const before = await gatewayPid(site);
    process.kill(before, "SIGKILL");
    await until("a new gateway process", async () => {
      const pid = await gatewayPid(site).catch(() => undefined);
      return pid !== undefined && pid !== before;
    }, BOOT_MS);
    await waitReady(site, BOOT_MS);
    const { turnId } = cp.enqueueTurn({ accountId: ACC, conversationId: "skills", message: "with the good skills" });
    expect((await finished(turnId)).reply).toBe("echo: with the good skills");
    // The gateway offered the model the good skill, read from the workspace.
    expect(model.requests.at(-1)?.system).toContain("fleet-weather");
    expect(readdirSync(skillsDir)).toEqual(["fleet-weather"]);
    expect(daemon.logs.join("\n")).not.toContain("gateway could not be started");
  }, 3 * BOOT_MS);
});
