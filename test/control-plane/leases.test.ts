/** The pure decisions: claimability, heartbeat and result verdicts, ETag matching, --runtime flags. No timers, no disk. */
import { describe, expect, it } from "vitest";
import { parseRuntimeFlags } from "../../src/dev/control-plane/command.ts";
import { heartbeatVerdict, isClaimable, resultVerdict, type TurnLeaseFacts } from "../../src/dev/control-plane/leases.ts";
import { etagMatches } from "../../src/dev/control-plane/routes_runtime.ts";

const NOW = 1_000_000;
const leased = (over: Partial<TurnLeaseFacts> = {}): TurnLeaseFacts => ({
  state: "leased",
  leaseId: "L1",
  leaseRuntimeId: "rt-1",
  leaseExpiresAt: NOW + 1,
  resultKind: null,
  ...over,
});

describe("isClaimable", () => {
  it.each([
    { name: "queued", t: leased({ state: "queued", leaseId: null, leaseRuntimeId: null, leaseExpiresAt: null }), want: true },
    { name: "leased, live", t: leased(), want: false },
    { name: "leased, expires now", t: leased({ leaseExpiresAt: NOW }), want: true },
    { name: "leased, expired", t: leased({ leaseExpiresAt: NOW - 1 }), want: true },
    { name: "done", t: leased({ state: "done", leaseExpiresAt: NOW - 1 }), want: false },
    { name: "failed", t: leased({ state: "failed", leaseExpiresAt: NOW - 1 }), want: false },
    { name: "cancelled", t: leased({ state: "cancelled", leaseExpiresAt: NOW - 1 }), want: false },
  ])("$name → $want", ({ t, want }) => {
    expect(isClaimable(t, NOW)).toBe(want);
  });
});

describe("heartbeatVerdict", () => {
  const mine = { turnId: "t1", runtimeId: "rt-1" };
  const entry = { turnId: "t1", leaseId: "L1", runtimeId: "rt-1" };
  it.each([
    { name: "live lease", turn: leased(), lease: mine, e: entry, want: "extend" },
    { name: "unknown turn", turn: undefined, lease: mine, e: entry, want: "unknown" },
    { name: "unknown lease", turn: leased(), lease: undefined, e: entry, want: "unknown" },
    { name: "lease of another runtime", turn: leased(), lease: { ...mine, runtimeId: "rt-2" }, e: entry, want: "unknown" },
    { name: "lease of another turn", turn: leased(), lease: { ...mine, turnId: "t2" }, e: entry, want: "unknown" },
    { name: "cancelled", turn: leased({ state: "cancelled" }), lease: mine, e: entry, want: "cancelled" },
    { name: "re-leased", turn: leased({ leaseId: "L2", leaseRuntimeId: "rt-2" }), lease: mine, e: entry, want: "reassigned" },
    { name: "finished", turn: leased({ state: "done", resultKind: "complete" }), lease: mine, e: entry, want: "finished" },
    { name: "expired", turn: leased({ leaseExpiresAt: NOW }), lease: mine, e: entry, want: "expired" },
  ])("$name → $want", ({ turn, lease, e, want }) => {
    const v = heartbeatVerdict(turn, lease, e, NOW);
    expect(v.kind === "extend" ? "extend" : v.reason.split(":")[0]).toBe(want);
  });
});

describe("resultVerdict", () => {
  const report = { kind: "complete" as const, leaseId: "L1", runtimeId: "rt-1" };
  it.each([
    { name: "current lease", turn: leased(), r: report, want: "accept" },
    { name: "current lease, expired, not re-claimed", turn: leased({ leaseExpiresAt: NOW - 5 }), r: report, want: "accept" },
    { name: "old lease after a re-claim", turn: leased({ leaseId: "L2", leaseRuntimeId: "rt-2" }), r: report, want: "lease-lost" },
    { name: "right lease id, wrong runtime", turn: leased({ leaseRuntimeId: "rt-2" }), r: report, want: "lease-lost" },
    { name: "never claimed", turn: leased({ state: "queued", leaseId: null, leaseRuntimeId: null, leaseExpiresAt: null }), r: report, want: "lease-lost" },
    { name: "cancelled", turn: leased({ state: "cancelled" }), r: report, want: "lease-lost" },
    { name: "repeat of the stored result", turn: leased({ state: "done", resultKind: "complete" }), r: report, want: "duplicate" },
    { name: "other kind under the winning lease", turn: leased({ state: "failed", resultKind: "fail" }), r: report, want: "conflict" },
    { name: "result of another lease after one won", turn: leased({ state: "done", resultKind: "complete", leaseId: "L2" }), r: report, want: "lease-lost" },
  ])("$name → $want", ({ turn, r, want }) => {
    expect(resultVerdict(turn, r).kind).toBe(want);
  });
});

describe("etagMatches", () => {
  it.each([
    [undefined, false],
    ['"3"', true],
    ['W/"3"', true],
    ['"2", "3"', true],
    ["*", true],
    ['"4"', false],
    ["3", false],
  ])("If-None-Match %s vs \"3\" → %s", (header, want) => {
    expect(etagMatches(header, '"3"')).toBe(want);
  });
});

describe("parseRuntimeFlags", () => {
  it("splits at the first colon", () => {
    expect(parseRuntimeFlags(["rt-1:acc-1", "rt-2:acc:with:colons"])).toEqual([
      { runtimeId: "rt-1", accountId: "acc-1" },
      { runtimeId: "rt-2", accountId: "acc:with:colons" },
    ]);
  });
  it.each(["rt-1", ":acc", "rt-1:"])("rejects %j", (flag) => {
    expect(() => parseRuntimeFlags([flag])).toThrow(/RUNTIME_ID:ACCOUNT_ID/);
  });
});
