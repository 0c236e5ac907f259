/** The session-repair verdict (src/watchdogs/session-repair-plan.ts): pure, table-driven, no timers. */
import { describe, expect, it } from "vitest";
import {
  decideRepair,
  humanDuration,
  pruneSessions,
  recordRepair,
  recordTurn,
  type FinishedTurn,
  type RepairVerdict,
  type SessionRecord,
  type SessionRepairPolicy,
} from "../../src/watchdogs/session-repair-plan.ts";

const H = 3_600_000;
const NOW = 100 * H;
const POLICY: SessionRepairPolicy = { mode: "compact", after: 2, maxRepairs: 3, windowMs: 24 * H };

/** A record with a streak of `failures` of `cause` (and anything else given). */
function rec(failures: number, cause: SessionRecord["cause"], extra: Partial<SessionRecord> = {}): SessionRecord {
  return { failures, cause, since: failures > 0 ? NOW - 60_000 : null, lastError: null, last: cause ?? "ok", lastOkAt: null, repairs: [], updatedAt: NOW - 1000, ...extra };
}

describe("recordTurn", () => {
  const fail = (cls: FinishedTurn["cls"], at = 10): FinishedTurn => ({ ok: false, cls, message: `failed ${cls}`, at });
  it.each<[string, SessionRecord | undefined, FinishedTurn, Partial<SessionRecord>]>([
    ["a first reply", undefined, { ok: true, cls: null, message: null, at: 5 }, { failures: 0, cause: null, last: "ok", lastOkAt: 5 }],
    ["a first context failure starts a streak", undefined, fail("context"), { failures: 1, cause: "context", since: 10, lastError: "failed context", last: "context" }],
    ["a second one extends it, keeping its start", rec(1, "context", { since: 3 }), fail("context"), { failures: 2, cause: "context", since: 3 }],
    ["a session failure after a context one extends it, as the latest class", rec(1, "context"), fail("session"), { failures: 2, cause: "session", last: "session" }],
    ["a reply ends the streak", rec(4, "context"), { ok: true, cls: null, message: null, at: 20 }, { failures: 0, cause: null, since: null, last: "ok", lastOkAt: 20 }],
    ["an auth failure says nothing about the session", rec(1, "context"), fail("auth"), { failures: 1, cause: "context", last: "auth" }],
    ["a timeout neither", rec(1, "session"), fail("timeout"), { failures: 1, cause: "session", last: "timeout" }],
    ["a failure without a class counts as other", undefined, fail(null), { failures: 0, cause: null, last: "other" }],
  ])("%s", (_name, prev, turn, expected) => {
    expect(recordTurn(prev, turn)).toMatchObject(expected);
  });
});

describe("recordRepair", () => {
  it("a repair that worked starts a new streak; one that failed keeps it", () => {
    const r = rec(2, "context");
    expect(recordRepair(r, { at: NOW, action: "compact", ok: true })).toMatchObject({ failures: 0, cause: null, since: null, repairs: [{ at: NOW, action: "compact", ok: true }] });
    expect(recordRepair(r, { at: NOW, action: "compact", ok: false })).toMatchObject({ failures: 2, cause: "context", repairs: [{ at: NOW, action: "compact", ok: false }] });
  });
});

