/** The suite's pure parts: time formatting, the table, when a run fails, the memory limit it picks. */
import { describe, expect, it } from "vitest";
import { cell, earlierRun, failed, formatMs, renderTable, type Row } from "../../bench/faults/report.ts";
import { memoryLimitFor } from "../../bench/faults/case_memory.ts";
import type { FaultResult } from "../../bench/faults/types.ts";

const result = (o: Partial<FaultResult> = {}): Row => ({
  kind: "result",
  result: { fault: "Gateway SIGKILL", realGateway: true, detectedMs: 12, servingAgainMs: 15_300, lost: 0, duplicated: 0, notes: "exited | SIGKILL", ...o },
});

describe("formatMs", () => {
  it.each([
    [null, "—"],
    [0, "0 ms"],
    [999.4, "999 ms"],
    [1000, "1.00 s"],
    [9_994, "9.99 s"],
    [15_300, "15.3 s"],
    [125_000, "125.0 s"],
  ])("%s → %s", (v, text) => {
    expect(formatMs(v)).toBe(text);
  });
});

describe("renderTable", () => {
  it("renders results, errors and skipped cases, escaping pipes", () => {
    const table = renderTable([
      result(),
      { kind: "error", fault: "Gateway SIGSTOP", realGateway: true, error: "timed out\nwaiting" },
      { kind: "skipped", fault: "/tmp flood", realGateway: false, why: "not run (--only)" },
    ]);
    expect(table.split("\n")).toEqual([
      "| Fault | Gateway | Detected after | Serving again after | Lost | Duplicated | Notes |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      "| Gateway SIGKILL | real | 12 ms | 15.3 s | 0 | 0 | exited \\| SIGKILL |",
      "| Gateway SIGSTOP | real | ? | ? | ? | ? | case failed: timed out waiting |",
      "| /tmp flood | stand-in | — | — | — | — | not run (--only) |",
    ]);
    expect(cell("a|b\r\nc")).toBe("a\\|b c");
  });
});

describe("earlierRun (--merge)", () => {
  const doc = (rows: string[], extra: string[] = []) =>
    ["# Reliability", "", "## Results", "", renderTable([]), ...rows, "", "Measured 2026-11-30 10:39 UTC on 2 × CPU; commit abc1234.", ...extra, "", "## Reproduce"].join("\n");
  const sigkill = "| Gateway SIGKILL | real | 12 ms | 15.3 s | 0 | 0 | exited \\| SIGKILL |";

  it("reads each result line by its fault cell, measured by the doc's own commit", () => {
    const e = earlierRun(doc([sigkill, "| /tmp flood | stand-in | 5 ms | — | 0 | 0 | swept |"]));
    expect([...e.rows.keys()]).toEqual(["Gateway SIGKILL", "/tmp flood"]);
    expect(e.rows.get("Gateway SIGKILL")).toEqual({ line: sigkill, commit: "abc1234" });
    expect(e.measured.get("abc1234")).toBe("measured 2026-11-30 10:39 UTC on 2 × CPU; commit abc1234.");
  });

  it("a kept row is rendered as it was, its notes marked with the commit that measured it", () => {
    const r = earlierRun(doc([sigkill])).rows.get(cell("Gateway SIGKILL"))!;
    expect(renderTable([{ kind: "kept", fault: "Gateway SIGKILL", ...r }]).split("\n")[2]).toBe(
      "| Gateway SIGKILL | real | 12 ms | 15.3 s | 0 | 0 | [earlier run, abc1234] exited \\| SIGKILL |",
    );
  });

  it("merges again: rows the doc kept keep their own commit and its measured line (before: refused)", () => {
    const keptLine = renderTable([{ kind: "kept", fault: "Gateway SIGKILL", line: sigkill, commit: "0dd0dd0" }]).split("\n")[2]!;
    const e = earlierRun(doc([keptLine, "| /tmp flood | stand-in | 5 ms | — | 0 | 0 | swept |"], ["Kept rows [earlier run, 0dd0dd0]: measured 2026-11-29 on 2 × CPU; commit 0dd0dd0."]));
    expect(e.rows.get("Gateway SIGKILL")).toEqual({ line: sigkill, commit: "0dd0dd0" });
    expect(e.rows.get("/tmp flood")?.commit).toBe("abc1234");
    expect(e.measured.get("0dd0dd0")).toBe("measured 2026-11-29 on 2 × CPU; commit 0dd0dd0.");
  });

  it("reads the first format: [earlier run] rows measured by the commit its 'Rows marked' line names", () => {
    const legacy = sigkill.replace("| exited", "| [earlier run] exited");
    const e = earlierRun(doc([legacy], ["Rows marked [earlier run] were kept from an earlier run (`--merge`): measured 2026-11-30 11:52 UTC on 2 × CPU; commit 3ff0da2."]));
    expect(e.rows.get("Gateway SIGKILL")).toEqual({ line: sigkill, commit: "3ff0da2" });
    expect(e.measured.get("3ff0da2")).toBe("measured 2026-11-30 11:52 UTC on 2 × CPU; commit 3ff0da2.");
  });

  it("refuses a doc without results", () => {
    expect(() => earlierRun("# Reliability\n")).toThrow(/no results table/);
  });
});

describe("failed", () => {
  it.each<[string, Row[], boolean]>([
    ["all clean", [result(), result({ realGateway: false, servingAgainMs: null })], false],
    ["a lost turn", [result(), result({ lost: 1 })], true],
    ["a duplicated turn", [result({ duplicated: 2 })], true],
    ["a case that could not measure", [result(), { kind: "error", fault: "x", realGateway: false, error: "boom" }], true],
    ["skipped cases only", [{ kind: "skipped", fault: "x", realGateway: true, why: "--fast" }], false],
  ])("%s", (_name, rows, expected) => {
    expect(failed(rows)).toBe(expected);
  });
});

describe("memoryLimitFor", () => {
  it.each([
    // Separable: halfway between the booted RSS (the larger of peak and idle) and the ballooned one.
    [{ bootPeakMb: 930, idleMb: 925, afterFirstTurnMb: 1240 }, { limitMb: 1085, loop: false }],
    [{ bootPeakMb: 900, idleMb: 950, afterFirstTurnMb: 1050 }, { limitMb: 1000, loop: false }],
    // Too close to separate: below the booted RSS, and the row says every generation is over.
    [{ bootPeakMb: 930, idleMb: 925, afterFirstTurnMb: 1000 }, { limitMb: 744, loop: true }],
    [{ bootPeakMb: 50, idleMb: 40, afterFirstTurnMb: 60 }, { limitMb: 64, loop: true }],
  ])("%o → %o", (cal, expected) => {
    expect(memoryLimitFor(cal)).toEqual(expected);
  });
});
