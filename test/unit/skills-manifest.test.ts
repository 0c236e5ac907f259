/**
 * verifySkillsManifest refuses every manifest that could not be written to disk (one case per
 * rejection), and what it accepts really is written: each accepted edge case is materialized
 * into a real directory.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SkillsManifest } from "../../src/sync/contract.ts";
import {
  MAX_SEGMENT_BYTES,
  MAX_SKILL_FILE_BYTES,
  MAX_SKILL_PATH_BYTES,
  MAX_SKILLS_TOTAL_BYTES,
  sha256Hex,
  verifySkillsManifest,
} from "../../src/sync/skills-manifest.ts";
import { materializeSkills } from "../../src/supervisor/skills.ts";

const file = (path: string, content = "x") => ({ path, content, sha256: sha256Hex(content) });
const one = (...files: ReturnType<typeof file>[]): SkillsManifest => ({ accountId: "a", runtimeId: "r", version: "1", skills: [{ name: "s", files }] });
const big = (bytes: number) => "b".repeat(bytes);

describe("verifySkillsManifest refuses what cannot be written", () => {
  it.each([
    ["a file that is also a directory (a, a/b)", one(file("a"), file("a/b")), /file a is also the directory of file a\/b/],
    ["the same, deeper and listed first (x/y/z, x)", one(file("x/y/z"), file("x")), /file x is also the directory of file x\/y\/z/],
    ["a segment over 255 bytes", one(file(`d/${"n".repeat(MAX_SEGMENT_BYTES + 1)}`)), /segment of 256 bytes \(at most 255\)/],
    ["a segment over 255 bytes in multi-byte characters", one(file("é".repeat(128))), /segment of 256 bytes/],
    ["a path over the limit", one(file(Array.from({ length: 13 }, () => "p".repeat(250)).join("/"))), new RegExp(`path of \\d+ bytes \\(at most ${MAX_SKILL_PATH_BYTES}`)],
    ["a NUL byte", one(file("bad\0name.md")), /"bad\\u0000name.md" contains a NUL byte/],
    ["a '..' segment", one(file("../escape.md")), /has a '\.\.' segment/],
    ["a '.' segment", one(file("./here.md")), /has a '\.' segment/],
    ["an empty segment", one(file("a//b")), /has an empty segment/],
    ["an absolute path", one(file("/etc/passwd")), /is absolute/],
    ["a duplicate path", one(file("SKILL.md"), file("SKILL.md")), /file SKILL.md listed twice/],
    ["a file over the per-file limit", one(file("big.md", big(MAX_SKILL_FILE_BYTES + 1))), new RegExp(`has ${MAX_SKILL_FILE_BYTES + 1} bytes \\(at most ${MAX_SKILL_FILE_BYTES}\\)`)],
    ["files over the total limit", one(...Array.from({ length: 5 }, (_, i) => file(`f${i}`, big(MAX_SKILL_FILE_BYTES)))), /the files have 5242880 bytes in all \(at most 4194304\)/],
  ])("%s", (_name, m, pattern) => {
    expect(verifySkillsManifest(m).join("; ")).toMatch(pattern);
  });

  it("refuses a skill name that is not one writable segment", () => {
    const m: SkillsManifest = { accountId: "a", runtimeId: "r", version: "1", skills: [{ name: "..", files: [file("SKILL.md")] }] };
    expect(verifySkillsManifest(m).join("; ")).toMatch(/skill \.\.: its name has a '\.\.' segment/);
  });

  it("lists at most five problems and counts the rest", () => {
    const m = one(...Array.from({ length: 8 }, (_, i) => file(`/abs${i}`)));
    const problems = verifySkillsManifest(m);
    expect(problems).toHaveLength(6);
    expect(problems.at(-1)).toBe("... and 3 more");
  });
});

describe("what verification accepts is written", () => {
  let ws: string;
  beforeEach(() => (ws = mkdtempSync(join(tmpdir(), "as-skills-verify-"))));
  afterEach(() => rmSync(ws, { recursive: true, force: true }));

  it("a 255-byte segment, a path at the limit, a file at the limit, case and Unicode-normalization variants", async () => {
    const deep = Array.from({ length: 12 }, () => "p".repeat(250)).join("/");
    const last = "q".repeat(MAX_SKILL_PATH_BYTES - "s/".length - deep.length - 1);
    const m = one(
      file("n".repeat(MAX_SEGMENT_BYTES)),
      file(`${deep}/${last}`),
      file("big.md", big(MAX_SKILL_FILE_BYTES)),
      file("SKILL.md"),
      file("skill.md"),
      file("caf\u00e9.md"),
      file("cafe\u0301.md"),
      file("a/b"),
      file("a/c"),
    );
    expect(Buffer.byteLength(`s/${deep}/${last}`)).toBe(MAX_SKILL_PATH_BYTES);
    expect(verifySkillsManifest(m)).toEqual([]);
    await materializeSkills(ws, m);
    expect(readdirSync(join(ws, "skills", "s")).length).toBe(8);
  });

  it("a total exactly at the limit", () => {
    const m = one(...Array.from({ length: 4 }, (_, i) => file(`f${i}`, big(MAX_SKILL_FILE_BYTES))));
    expect(MAX_SKILLS_TOTAL_BYTES).toBe(4 * MAX_SKILL_FILE_BYTES);
    expect(verifySkillsManifest(m)).toEqual([]);
  });
});