describe("decideRepair", () => {
  const compacted = (at: number, ok = true) => ({ at, action: "compact" as const, ok });
  const reset = (at: number) => ({ at, action: "reset" as const, ok: true });
  it.each<[string, SessionRecord, SessionRecord[], Partial<SessionRepairPolicy>, RepairVerdict]>([
    ["no streak", rec(0, null), [], {}, { kind: "none" }],
    ["a streak below the threshold", rec(1, "context"), [], {}, { kind: "none" }],
    ["context overflow twice: compact", rec(2, "context"), [], {}, { kind: "repair", action: "compact", cause: "context", failures: 2 }],
    ["a poisoned session: compact first too", rec(3, "session"), [], {}, { kind: "repair", action: "compact", cause: "session", failures: 3 }],
    ["policy reset", rec(2, "context"), [], { mode: "reset" }, { kind: "repair", action: "reset", cause: "context", failures: 2 }],
    ["threshold 1", rec(1, "context"), [], { after: 1 }, { kind: "repair", action: "compact", cause: "context", failures: 1 }],
    ["policy off: held, saying so", rec(2, "context"), [], { mode: "off" }, { kind: "hold", cause: "context", failures: 2, reason: "repair is off (SESSION_REPAIR=off)" }],
    [
      "the gateway refused the compaction: reset",
      rec(2, "context", { repairs: [compacted(NOW - 1000, false)] }),
      [],
      {},
      { kind: "repair", action: "reset", cause: "context", failures: 2 },
    ],
    [
      "failing again after a compaction, no reply since: reset",
      rec(2, "context", { repairs: [compacted(NOW - H)], lastOkAt: NOW - 2 * H }),
      [],
      {},
      { kind: "repair", action: "reset", cause: "context", failures: 2 },
    ],
    [
      "the first failure after a compaction, no reply since: reset at once",
      rec(1, "context", { repairs: [compacted(NOW - 60_000)], lastOkAt: NOW - 2 * H }),
      [],
      {},
      { kind: "repair", action: "reset", cause: "context", failures: 1 },
    ],
    [
      "a compaction that did not help, then a reset the gateway did not do: reset again at the next failure",
      rec(1, "context", { repairs: [compacted(NOW - 120_000), { at: NOW - 60_000, action: "reset", ok: false }] }),
      [],
      {},
      { kind: "repair", action: "reset", cause: "context", failures: 1 },
    ],
    [
      "after a reset that worked, no reply yet: the usual threshold, compact first",
      rec(1, "context", { repairs: [compacted(NOW - 120_000), reset(NOW - 60_000)] }),
      [],
      {},
      { kind: "none" },
    ],
    [
      "after a reset that worked, no reply yet, the threshold reached: compact",
      rec(2, "context", { repairs: [compacted(NOW - 120_000), reset(NOW - 60_000)] }),
      [],
      {},
      { kind: "repair", action: "compact", cause: "context", failures: 2 },
    ],
    [
      "the first failure after a compaction that was followed by replies: not yet",
      rec(1, "context", { repairs: [compacted(NOW - 2 * H)], lastOkAt: NOW - H }),
      [],
      {},
      { kind: "none" },
    ],
    [
      "failing again after a compaction that was followed by replies: compact again",
      rec(2, "context", { repairs: [compacted(NOW - 2 * H)], lastOkAt: NOW - H }),
      [],
      {},
      { kind: "repair", action: "compact", cause: "context", failures: 2 },
    ],
    [
      "a compaction outside the window is forgotten: compact",
      rec(2, "context", { repairs: [compacted(NOW - 25 * H)] }),
      [],
      {},
      { kind: "repair", action: "compact", cause: "context", failures: 2 },
    ],
    [
      "after a reset, compact again",
      rec(2, "context", { repairs: [reset(NOW - H)] }),
      [],
      {},
      { kind: "repair", action: "compact", cause: "context", failures: 2 },
    ],
    [
      "three repairs within the window: left as it is",
      rec(2, "context", { repairs: [compacted(NOW - 3 * H), reset(NOW - 2 * H), compacted(NOW - H)] }),
      [],
      {},
      { kind: "hold", cause: "context", failures: 2, reason: "left as it is: 3 repairs within 24 h did not help (SESSION_REPAIR_MAX=3)" },
    ],
    [
      "three repairs, one outside the window: repaired",
      rec(2, "context", { repairs: [compacted(NOW - 30 * H), reset(NOW - 2 * H), compacted(NOW - H, false)] }),
      [],
      {},
      { kind: "repair", action: "reset", cause: "context", failures: 2 },
    ],
    [
      "a malformed-request streak while another session fails the same way: held",
      rec(2, "session"),
      [rec(1, "session"), rec(0, null)],
      {},
      { kind: "hold", cause: "session", failures: 2, reason: "1 other session failing the same way: the provider or the configuration, not this session's transcript" },
    ],
    ["a malformed-request streak while another session overflows: repaired", rec(2, "session"), [rec(3, "context")], {}, { kind: "repair", action: "compact", cause: "session", failures: 2 }],
    [
      "a malformed-request streak; another session failed so but replied since: repaired",
      rec(2, "session"),
      [rec(0, null, { last: "ok" })],
      {},
      { kind: "repair", action: "compact", cause: "session", failures: 2 },
    ],
    [
      "a malformed-request streak; another session's streak whose latest failure was a timeout: repaired",
      rec(2, "session"),
      [rec(1, "session", { last: "timeout" })],
      {},
      { kind: "repair", action: "compact", cause: "session", failures: 2 },
    ],
    ["context overflow while other sessions overflow too: each is its own", rec(2, "context"), [rec(2, "context")], {}, { kind: "repair", action: "compact", cause: "context", failures: 2 }],
  ])("%s", (_name, r, others, policy, expected) => {
    expect(decideRepair(r, others, NOW, { ...POLICY, ...policy })).toEqual(expected);
  });
});

describe("pruneSessions", () => {
  it("keeps sessions with a streak or a repair within the window, newest first, at most max", () => {
    const m = new Map<string, SessionRecord>([
      ["clean", rec(0, null)],
      ["failing", rec(1, "context", { updatedAt: NOW - 10 })],
      ["repaired-lately", rec(0, null, { repairs: [{ at: NOW - H, action: "compact", ok: true }], updatedAt: NOW - 20 })],
      ["repaired-long-ago", rec(0, null, { repairs: [{ at: NOW - 30 * H, action: "reset", ok: true }] })],
      ["failing-older", rec(2, "session", { updatedAt: NOW - 30, repairs: [{ at: NOW - 30 * H, action: "reset", ok: true }] })],
    ]);
    const kept = pruneSessions(m, NOW, 24 * H, 10);
    expect([...kept.keys()]).toEqual(["failing", "repaired-lately", "failing-older"]);
    expect(kept.get("failing-older")!.repairs).toEqual([]);
    expect([...pruneSessions(m, NOW, 24 * H, 2).keys()]).toEqual(["failing", "repaired-lately"]);
  });
});

describe("humanDuration", () => {
  it.each([
    [24 * H, "24 h"],
    [90 * 60_000, "90 min"],
    [45_000, "45 s"],
    [1500, "2 s"],
  ])("%d ms → %s", (ms, words) => {
    expect(humanDuration(ms)).toBe(words);
  });
});
