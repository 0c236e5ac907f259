/** The roll-up file format: pure merge and parse, byte-exact, idempotent. */
import { describe, expect, it } from "vitest";
import { DecayError } from "../../src/workspace/decay-errors.ts";
import { mergeRollup, rollupHeader, rollupNoteContent, rollupNoteNames, type RollupNote } from "../../src/workspace/decay-rollup.ts";

const header = rollupHeader("2026-W45", "2026-11-02", "2026-11-08");
const note = (name: string, content: string | Buffer): RollupNote => ({ name, content: Buffer.isBuffer(content) ? content : Buffer.from(content) });

const tricky: RollupNote[] = [
  note("2026-11-02.md", "# Monday\n- plain\n"),
  note("2026-11-03.md", "no final newline"),
  note("2026-11-03-crlf.md", "CRLF\r\nlines\r\n"),
  note("2026-11-04.md", "\uFEFFBOM, ünïcödé, 🎉, 中文\n"),
  note("2026-11-05.md", ""),
  note(
    "2026-11-06.md",
    '<!-- decay:end name="2026-11-06.md" -->\n<!-- decay:begin name="2026-11-07.md" bytes=3 -->\n## 2026-11-07.md\n\nfake\n<!-- decay:end name="2026-11-07.md" -->\n',
  ),
  note('2026-11-08-"quoted" \\ name.md', "odd name\n\n\n"),
];

describe("mergeRollup", () => {
  it("keeps every note byte-for-byte, under a heading with its file name, in order", () => {
    const { data, added } = mergeRollup(undefined, header, tricky);
    expect(added).toEqual(tricky.map((n) => n.name));
    expect(rollupNoteNames(data)).toEqual(tricky.map((n) => n.name));
    for (const n of tricky) expect(rollupNoteContent(data, n.name)?.equals(n.content), n.name).toBe(true);
    const text = data.toString("utf8");
    expect(text.startsWith("# Daily notes of 2026-W45 (2026-11-02 to 2026-11-08)\n")).toBe(true);
    expect(text).toContain("## 2026-11-02.md\n\n# Monday\n- plain\n\n<!-- decay:end");
    // Each note appears once, in the given order.
    let pos = 0;
    for (const n of tricky) {
      const at = data.indexOf(n.content, pos);
      expect(at, n.name).toBeGreaterThanOrEqual(pos);
      pos = at + n.content.length;
    }
  });

  it("is idempotent: merging the same notes again changes no byte", () => {
    const first = mergeRollup(undefined, header, tricky).data;
    const again = mergeRollup(first, header, tricky);
    expect(again.data.equals(first)).toBe(true);
    expect(again.added).toEqual([]);
    expect(again.unchanged).toEqual(tricky.map((n) => n.name));
  });

  it("inserts a new note in day order (date-only first) and keeps the others", () => {
    const base = mergeRollup(undefined, header, [note("2026-11-02.md", "a\n"), note("2026-11-05.md", "d\n")]).data;
    const merged = mergeRollup(base, header, [note("2026-11-08.md", "e\n"), note("2026-11-03-x.md", "c\n"), note("2026-11-03.md", "b\n"), note("2026-11-01.md", "0\n")]);
    expect(rollupNoteNames(merged.data)).toEqual(["2026-11-01.md", "2026-11-02.md", "2026-11-03.md", "2026-11-03-x.md", "2026-11-05.md", "2026-11-08.md"]);
    expect(merged.data.equals(mergeRollup(undefined, header, ["01:0", "02:a", "03:b", "03-x:c", "05:d", "08:e"].map((s) => note(`2026-11-${s.split(":")[0]}.md`, `${s.split(":")[1]}\n`))).data)).toBe(true);
  });

  it("replaces a note whose file changed, in place", () => {
    const base = mergeRollup(undefined, header, [note("2026-11-02.md", "a\n"), note("2026-11-03.md", "b\n")]).data;
    const merged = mergeRollup(base, header, [note("2026-11-02.md", "a, edited later\n")]);
    expect(merged.updated).toEqual(["2026-11-02.md"]);
    expect(rollupNoteNames(merged.data)).toEqual(["2026-11-02.md", "2026-11-03.md"]);
    expect(rollupNoteContent(merged.data, "2026-11-02.md")?.toString()).toBe("a, edited later\n");
  });

  it("keeps text outside the sections, such as lines the agent appended", () => {
    const base = Buffer.concat([mergeRollup(undefined, header, [note("2026-11-02.md", "a\n")]).data, Buffer.from("Summary: a good week.\n")]);
    const merged = mergeRollup(base, header, [note("2026-11-03.md", "b\n")]).data.toString("utf8");
    expect(merged).toContain("Summary: a good week.\n");
    expect(merged.startsWith(header.toString())).toBe(true);
    expect(rollupNoteNames(Buffer.from(merged))).toEqual(["2026-11-02.md", "2026-11-03.md"]);
  });

  it("adds sections to a file it did not write, on their own lines", () => {
    const merged = mergeRollup(Buffer.from("# my own week notes, no final newline"), header, [note("2026-11-02.md", "a\n")]).data;
    expect(merged.toString()).toMatch(/^# my own week notes, no final newline\n\n<!-- decay:begin name="2026-11-02.md" bytes=2 -->\n/);
    expect(rollupNoteContent(merged, "2026-11-02.md")?.toString()).toBe("a\n");
  });

  it.each([
    ["a section cut short", (s: string) => s.slice(0, s.length - 30)],
    ["a byte count that does not match", (s: string) => s.replace("bytes=2 ", "bytes=3 ")],
    ["a section edited inside", (s: string) => s.replace("a\n\n<!--", "ab\n\n<!--")],
    ["a mangled marker", (s: string) => s.replace('name="2026-11-02.md" bytes', 'name=2026-11-02.md bytes')],
  ])("refuses a roll-up with %s", (_what, damage) => {
    const good = mergeRollup(undefined, header, [note("2026-11-02.md", "a\n")]).data.toString();
    const bad = Buffer.from(damage(good));
    const err = (() => {
      try {
        mergeRollup(bad, header, [note("2026-11-03.md", "b\n")]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DecayError);
    expect((err as DecayError).code).toBe("ERR_DECAY_ROLLUP_CORRUPT");
  });
});
