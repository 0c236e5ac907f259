import { describe, expect, it } from "vitest";
import { changedKeyPaths, configRewriteDetail, MAX_CHANGED_KEYS } from "../../src/supervisor/config-diff.ts";
import { installAuditEntry } from "../../src/runtime/command.ts";

describe("changedKeyPaths", () => {
  it.each([
    { name: "equal objects", a: { x: 1, y: { z: "s" } }, b: { y: { z: "s" }, x: 1 }, want: [] },
    { name: "a changed leaf, by path", a: { gateway: { port: 1 } }, b: { gateway: { port: 2 } }, want: ["gateway.port"] },
    { name: "added and removed keys", a: { a: 1, b: 2 }, b: { b: 2, c: 3 }, want: ["a", "c"] },
    { name: "arrays compare whole", a: { f: ["m/1", "m/2"] }, b: { f: ["m/1"] }, want: ["f"] },
    { name: "object replaced by a scalar", a: { m: { k: 1 } }, b: { m: "x" }, want: ["m"] },
    { name: "nested, sorted", a: { z: { b: 1, a: 1 }, y: 0 }, b: { z: { b: 2, a: 2 }, y: 1 }, want: ["y", "z.a", "z.b"] },
    { name: "different roots", a: 1, b: 2, want: ["(root)"] },
  ])("$name", ({ a, b, want }) => {
    expect(changedKeyPaths(a, b)).toEqual(want);
  });
});

describe("configRewriteDetail", () => {
  const SECRET = "sk-the-value-never-appears";
  it.each([
    { name: "same text: no rewrite to record", before: '{"a":1}', after: '{"a":1}', want: undefined },
    { name: "no file before", before: undefined, after: '{"a":1}', want: { created: true } },
    { name: "an unparsable file before", before: "{a:1,}", after: '{"a":1}', want: { previous: "unparsable" } },
    { name: "only formatting", before: '{"a":1}', after: '{\n  "a": 1\n}\n', want: { changedKeys: [], formatting: true } },
    { name: "names keys, never values", before: `{"m":{"apiKey":"old"}}`, after: `{"m":{"apiKey":"${SECRET}"}}`, want: { changedKeys: ["m.apiKey"] } },
  ])("$name", ({ before, after, want }) => {
    const got = configRewriteDetail(before, after);
    expect(got).toEqual(want);
    expect(JSON.stringify(got ?? {})).not.toContain(SECRET);
  });

  it("lists at most MAX_CHANGED_KEYS and counts the rest", () => {
    const after = Object.fromEntries(Array.from({ length: MAX_CHANGED_KEYS + 5 }, (_, i) => [`k${String(i).padStart(3, "0")}`, i]));
    const got = configRewriteDetail("{}", JSON.stringify(after));
    expect((got?.changedKeys as string[]).length).toBe(MAX_CHANGED_KEYS);
    expect(got?.more).toBe(5);
  });
});

describe("installAuditEntry (agent-supervisor openclaw install)", () => {
  const rec = (v: string) => ({ openclawVersion: v, nodeVersion: "24.21.0", nodePath: "/n", entryPath: "/e" });
  it.each([
    { name: "a fresh install", r: { status: "installed", record: rec("2026.9.6"), previous: undefined }, action: "openclaw.install", previous: null },
    { name: "an upgrade", r: { status: "installed", record: rec("2026.10.1"), previous: rec("2026.9.6") }, action: "openclaw.install", previous: "2026.9.6" },
    { name: "back to one already installed", r: { status: "already-installed", record: rec("2026.9.6"), previous: rec("2026.10.1") }, action: "openclaw.switch", previous: "2026.10.1" },
    { name: "the current one confirmed", r: { status: "already-installed", record: rec("2026.9.6"), previous: undefined }, action: "openclaw.install", previous: null },
  ] as const)("$name → $action", ({ r, action, previous }) => {
    const e = installAuditEntry(r as never);
    expect(e).toMatchObject({ actor: "operator", action, detail: { version: r.record.openclawVersion, nodeVersion: "24.21.0", previousVersion: previous, status: r.status } });
  });
});
