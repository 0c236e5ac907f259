/**
 * GatewayLaunch with real files: a skills manifest that cannot be written never stops the
 * gateway from starting. A stored one (written by a daemon that verified less) is ignored at load;
 * one that fails on disk at prepare leaves the last good skills and prepare still succeeds.
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SkillsManifest } from "../../src/sync/contract.ts";
import { sha256Hex } from "../../src/sync/skills-manifest.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { launchIn } from "./launch-fixture.ts";

const f = (path: string, content = "# skill\n") => ({ path, content, sha256: sha256Hex(content) });
const manifest = (version: string, skills: SkillsManifest["skills"]): SkillsManifest => ({ accountId: "a", runtimeId: "r", version, skills });
const good = manifest("1", [{ name: "good", files: [f("SKILL.md")] }]);
/** "a" must be a file and the directory of "a/b" at once: fails on disk with ENOTDIR or EEXIST. */
const unwritable = manifest("2", [{ name: "bad", files: [f("SKILL.md"), f("a"), f("a/b")] }]);

afterEach(removeTempDirs);

describe("GatewayLaunch and skills that cannot be written", () => {
  it("a stored unwritable manifest is ignored at load; the gateway is prepared with the skills it had", async () => {
    const dataDir = tempDir("as-launch-");
    const first = launchIn(dataDir);
    await first.launch.store({ skills: good });
    await first.launch.prepare();
    expect(readdirSync(first.skillsDir)).toEqual(["good"]);
    // An older daemon stored a manifest that passed its weaker check.
    writeFileSync(first.files.skillsManifest, JSON.stringify(unwritable));
    const next = launchIn(dataDir);
    await next.launch.loadStored();
    expect(next.launch.skills).toBeUndefined();
    expect(next.sink.text()).toContain("ignoring stored skills: they cannot be written");
    const spec = await next.launch.prepare();
    expect(spec.command).toBe(process.execPath);
    expect(readdirSync(next.skillsDir)).toEqual(["good"]);
  });

  it("skills that fail on disk at prepare are logged, the last good ones stay, and prepare succeeds", async () => {
    const { launch, skillsDir, sink, files } = launchIn(tempDir("as-launch-"));
    await launch.store({ skills: good });
    await launch.prepare();
    await launch.store({ skills: unwritable });
    const spec = await launch.prepare();
    expect(spec.args[0]).toBe("/opt/openclaw/openclaw.mjs");
    expect(readdirSync(skillsDir)).toEqual(["good"]);
    expect(sink.text()).toContain("cannot write the skills; the gateway starts with the skills it had");
    expect(existsSync(files.gateway.configPath)).toBe(true);
    expect(readdirSync(files.gateway.workspaceDir).filter((n) => n.startsWith(".skills."))).toEqual([]);
  });
});
