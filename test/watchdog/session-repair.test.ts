/**
 * The session-repair watchdog (src/watchdogs/session-repair.ts) against a scripted gateway: which
 * RPCs it sends for which finished turns, what it records, and what /health says. No timers: the
 * watchdog never sleeps; the clock is a number. The real gateway is in
 * test/e2e/session-repair.e2e.test.ts.
 */
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Turn } from "../../src/store/turns.ts";
import type { SessionRepairPolicy } from "../../src/watchdogs/session-repair-plan.ts";
import { SessionRepairWatchdog, type HoldEvent, type RepairEvent, type RepairGateway } from "../../src/watchdogs/session-repair.ts";

const OVERFLOW = 'run ended with status error ("failed"): Context overflow: prompt too large for the model. Try /reset (or /new) to start a fresh session, or use a larger-context model.';
const SCHEMA = "LLM request failed: provider rejected the request schema or tool payload.";
const POLICY: SessionRepairPolicy = { mode: "compact", after: 2, maxRepairs: 3, windowMs: 24 * 3_600_000 };

let now = 1_800_000_000_000;
let seq = 0;
function turn(sessionKey: string, error: string | null): Turn {
  now += 1000;
  seq += 1;
  return {
    id: `t${seq}`, source: "local", clientKey: null, conversationId: sessionKey.split(":")[2]!, sessionKey, message: "m", state: error === null ? "done" : "failed",
    attempts: 1, idempotencyKey: `t${seq}`, runId: null, gatewayGeneration: 1, reply: error === null ? "echo: m" : null, errorCode: error === null ? null : "GATEWAY_RUN_FAILED",
    errorMessage: error, createdAt: now - 500, updatedAt: now, firstDeliveredAt: now - 400, deadlineAt: now + 600_000, finishedAt: now, usage: null,
  };
}

