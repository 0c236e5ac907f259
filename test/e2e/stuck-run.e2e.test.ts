/**
 * Stuck runs (issue 12, failure mode 4) with the real daemon, the real OpenClaw gateway and the
 * mock model, RUN_STUCK_MS small. A model that accepts the request and never answers
 * (`stall=headers`; the provider's own timeout is 120 s, so the gateway does not give up first)
 * leaves a run without progress: the daemon aborts it through the gateway and the turn fails
 * RUN_STUCK after one model call, while other conversations go on and the next turn of the same
 * conversation succeeds. A session whose lane another client's silent run holds never starts our
 * turn: the daemon aborts the session's work and our turn then runs, once.
 *
 * Counting model calls: openclaw 2026.9.6 merges a user message left without a reply into the
 * next one ("Merged and removed orphaned user message"), so a later prompt carries the stuck
 * turn's text in an earlier paragraph; a call is the stuck turn's when its last paragraph is.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { GatewayClient } from "@openclaw/gateway-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { getJson, makeSite, postTurn, startDaemon, until, waitReady, waitTurn, type Daemon, type Site, tearDown } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const BOOT_MS = 180_000;
const STUCK_MS = 20_000;
const GRACE_MS = 20_000;

describe("stuck runs (real gateway)", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon;

  const mark = (tag: string) => `${tag}-${randomBytes(4).toString("hex")}`;
  /** Model calls whose newest paragraph carries `marker` (see the module comment). */
  const callsFor = (marker: string) => model.requests.filter((r) => (r.prompt.split("\n\n").at(-1) ?? "").includes(marker)).length;
  const events = (since: number) => {
    const db = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true });
    try {
      return db.prepare("SELECT state, reason, at FROM gateway_events WHERE at >= ? ORDER BY id").all(since) as { state: string; reason: string | null; at: number }[];
    } finally {
      db.close();
    }
  };
  const metric = async (action: string) => {
    const text = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
    return Number(new RegExp(`^agent_supervisor_stuck_runs_total\\{action="${action}"\\} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  };

  beforeAll(async () => {
    model = await startMockModel();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-stuck-"));
    site = await makeSite(dir, inject("e2eRuntimeDir"), model.url, {
      RUN_STUCK_MS: String(STUCK_MS),
      RUN_STUCK_ABORT_GRACE_MS: String(GRACE_MS),
      // Nothing is judged inside the startup window (watchdogs/startup-grace.ts): a short one here.
      STARTUP_GRACE_MS: "2000",
      DECAY_ENABLED: "false",
      AGENT_SUPERVISOR_LOG_LEVEL: "info",
    });
    daemon = startDaemon(site);
    await waitReady(site, BOOT_MS);
    // The first turn after a boot loads the agent runtime (up to ~30 s without a lifecycle event).
    const warm = await postTurn(site, "warm-up", "warm-up");
    expect((await waitTurn(site, warm, BOOT_MS)).state).toBe("done");
  }, BOOT_MS + 60_000);

  afterAll(() => tearDown(site, daemon, dir, model));

  it("a run the model never answers is aborted and fails RUN_STUCK after one model call; others are unaffected; the next turn succeeds", async () => {
    const since = Date.now();
    const stuckMarker = mark("stuck");
    const stuck = await postTurn(site, "stuck", `${stuckMarker} stall=headers`);
    await until("the model to get the stuck turn", () => callsFor(stuckMarker) > 0, 60_000);
    const sentAt = Date.now();
    const otherMarker = mark("other");
    const other = await postTurn(site, "other", `${otherMarker} delay=1000`);
    expect(await waitTurn(site, other, 60_000)).toMatchObject({ state: "done", reply: `echo: ${otherMarker} delay=1000` });

    const t = await waitTurn(site, stuck, STUCK_MS + 60_000);
    const endedAt = Date.now();
    expect(t.state).toBe("failed");
    expect(t.error.code).toBe("RUN_STUCK");
    expect(t.error.message).toMatch(/made no progress for \d+ s; aborted, no reply/);
    expect(t.attempts).toBe(1);
    expect(endedAt - sentAt).toBeGreaterThanOrEqual(STUCK_MS - 2_000);
    expect(callsFor(stuckMarker)).toBe(1);

    const ev = events(since);
    expect(ev.filter((e) => e.state === "stuck").map((e) => e.reason)).toEqual([expect.stringMatching(/^abort-run: run .* made no progress for \d+ s$/)]);
    expect(ev.some((e) => (e.reason ?? "").includes("(stuck)"))).toBe(false); // no restart
    const check = (await getJson(site, "/health")).body.checks["turns:stuck"][0];
    expect(check).toMatchObject({ status: "warn", actions: { "abort-run": 1, "abort-session": 0, restart: 0 }, last: { action: "abort-run" } });
    expect(await metric("abort-run")).toBe(1);
    expect(await metric("restart")).toBe(0);

    // The same conversation goes on: one model call for the next turn, none more for the stuck one.
    const nextMarker = mark("next");
    const next = await postTurn(site, "stuck", nextMarker);
    const n = await waitTurn(site, next, 60_000);
    expect(n.state).toBe("done");
    expect(n.reply).toContain(nextMarker);
    expect(callsFor(nextMarker)).toBe(1);
    expect(callsFor(stuckMarker)).toBe(1);
  }, 180_000);

  it("a session whose lane another client's silent run holds: the daemon aborts the session's work and our turn runs once", async () => {
    const since = Date.now();
    // Another client starts a run in the session that the model never answers, then goes away.
    const holderMarker = mark("holder");
    const token = readFileSync(join(site.dataDir, "gateway.token"), "utf8").trim();
    const ready = Promise.withResolvers<void>();
    const outsider = new GatewayClient({ url: `ws://127.0.0.1:${site.gatewayPort}`, token, minProtocol: 4, maxProtocol: 4, deviceIdentity: null, onHelloOk: () => ready.resolve(), onConnectError: (e) => ready.reject(e) });
    outsider.start();
    await ready.promise;
    await outsider.request("chat.send", { sessionKey: "agent:main:lane", message: `${holderMarker} stall=headers`, idempotencyKey: holderMarker });
    await until("the model to get the holder's run", () => callsFor(holderMarker) > 0, 60_000);
    outsider.stop();

    const oursMarker = mark("ours");
    const ours = await postTurn(site, "lane", oursMarker);
    const t = await waitTurn(site, ours, STUCK_MS + GRACE_MS + 90_000);
    expect(t.state).toBe("done");
    expect(t.reply).toContain(oursMarker);
    expect(callsFor(oursMarker)).toBe(1);
    const stuckEvents = events(since).filter((e) => e.state === "stuck").map((e) => e.reason);
    expect(stuckEvents).toEqual([expect.stringMatching(/^abort-session: turn .* queued in session agent:main:lane never started for \d+ s/)]);
    expect(events(since).some((e) => (e.reason ?? "").includes("(stuck)"))).toBe(false);
    expect(await metric("abort-session")).toBe(1);
  }, 240_000);
});
