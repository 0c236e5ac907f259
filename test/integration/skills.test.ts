/** Skill bundles materialized into a real workspace directory. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { materializeSkills, SkillsManifestError } from "../../src/supervisor/skills.ts";
import { sha256Hex, verifySkillsManifest } from "../../src/sync/skills-manifest.ts";
import type { SkillsManifest } from "../../src/sync/contract.ts";

function file(path: string, content: string) {
  return { path, content, sha256: sha256Hex(content) };
}

function manifest(skills: SkillsManifest["skills"], version = "1"): SkillsManifest {
  return { accountId: "acct", runtimeId: "rt", version, skills };
}

let ws: string;
beforeEach(() => {
  ws = mkdtempSync(join(tmpdir(), "as-skills-"));
});
afterEach(() => rmSync(ws, { recursive: true, force: true }));

describe("materializeSkills", () => {
  it("writes exactly the approved bundles and removes skills that are not in the manifest", async () => {
    mkdirSync(join(ws, "skills", "unapproved"), { recursive: true });
    writeFileSync(join(ws, "skills", "unapproved", "SKILL.md"), "rogue");
    const names = await materializeSkills(ws, manifest([
      { name: "research", files: [file("SKILL.md", "# Research\n"), file("scripts/run.sh", "echo hi\n")] },
      { name: "notes", files: [file("SKILL.md", "# Notes\n")] },
    ]));
    expect(names).toEqual(["research", "notes"]);
    expect(readdirSync(join(ws, "skills")).sort()).toEqual(["notes", "research"]);
    expect(readFileSync(join(ws, "skills", "research", "scripts", "run.sh"), "utf8")).toBe("echo hi\n");
    // 0660 less the umask: readable by the gateway's group under the boundary's 0007 (shared-tree.ts).
    expect(statSync(join(ws, "skills", "notes", "SKILL.md")).mode & 0o777).toBe(0o660 & ~process.umask());
    expect(readdirSync(ws).filter((n) => n.startsWith(".skills."))).toEqual([]);
  });

  it("rejects a manifest with a wrong checksum and keeps the current skills", async () => {
    await materializeSkills(ws, manifest([{ name: "a", files: [file("SKILL.md", "v1")] }]));
    const bad = manifest([{ name: "b", files: [{ path: "SKILL.md", content: "tampered", sha256: sha256Hex("original") }] }], "2");
    await expect(materializeSkills(ws, bad)).rejects.toThrow(SkillsManifestError);
    await expect(materializeSkills(ws, bad)).rejects.toThrow(/file SKILL.md has sha256 .* manifest says/);
    expect(readdirSync(join(ws, "skills"))).toEqual(["a"]);
    expect(readFileSync(join(ws, "skills", "a", "SKILL.md"), "utf8")).toBe("v1");
  });

  it("an empty manifest leaves an empty skills directory", async () => {
    await materializeSkills(ws, manifest([{ name: "a", files: [file("SKILL.md", "x")] }]));
    await materializeSkills(ws, manifest([], "2"));
    expect(readdirSync(join(ws, "skills"))).toEqual([]);
  });

  it("cleans up staging directories left by a crash", async () => {
    mkdirSync(join(ws, ".skills.staging-dead"), { recursive: true });
    mkdirSync(join(ws, ".skills.retired-dead"), { recursive: true });
    await materializeSkills(ws, manifest([]));
    expect(existsSync(join(ws, ".skills.staging-dead"))).toBe(false);
    expect(existsSync(join(ws, ".skills.retired-dead"))).toBe(false);
  });
});

describe("verifySkillsManifest", () => {
  it.each([
    ["duplicate skill", manifest([{ name: "a", files: [file("SKILL.md", "x")] }, { name: "a", files: [file("SKILL.md", "y")] }]), /listed twice/],
    ["duplicate file", manifest([{ name: "a", files: [file("SKILL.md", "x"), file("SKILL.md", "x")] }]), /file SKILL.md listed twice/],
    ["bad checksum", manifest([{ name: "a", files: [{ path: "SKILL.md", content: "x", sha256: "0".repeat(64) }] }]), /sha256/],
  ])("%s", (_n, m, pattern) => {
    expect(verifySkillsManifest(m).join("; ")).toMatch(pattern);
  });
  it("a good manifest has no problems", () => {
    expect(verifySkillsManifest(manifest([{ name: "a", files: [file("SKILL.md", "x")] }]))).toEqual([]);
  });
});
