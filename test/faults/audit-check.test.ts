/** The fault suite's audit-trail check (bench/faults/audit-check.ts), pure: which gaps it finds. */
import { describe, expect, it } from "vitest";
import { auditGaps, requiredAction, type AuditRow } from "../../bench/faults/audit-check.ts";
import type { EventRow } from "../../bench/faults/observe.ts";

let id = 0;
const ev = (generation: number, state: string, reason: string | null, pid: number | null = null, at = 1000): EventRow => ({ id: ++id, at, generation, state, reason, pid, exit_code: null, signal: null });
const au = (action: string, generation?: number, at = 1000): AuditRow => ({ seq: ++id, at, actor: "daemon", action, cause: "c", detail: generation === undefined ? {} : { generation } });

describe("requiredAction", () => {
  it.each([
    [ev(1, "starting", "boot"), undefined],
    [ev(1, "starting", "waiting for hello-ok", 42), "gateway.start"],
    [ev(1, "starting", "config (exit 78, EX_CONFIG): running openclaw doctor --fix once, then one retry"), "doctor.run"],
    [ev(1, "stopped", "stopped"), "gateway.stop"],
    [ev(1, "stopped", "exited with code 1"), undefined],
    [ev(1, "backoff", "crash; restarting in 500 ms"), "gateway.restart"],
    [ev(1, "failed", "config: the gateway exits 78 (EX_CONFIG)"), "gateway.hold"],
    [ev(1, "failed", "cannot start gateway: ENOENT"), undefined],
    [ev(1, "session-repair", "context: compact agent:main:x after 2 failed turns in a row: ok"), "session.repair"],
    [ev(1, "ready", "hello-ok"), undefined],
  ])("%o → %s", (e, want) => {
    expect(requiredAction(e)).toBe(want);
  });
});

describe("auditGaps", () => {
  it("finds none when every action has its entry of the same generation", () => {
    const events = [ev(1, "starting", "waiting for hello-ok", 9), ev(1, "backoff", "crash"), ev(2, "starting", "waiting for hello-ok", 10), ev(2, "stopped", "stopped")];
    const audit = [au("gateway.start", 1), au("gateway.restart", 1), au("gateway.start", 2), au("gateway.stop", 2)];
    expect(auditGaps(events, audit)).toEqual([]);
  });

  it("names an action without its entry, and one whose entry has another generation", () => {
    const events = [ev(3, "starting", "waiting for hello-ok", 9), ev(3, "backoff", "hang"), ev(3, "backoff", "hang")];
    const audit = [au("gateway.start", 4), au("gateway.restart", 3)];
    expect(auditGaps(events, audit)).toEqual([
      "audit trail: 1 of 1 gateway.start of generation 3 without an entry",
      "audit trail: 1 of 2 gateway.restart of generation 3 without an entry",
    ]);
  });

  it("needs a secrets.apply or skills.apply at or before a rotation restart", () => {
    const stop = ev(5, "stopping", "restart requested (rotation)", 7, 2000);
    expect(auditGaps([stop], [au("secrets.apply", undefined, 3000)])).toEqual(["audit trail: the rotation restart of generation 5 has no secrets.apply or skills.apply entry"]);
    expect(auditGaps([stop], [au("skills.apply", undefined, 1500)])).toEqual([]);
  });

  it("counts session repairs overall", () => {
    expect(auditGaps([ev(1, "session-repair", "x"), ev(2, "session-repair", "y")], [au("session.repair")])).toEqual(["audit trail: 1 of 2 session.repair without an entry"]);
  });
});
