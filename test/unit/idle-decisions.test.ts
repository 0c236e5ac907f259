/** The pure decisions behind a fleet that idles cheaply (issue 15): status due, announced fetches, next poll. */
import { describe, expect, it } from "vitest";
import { announcedFetch, announcesBoth, nextPollAt } from "../../src/sync/secrets-schedule.ts";
import { statusDue } from "../../src/sync/worker_decide.ts";
import type { StatusSnapshotInput } from "../../src/sync/worker.ts";

const GB = 1e9;
const S: StatusSnapshotInput = {
  daemonVersion: "0.1.0",
  openclawVersion: "2026.9.6",
  gatewayState: "ready",
  status: "online",
  reason: null,
  host: { cpuLoadPercent: 3, memTotalBytes: 8 * GB, memAvailableBytes: 4 * GB, diskTotalBytes: 100 * GB, diskFreeBytes: 50 * GB },
  queue: { accepted: 0, delivering: 0, outbox: 0 },
};
const host = (h: Partial<StatusSnapshotInput["host"]>): StatusSnapshotInput => ({ ...S, host: { ...S.host, ...h } });

describe("statusDue", () => {
  const last = { snapshot: S, atMs: 1_000 };
  it.each([
    ["nothing sent yet", undefined, S, 1_000, true],
    ["unchanged, before the keepalive", last, S, 1_000 + 599_999, false],
    ["unchanged, at the keepalive", last, S, 1_000 + 600_000, true],
    ["gateway state changed", last, { ...S, gatewayState: "backoff" as const }, 1_001, true],
    ["queue changed", last, { ...S, queue: { accepted: 1, delivering: 0, outbox: 0 } }, 1_001, true],
    ["budget appeared", last, { ...S, budget: { limit: 1, used: 0, state: "ok" as const, action: "warn" as const, resetsAt: "2026-12-01T00:00:00.000Z" } }, 1_001, true],
    ["CPU load alone", last, host({ cpuLoadPercent: 99 }), 1_001, false],
    ["disk free moved by less than 5 % of the disk", last, host({ diskFreeBytes: 46 * GB }), 1_001, false],
    ["disk free moved by 5 % of the disk", last, host({ diskFreeBytes: 45 * GB }), 1_001, true],
    ["memory available moved by 5 % of memory", last, host({ memAvailableBytes: 4.4 * GB }), 1_001, true],
    ["host totals of zero (metrics unreadable), unchanged", { snapshot: host({ memTotalBytes: 0, memAvailableBytes: 0 }), atMs: 0 }, host({ memTotalBytes: 0, memAvailableBytes: 0 }), 1, false],
  ])("%s → %s", (_what, prev, next, now, due) => {
    expect(statusDue(prev, next, now, 600_000)).toBe(due);
  });
});

describe("announcedFetch", () => {
  it.each([
    [{}, { secrets: "1", skills: "1" }, { secrets: false, skills: false }],
    [{ secretsVersion: "1", skillsVersion: "1" }, { secrets: "1", skills: "1" }, { secrets: false, skills: false }],
    [{ secretsVersion: "2", skillsVersion: "1" }, { secrets: "1", skills: "1" }, { secrets: true, skills: false }],
    [{ secretsVersion: "1", skillsVersion: "2" }, { secrets: "1", skills: "1" }, { secrets: false, skills: true }],
    [{ secretsVersion: null, skillsVersion: "1" }, { secrets: "1", skills: "1" }, { secrets: true, skills: false }],
    [{ secretsVersion: null, skillsVersion: "1" }, { secrets: null, skills: "1" }, { secrets: false, skills: false }],
    [{ secretsVersion: "1" }, { secrets: undefined, skills: undefined }, { secrets: true, skills: false }],
  ] as const)("%j against %j", (a, seen, wanted) => {
    expect(announcedFetch(a, seen)).toEqual(wanted);
  });

  it("only both versions together count as announcing", () => {
    expect([announcesBoth({}), announcesBoth({ secretsVersion: "1" }), announcesBoth({ secretsVersion: null, skillsVersion: "0" })]).toEqual([false, false, true]);
  });
});

describe("nextPollAt", () => {
  it.each([
    ["no announcements: the interval after the poll", { announcing: false, announcedAt: 50, claimInFlight: true }, 60_100],
    ["announcing, a claim parked: not while it stays parked", { announcing: true, announcedAt: 500, claimInFlight: true }, Number.POSITIVE_INFINITY],
    ["announcing, no claim parked: the interval after the latest announcement", { announcing: true, announcedAt: 30_000, claimInFlight: false }, 90_000],
    ["announcing, an old announcement: the interval after the poll", { announcing: true, announcedAt: 0, claimInFlight: false }, 60_100],
    ["announcing never heard", { announcing: true, announcedAt: undefined, claimInFlight: true }, 60_100],
  ])("%s", (_what, a, due) => {
    expect(nextPollAt(100, 60_000, a)).toBe(due);
  });
});