/** A gateway whose answers are scripted per method; every request is recorded. */
class FakeGateway implements RepairGateway {
  ready = true;
  readonly calls: { method: string; params: unknown }[] = [];
  readonly answers: Record<string, ((params: unknown) => unknown)[]> = {};
  #readyWaiters: (() => void)[] = [];
  async waitReady(): Promise<void> {
    if (!this.ready) await new Promise<void>((r) => this.#readyWaiters.push(r));
  }
  becomeReady(): void {
    this.ready = true;
    for (const r of this.#readyWaiters.splice(0)) r();
  }
  /** As the real gateway: the daemon's read/write connection may not compact or reset. */
  async request<T>(method: string, params: unknown): Promise<T> {
    if (method.startsWith("sessions.")) throw new Error("missing scope: operator.admin");
    return this.#answer<T>(method, params);
  }
  admin<T>(method: string, params: unknown): Promise<T> {
    return this.#answer<T>(method, params);
  }
  async #answer<T>(method: string, params: unknown): Promise<T> {
    this.calls.push({ method, params });
    const answer = this.answers[method]?.shift();
    if (!answer) throw new Error(`unexpected ${method}`);
    return answer(params) as T;
  }
}

const compacted = () => ({ ok: true, key: "k", compacted: true, result: { summary: "s" } });
const reset = () => ({ ok: true, key: "k", entry: { sessionId: "new" } });

let stop: AbortController | undefined;
afterEach(() => stop?.abort());

function start(policy: Partial<SessionRepairPolicy> = {}) {
  const gateway = new FakeGateway();
  const repairs: RepairEvent[] = [];
  const holds: HoldEvent[] = [];
  let released = 0;
  const w = new SessionRepairWatchdog({
    policy: { ...POLICY, ...policy },
    gateway,
    clock: { now: () => now, monotonic: () => now, sleep: async () => {} },
    log: pino({ level: "silent" }),
    onRepair: (e) => repairs.push(e),
    onHold: (e) => holds.push(e),
    onReleased: () => void released++,
  });
  stop = new AbortController();
  const running = w.run(stop.signal);
  /** Let the repair loop run until it is idle. */
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return { w, gateway, repairs, holds, released: () => released, running, settle };
}

describe("SessionRepairWatchdog", () => {
  it("compacts a session after two context overflows in a row, holding its turns meanwhile, and touches no other session", async () => {
    const { w, gateway, repairs, released, settle } = start();
    gateway.answers["sessions.compact"] = [compacted];
    w.observe(turn("agent:main:a", OVERFLOW));
    w.observe(turn("agent:main:b", OVERFLOW));
    w.observe(turn("agent:main:b", null));
    expect(w.held("agent:main:a")).toBe(false);
    expect(w.check()).toMatchObject({ key: "sessions:repair", status: "pass", output: null, observedValue: 0 });
    w.observe(turn("agent:main:a", OVERFLOW));
    expect(w.held("agent:main:a")).toBe(true);
    expect(w.check()).toMatchObject({ status: "warn", output: "session agent:main:a: 2 turns in a row failed with context overflow; repairing it", degradedReason: "session agent:main:a: 2 turns in a row failed with context overflow; repairing it" });
    await settle();
    expect(gateway.calls).toEqual([{ method: "sessions.compact", params: { key: "agent:main:a" } }]);
    expect(repairs).toEqual([{ at: now, sessionKey: "agent:main:a", cause: "context", action: "compact", ok: true, failures: 2 }]);
    expect(w.held("agent:main:a")).toBe(false);
    expect(released()).toBe(1);
    const c = w.check();
    expect(c).toMatchObject({ status: "pass", output: null, details: { mode: "compact", repairs: 1, lastRepair: repairs[0] } });
    expect("degradedReason" in c).toBe(false);
  });

  it("a reply between failures ends the streak; other failure classes neither count nor end it", async () => {
    const { w, gateway, settle } = start();
    w.observe(turn("agent:main:a", OVERFLOW));
    w.observe(turn("agent:main:a", null));
    w.observe(turn("agent:main:a", OVERFLOW));
    w.observe(turn("agent:main:a", "Authentication failed (provider returned HTTP 401)."));
    await settle();
    expect(gateway.calls).toEqual([]);
    gateway.answers["sessions.compact"] = [compacted];
    w.observe(turn("agent:main:a", OVERFLOW));
    await settle();
    expect(gateway.calls.map((c) => c.method)).toEqual(["sessions.compact"]);
  });

  it("resets when the gateway will not compact, and resets at once when the session fails again after a compaction", async () => {
    const { w, gateway, repairs, settle } = start();
    gateway.answers["sessions.compact"] = [() => ({ ok: true, key: "k", compacted: false, reason: "nothing to compact" })];
    gateway.answers["sessions.reset"] = [reset];
    w.observe(turn("agent:main:a", OVERFLOW));
    w.observe(turn("agent:main:a", OVERFLOW));
    await settle();
    expect(repairs.map((r) => [r.action, r.ok, r.error])).toEqual([
      ["compact", false, 'the gateway did not compact it ("nothing to compact")'],
      ["reset", true, undefined],
    ]);
    // A compaction that worked, then a failure again before any reply: reset at once, not a second compaction.
    gateway.answers["sessions.compact"] = [compacted];
    gateway.answers["sessions.reset"] = [reset];
    w.observe(turn("agent:main:c", OVERFLOW));
    w.observe(turn("agent:main:c", OVERFLOW));
    await settle();
    w.observe(turn("agent:main:c", OVERFLOW));
    expect(w.check().output).toBe("session agent:main:c: its last turn failed with context overflow; repairing it");
    await settle();
    expect(repairs.slice(2).map((r) => [r.sessionKey, r.action, r.ok])).toEqual([
      ["agent:main:c", "compact", true],
      ["agent:main:c", "reset", true],
    ]);
  });

  it("names what the transcript shows for a malformed-request streak", async () => {
    const { w, gateway, repairs, settle } = start({ mode: "reset" });
    gateway.answers["chat.history"] = [() => ({ messages: [{ role: "user", content: "x" }, { role: "assistant", content: [{ type: "toolCall", id: "call_1", name: "exec", arguments: {} }] }] })];
    gateway.answers["sessions.reset"] = [reset];
    w.observe(turn("agent:main:p", SCHEMA));
    w.observe(turn("agent:main:p", SCHEMA));
    await settle();
    expect(gateway.calls.map((c) => c.method)).toEqual(["chat.history", "sessions.reset"]);
    expect(repairs).toMatchObject([{ sessionKey: "agent:main:p", cause: "session", action: "reset", ok: true, evidence: "1 tool call without a result" }]);
  });

  it("does not repair a malformed-request streak while another session fails the same way", async () => {
    const { w, gateway, holds, settle } = start();
    w.observe(turn("agent:main:a", SCHEMA));
    w.observe(turn("agent:main:b", SCHEMA));
    w.observe(turn("agent:main:a", SCHEMA));
    await settle();
    expect(gateway.calls).toEqual([]);
    expect(holds).toMatchObject([{ sessionKey: "agent:main:a", cause: "session", reason: "1 other session failing the same way: the provider or the configuration, not this session's transcript" }]);
    expect(w.check()).toMatchObject({ status: "warn", observedValue: 1 });
  });

  it("with SESSION_REPAIR=off it reports and holds nothing, announcing the streak once", async () => {
    const { w, gateway, holds, settle } = start({ mode: "off" });
    for (let i = 0; i < 4; i++) w.observe(turn("agent:main:a", OVERFLOW));
    await settle();
    expect(gateway.calls).toEqual([]);
    expect(w.held("agent:main:a")).toBe(false);
    expect(holds).toHaveLength(1);
    expect(w.check()).toMatchObject({
      status: "warn",
      degradedReason: "session agent:main:a: 4 turns in a row failed with context overflow; repair is off (SESSION_REPAIR=off)",
      details: { failing: [{ sessionKey: "agent:main:a", failures: 4, cause: "context", lastError: OVERFLOW }] },
    });
  });

  it("stops after SESSION_REPAIR_MAX repairs within the window, and says so", async () => {
    const { w, gateway, repairs, holds, settle } = start({ mode: "reset", maxRepairs: 2 });
    gateway.answers["sessions.reset"] = [reset, reset];
    for (let round = 0; round < 3; round++) {
      w.observe(turn("agent:main:a", OVERFLOW));
      w.observe(turn("agent:main:a", OVERFLOW));
      await settle();
    }
    expect(repairs.map((r) => r.action)).toEqual(["reset", "reset"]);
    expect(holds).toMatchObject([{ reason: "left as it is: 2 repairs within 24 h did not help (SESSION_REPAIR_MAX=2)" }]);
    expect(w.check().output).toBe("session agent:main:a: 2 turns in a row failed with context overflow; left as it is: 2 repairs within 24 h did not help (SESSION_REPAIR_MAX=2)");
  });

  it("waits for the gateway to be ready before repairing, and a failed reset waits for the next failure", async () => {
    const { w, gateway, repairs, settle } = start({ mode: "reset" });
    gateway.ready = false;
    w.observe(turn("agent:main:a", OVERFLOW));
    w.observe(turn("agent:main:a", OVERFLOW));
    await settle();
    expect(gateway.calls).toEqual([]);
    expect(w.held("agent:main:a")).toBe(true);
    gateway.answers["sessions.reset"] = [() => { throw new Error("gateway closed the connection"); }];
    gateway.becomeReady();
    await settle();
    expect(repairs.map((r) => [r.action, r.ok, r.error])).toEqual([["reset", false, "gateway closed the connection"]]);
    expect(w.held("agent:main:a")).toBe(false);
    gateway.answers["sessions.reset"] = [reset];
    w.observe(turn("agent:main:a", OVERFLOW));
    await settle();
    expect(repairs.map((r) => [r.action, r.ok])).toEqual([["reset", false], ["reset", true]]);
  });

  it("run() ends when aborted and releases what was queued", async () => {
    const { w, gateway, running } = start();
    gateway.ready = false;
    w.observe(turn("agent:main:a", OVERFLOW));
    w.observe(turn("agent:main:a", OVERFLOW));
    expect(w.held("agent:main:a")).toBe(true);
    stop!.abort();
    gateway.becomeReady();
    await running;
    expect(w.held("agent:main:a")).toBe(false);
  });
});
