/** The case runner's pure part: the result record built from what a case measured. */
import { describe, expect, it } from "vitest";
import { combine, resultOf, type Outcome } from "../../bench/faults/runner.ts";

const real = { fault: "Gateway SIGKILL", realGateway: true };

describe("resultOf", () => {
  it("measures detection and serving again from the injection, in whole ms", () => {
    const o: Outcome = { injectAt: 1_000, detectedAt: 1_012.4, servingAt: 16_300, verdict: { lost: 0, duplicated: 0, problems: [] }, notes: ["exited", "ready"] };
    expect(resultOf(real, o)).toEqual({ fault: "Gateway SIGKILL", realGateway: true, detectedMs: 12, servingAgainMs: 15_300, lost: 0, duplicated: 0, notes: "exited; ready" });
  });

  it("gives null where nothing was detected or nothing can serve, and counts nothing without a verdict", () => {
    const r = resultOf({ fault: "x", realGateway: false }, { injectAt: 5, detectedAt: null, notes: ["NOT DETECTED"] });
    expect(r).toEqual({ fault: "x", realGateway: false, detectedMs: null, servingAgainMs: null, lost: 0, duplicated: 0, notes: "NOT DETECTED" });
    expect(resultOf(real, { injectAt: 5, detectedAt: 6, servingAt: null, notes: [] }).servingAgainMs).toBeNull();
  });

  it("puts the verdict's problems after the notes and before `after`, dropping empty phrases", () => {
    const o: Outcome = {
      injectAt: 0,
      detectedAt: 1,
      verdict: { lost: 1, duplicated: 2, problems: ["a: no row", "b: more than one row"] },
      notes: ["first", "", "second"],
      after: ["log: warn"],
    };
    const r = resultOf(real, o);
    expect({ lost: r.lost, duplicated: r.duplicated }).toEqual({ lost: 1, duplicated: 2 });
    expect(r.notes).toBe("first; second; a: no row; b: more than one row; log: warn");
  });
});

describe("combine", () => {
  it("adds the counts and keeps the problems in order", () => {
    expect(combine({ lost: 1, duplicated: 0, problems: ["a"] }, { lost: 2, duplicated: 1, problems: ["b"] })).toEqual({ lost: 3, duplicated: 1, problems: ["a", "b"] });
    expect(combine({ lost: 0, duplicated: 1, problems: ["c"] })).toEqual({ lost: 0, duplicated: 1, problems: ["c"] });
  });
});
