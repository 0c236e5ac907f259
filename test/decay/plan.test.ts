/** planDecay and the ISO-week arithmetic: pure, table-driven, no disk, no timers. */
import { describe, expect, it } from "vitest";
import { dayNumber, formatDate, formatIsoWeek, isoWeekMonday, isoWeekOf, parseDate, parseIsoWeek, weeksInIsoYear } from "../../src/workspace/decay-dates.ts";
import { checkDecayPolicy, DEFAULT_DECAY_POLICY, planDecay, type DecayFile, type DecayPolicy, type DecayStep } from "../../src/workspace/decay-plan.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { at } from "./helpers.ts";

const files = (...paths: string[]): DecayFile[] => paths.map((path) => ({ path, sizeBytes: 10 }));
const policy = DEFAULT_DECAY_POLICY;

describe("ISO 8601 weeks", () => {
  it.each([
    ["2026-12-31", "2026-W53"], // Thursday of 2026's 53rd week
    ["2027-01-01", "2026-W53"], // a Friday: still the week of 2026's last Thursday
    ["2027-01-03", "2026-W53"],
    ["2027-01-04", "2027-W01"],
    ["2024-12-30", "2025-W01"], // a Monday in 2024 that starts 2025's first week
    ["2005-01-01", "2004-W53"],
    ["2005-01-02", "2004-W53"],
    ["2007-12-31", "2008-W01"],
    ["2008-12-29", "2009-W01"],
    ["2009-12-31", "2009-W53"],
    ["2010-01-03", "2009-W53"],
    ["2026-11-02", "2026-W45"],
    ["2026-11-15", "2026-W46"],
  ])("%s is in %s", (date, week) => {
    expect(formatIsoWeek(isoWeekOf(parseDate(date)!))).toBe(week);
  });

  it.each([
    [2026, 53],
    [2027, 52],
    [2020, 53],
    [2015, 53],
    [2021, 52],
  ])("%i has %i ISO weeks", (year, n) => {
    expect(weeksInIsoYear(year)).toBe(n);
  });

  it("every day from 1990 to 2060 lies in the week whose Monday..Sunday contains it, and weeks turn on Mondays", () => {
    const bad: string[] = [];
    let prev = isoWeekOf(dayNumber(1989, 12, 31)!);
    for (let d = dayNumber(1990, 1, 1)!; d <= dayNumber(2060, 12, 31)!; d++) {
      const w = isoWeekOf(d);
      const monday = isoWeekMonday(w);
      const changed = w.year !== prev.year || w.week !== prev.week;
      const next = w.week === prev.week + 1 || (w.week === 1 && prev.week === weeksInIsoYear(prev.year));
      if (d - monday < 0 || d - monday > 6 || changed !== (d === monday) || (changed && !next)) bad.push(formatDate(d));
      prev = w;
    }
    expect(bad).toEqual([]);
  });

  it.each(["2026-W00", "2026-W54", "2027-W53", "2026-w01", "26-W01", "2026W01"])("rejects week %s", (w) => {
    expect(parseIsoWeek(w)).toBeUndefined();
  });

  it.each(["2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01"])("rejects date %s", (d) => {
    expect(parseDate(d)).toBeUndefined();
  });

  it("formats day numbers back", () => {
    expect(formatDate(parseDate("2028-02-29")!)).toBe("2028-02-29");
    expect(formatDate(isoWeekMonday({ year: 2026, week: 53 }))).toBe("2026-12-28");
  });
});

const rollup = (week: string, ...names: string[]): DecayStep => ({ kind: "rollup", week, sources: names.map((n) => `memory/${n}`), target: `memory/${week}.md` });
const trashNote = (today: string, name: string, week: string, suffix = ""): DecayStep => ({
  kind: "trash",
  from: `memory/${name}`,
  to: `.trash/${today}/memory/${name.slice(0, -3)}${suffix}.md`,
  rolledInto: `memory/${week}.md`,
});

