// The import direction between the rooms (folders) of src/, as written in .dependency-cruiser.cjs
// (ROOMS, lowest first), checked with dependency-cruiser: the same run as `npm run deps`, read as
// JSON. Then the rules themselves, on two tiny trees under fixtures/: one that keeps the order
// and must pass, one that breaks each rule once and must fail with exactly those violations.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const CONFIG = join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruiser.mjs");
const FIXTURES = join(import.meta.dirname, "fixtures");

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}
interface Cruise {
  summary: { violations: Violation[]; totalCruised: number; totalDependenciesCruised: number };
  modules: { source: string; dependencies: { resolved: string; dependencyTypes: string[] }[] }[];
}

/** Runs the depcruise CLI on `src` inside `cwd` with the project's rules. */
function cruise(cwd: string): Cruise {
  const run = spawnSync(process.execPath, [DEPCRUISE, "--config", CONFIG, "--output-type", "json", "src"], {
    cwd,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  // depcruise exits with the number of errors it found; only a missing report is a failure to run.
  if (run.error || !run.stdout.trim().startsWith("{")) {
    throw new Error(`depcruise did not run in ${cwd} (exit ${run.status}): ${run.error?.message ?? ""}\n${run.stderr}`);
  }
  return JSON.parse(run.stdout) as Cruise;
}

/** One line per violation, e.g. "sync-imports-upward: src/sync/status.ts → src/health/ports.ts". */
function describeViolation(v: Violation): string {
  if (v.cycle && v.cycle.length > 0) {
    return `${v.rule.name}: ${[v.from, ...v.cycle.map((c) => c.name)].join(" → ")}`;
  }
  return v.from === v.to ? `${v.rule.name}: ${v.from}` : `${v.rule.name}: ${v.from} → ${v.to}`;
}

const describeAll = (c: Cruise): string[] => c.summary.violations.map(describeViolation).sort();

describe("imports between the rooms of src/", () => {
  it("go only down the room order of .dependency-cruiser.cjs, with no cycle and nothing unresolvable", () => {
    const result = cruise(ROOT);
    expect(result.summary.totalCruised, "depcruise found the files of src/").toBeGreaterThan(50);
    // On failure the diff lists every violation on its own line; `npm run deps` explains each rule.
    expect(describeAll(result), "imports against the room order; `npm run deps` explains each rule").toEqual([]);
  });
});

describe("the import rules (fixture trees)", () => {
  it("pass a tree that keeps the order, type-only imports included", () => {
    const result = cruise(join(FIXTURES, "ordered"));
    expect(describeAll(result)).toEqual([]);
    // The tree is not vacuous: the allowed imports are in the graph, the type-only one too.
    const edges = result.modules.flatMap((m) =>
      m.dependencies.map((d) => `${m.source} → ${d.resolved}${d.dependencyTypes.includes("type-only") ? " (type-only)" : ""}`),
    );
    expect(edges.sort()).toEqual([
      "src/cli/run.ts → src/core/clock.ts",
      "src/cli/run.ts → src/store/db.ts",
      "src/main.ts → src/cli/run.ts",
      "src/store/db.ts → src/core/clock.ts (type-only)",
    ]);
  });

  it("fail a tree that breaks them, on each forbidden import and on no allowed one", () => {
    const result = cruise(join(FIXTURES, "broken"));
    expect(describeAll(result)).toEqual([
      // core/clock.ts imports a type from store/db.ts, which imports core/clock.ts (allowed):
      "core-imports-upward: src/core/clock.ts → src/store/db.ts",
      "no-circular-between-rooms: src/core → src/store → src/core",
      "no-circular-between-rooms: src/store → src/core → src/store",
      "no-circular-modules: src/core/clock.ts → src/store/db.ts → src/core/clock.ts",
      // store/rows.ts and store/schema.ts import each other: a cycle inside one room.
      "no-circular-modules: src/store/rows.ts → src/store/schema.ts → src/store/rows.ts",
      "no-file-outside-a-room: src/helpers.ts → src/core/clock.ts",
      "no-import-of-file-outside-a-room: src/main.ts → src/util/strings.ts",
      "no-orphan-outside-a-room: src/leftover.ts",
      "not-to-unresolvable: src/config/load.ts → ../core/missing.ts",
    ]);
  });
});
