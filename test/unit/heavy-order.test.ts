/**
 * The order vitest starts the test files in (test/e2e/heavy-order.ts), and which files hold the
 * heavy lock in which mode (test/e2e/heavy-lock.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { heavyLockMode, heavyOrder, type FileKind } from "../e2e/heavy-order.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

describe("heavyLockMode", () => {
  it.each([
    ['await holdHeavyLock(); // one at a time', "exclusive"],
    ['await holdHeavyLock("exclusive");', "exclusive"],
    ['await holdHeavyLock("shared"); // two at once', "shared"],
    ['import { holdHeavyLock } from "./heavy-lock.ts";', undefined],
    ["  await holdHeavyLock();", undefined], // not at the top level of the file
    ["const x = 1;", undefined],
  ] as const)("%s → %s", (source, mode) => {
    expect(heavyLockMode(`import x from "y";\n${source}\n`)).toBe(mode);
  });

  it("classifies the files that boot a real gateway: the timing-sensitive ones alone, the rest shared; the config check boots none", () => {
    const modes = Object.fromEntries(
      [...readdirSync(join(ROOT, "test", "e2e")).map((f) => join("test", "e2e", f)), join("test", "faults", "fast.test.ts"), join("test", "build", "binary.test.ts")]
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => [f.replace(/^test\//, ""), heavyLockMode(readFileSync(join(ROOT, f), "utf8"))]),
    );
    expect(modes).toEqual({
      "build/binary.test.ts": "shared",
      "e2e/agent-boundary.e2e.test.ts": "shared",
      "e2e/announced-restart.e2e.test.ts": "exclusive",
      "e2e/control-plane.e2e.test.ts": "shared",
      "e2e/exactly-once.e2e.test.ts": "shared",
      "e2e/gateway-config.e2e.test.ts": undefined,
      "e2e/gateway-watchdogs.e2e.test.ts": "exclusive",
      "e2e/gateway.e2e.test.ts": "shared",
      "e2e/lease-abort.e2e.test.ts": "shared",
      "e2e/probe-turn.e2e.test.ts": "exclusive",
      "e2e/provider-auth.e2e.test.ts": "shared",
      "e2e/runtime-missing.e2e.test.ts": "exclusive",
      "e2e/session-repair.e2e.test.ts": "shared",
      "e2e/stuck-run.e2e.test.ts": "exclusive",
      "e2e/upgrade-kill.e2e.test.ts": "shared",
      "e2e/upgrade.e2e.test.ts": "shared",
      "faults/fast.test.ts": "exclusive",
    });
  });
});

describe("heavyOrder", () => {
  const kind = (name: string): FileKind =>
    name.startsWith("D") ? "droplet" : name.startsWith("S") ? "shared" : name.startsWith("E") ? "exclusive" : "light";

  it.each([
    { name: "everything", files: ["L1", "S1", "E1", "L2", "D", "E2", "S2", "L3", "L4", "L5"], want: ["D", "S1", "S2", "E1", "L1", "L2", "L3", "E2", "L4", "L5"] },
    { name: "light files dividing evenly", files: ["E1", "L1", "L2", "E2", "L3", "L4"], want: ["E1", "L1", "L2", "E2", "L3", "L4"] },
    { name: "fewer light files than exclusive ones", files: ["E1", "E2", "E3", "L1"], want: ["E1", "L1", "E2", "E3"] },
    { name: "no exclusive file: light files last", files: ["L1", "S1", "L2", "D"], want: ["D", "S1", "L1", "L2"] },
    { name: "only light files: vitest's order", files: ["L2", "L1"], want: ["L2", "L1"] },
    { name: "nothing", files: [], want: [] },
  ])("$name", ({ files, want }) => {
    const out = heavyOrder(files, kind);
    expect(out).toEqual(want);
    expect([...out].sort()).toEqual([...files].sort()); // each file once
  });
});