describe("planDecay", () => {
  it.each<[string, DecayFile[], string, DecayStep[]]>([
    ["a note exactly 7 days old stays", files("memory/2026-11-13.md"), "2026-11-20", []],
    [
      "a note 8 days old rolls up into its week, then goes to the trash",
      files("memory/2026-11-12.md"),
      "2026-11-20",
      [rollup("2026-W46", "2026-11-12.md"), trashNote("2026-11-20", "2026-11-12.md", "2026-W46")],
    ],
    [
      "names with a slug belong to their day; date-only note first, then by name; mtimes are ignored",
      [
        { path: "memory/2026-11-10-notes.md", sizeBytes: 1, mtimeMs: at("2026-11-20") },
        { path: "memory/2026-11-10.md", sizeBytes: 1, mtimeMs: at("2026-11-20") },
        { path: "memory/2026-11-09-a-b.md", sizeBytes: 1 },
        { path: "memory/2026-11-19.md", sizeBytes: 1, mtimeMs: at("2020-01-01") },
      ],
      "2026-11-20",
      [
        rollup("2026-W46", "2026-11-09-a-b.md", "2026-11-10.md", "2026-11-10-notes.md"),
        trashNote("2026-11-20", "2026-11-09-a-b.md", "2026-W46"),
        trashNote("2026-11-20", "2026-11-10.md", "2026-W46"),
        trashNote("2026-11-20", "2026-11-10-notes.md", "2026-W46"),
      ],
    ],
    [
      "across the year boundary: 2026-12-31 and 2027-01-01..03 are 2026-W53",
      files("memory/2027-01-04.md", "memory/2027-01-01.md", "memory/2026-12-31.md", "memory/2027-01-03.md"),
      "2027-01-12",
      [
        rollup("2026-W53", "2026-12-31.md", "2027-01-01.md", "2027-01-03.md"),
        trashNote("2027-01-12", "2026-12-31.md", "2026-W53"),
        trashNote("2027-01-12", "2027-01-01.md", "2026-W53"),
        trashNote("2027-01-12", "2027-01-03.md", "2026-W53"),
        rollup("2027-W01", "2027-01-04.md"),
        trashNote("2027-01-12", "2027-01-04.md", "2027-W01"),
      ],
    ],
    [
      "names outside the patterns are ignored",
      files(
        "memory/notes.md",
        "memory/2026-13-01.md",
        "memory/2026-02-30.md",
        "memory/2026-01-01notes.md",
        "memory/2026-01-01.txt",
        "memory/sub/2026-01-01.md",
        "memory/imports/codex/2026-01-01.md",
        "memory/2026-W54.md",
        "memory/2027-W53.md",
        "memory/2020-W1.md",
        "memory/2020-01-01-\n.md",
        "2026-01-01.md",
        "MEMORY.md",
        "other/2020-01-01.md",
        "memory-archive/readme.md",
        "memory-archive/2020-W01.txt",
        "memory-archive/sub/2020-W01.md",
        ".trash/not-a-date/x.md",
        ".trash/2020-01-01",
        ".trashy/2020-01-01/x.md",
      ),
      "2027-12-31",
      [],
    ],
    ["a roll-up whose week ended exactly 30 days ago stays", files("memory/2026-W42.md"), "2026-11-17", []],
    ["... and moves to the archive a day later", files("memory/2026-W42.md"), "2026-11-18", [{ kind: "archive", from: "memory/2026-W42.md", to: "memory-archive/2026-W42.md" }]],
    [
      "an archive name already taken gets -2",
      files("memory/2026-W42.md", "memory-archive/2026-W42.md"),
      "2026-11-18",
      [{ kind: "archive", from: "memory/2026-W42.md", to: "memory-archive/2026-W42-2.md" }],
    ],
    ["an archive whose week ended exactly 365 days ago stays", files("memory-archive/2025-W42.md"), "2026-10-19", []],
    [
      "... and goes to the trash a day later (suffixed archives too)",
      files("memory-archive/2025-W42.md", "memory-archive/2025-W42-2.md"),
      "2026-10-20",
      [
        { kind: "trash", from: "memory-archive/2025-W42-2.md", to: ".trash/2026-10-20/memory-archive/2025-W42-2.md" },
        { kind: "trash", from: "memory-archive/2025-W42.md", to: ".trash/2026-10-20/memory-archive/2025-W42.md" },
      ],
    ],
    [
      "a trash folder exactly 30 days old stays; older ones are purged once each",
      files(".trash/2026-10-21/memory/a.md", ".trash/2026-10-20/memory/a.md", ".trash/2026-10-20/memory-archive/b.md", ".trash/2025-01-01/x/y/z.md"),
      "2026-11-20",
      [
        { kind: "purge", path: ".trash/2025-01-01" },
        { kind: "purge", path: ".trash/2026-10-20" },
      ],
    ],
    [
      "a long-idle workspace converges in one pass: roll up, archive, trash",
      files("memory/2025-01-06.md"),
      "2026-11-20",
      [
        rollup("2025-W02", "2025-01-06.md"),
        trashNote("2026-11-20", "2025-01-06.md", "2025-W02"),
        { kind: "archive", from: "memory/2025-W02.md", to: "memory-archive/2025-W02.md" },
        { kind: "trash", from: "memory-archive/2025-W02.md", to: ".trash/2026-11-20/memory-archive/2025-W02.md" },
      ],
    ],
    [
      "a trash name already used today gets ~2",
      files("memory/2026-11-12.md", ".trash/2026-11-20/memory/2026-11-12.md"),
      "2026-11-20",
      [rollup("2026-W46", "2026-11-12.md"), trashNote("2026-11-20", "2026-11-12.md", "2026-W46", "~2")],
    ],
  ])("%s", (_name, input, today, steps) => {
    const plan = planDecay(input, at(today), policy);
    expect(plan.today).toBe(today);
    expect(plan.steps).toEqual(steps);
    // Input order never matters.
    expect(planDecay([...input].reverse(), at(today), policy).steps).toEqual(steps);
  });

  it("matches the .md extension case-insensitively, like OpenClaw's daily-note pattern", () => {
    expect(planDecay(files("memory/2026-11-01.MD"), at("2026-11-20"), policy).steps[0]).toEqual(rollup("2026-W44", "2026-11-01.MD"));
  });

  it("counts days in the policy's time zone", () => {
    const late = Date.parse("2026-11-20T23:30:00Z"); // already 2026-11-21 in Auckland (UTC+13)
    expect(planDecay(files("memory/2026-11-13.md"), late, policy).steps).toEqual([]);
    const nz = planDecay(files("memory/2026-11-13.md"), late, { ...policy, timeZone: "Pacific/Auckland" });
    expect(nz.today).toBe("2026-11-21");
    expect(nz.steps[0]).toEqual(rollup("2026-W46", "2026-11-13.md"));
  });

  it("takes every threshold from the policy", () => {
    const p: DecayPolicy = { ...policy, rollupAfterDays: 0, archiveAfterDays: 0, deleteArchiveAfterDays: 0, trashRetentionDays: 0, archiveDir: "old/notes", trashDir: "bin" };
    const plan = planDecay(files("memory/2026-11-19.md", "memory/2026-11-20.md", "bin/2026-11-19/x.md", "bin/2026-11-20/x.md"), at("2026-11-20"), p);
    expect(plan.steps).toEqual([
      rollup("2026-W47", "2026-11-19.md"),
      { kind: "trash", from: "memory/2026-11-19.md", to: "bin/2026-11-20/memory/2026-11-19.md", rolledInto: "memory/2026-W47.md" },
      { kind: "purge", path: "bin/2026-11-19" },
    ]);
  });

  it("has the documented defaults", () => {
    expect(DEFAULT_DECAY_POLICY).toEqual({
      rollupAfterDays: 7,
      archiveAfterDays: 30,
      deleteArchiveAfterDays: 365,
      trashRetentionDays: 30,
      archiveDir: "memory-archive",
      trashDir: ".trash",
      timeZone: "UTC",
    });
    expect(checkDecayPolicy(DEFAULT_DECAY_POLICY)).toEqual([]);
  });

  it.each<[Partial<DecayPolicy>, RegExp]>([
    [{ archiveDir: "memory/archive" }, /archiveDir must be outside memory\//],
    [{ trashDir: "memory" }, /trashDir must be outside memory\//],
    [{ archiveDir: "../elsewhere" }, /archiveDir must be a plain relative folder/],
    [{ trashDir: "/tmp/trash" }, /trashDir must be a plain relative folder/],
    [{ archiveDir: "a//b" }, /archiveDir must be a plain relative folder/],
    [{ trashDir: "memory-archive/.trash" }, /must not contain each other/],
    [{ rollupAfterDays: -1 }, /rollupAfterDays must be a whole number/],
    [{ trashRetentionDays: 1.5 }, /trashRetentionDays must be a whole number/],
    [{ timeZone: "Mars/Olympus" }, /timeZone "Mars\/Olympus" is not an IANA time zone/],
  ])("rejects the policy %j", (change, message) => {
    expect(checkDecayPolicy({ ...policy, ...change }).join("; ")).toMatch(message);
    expect(() => planDecay([], 0, { ...policy, ...change })).toThrow(ConfigError);
  });
});
