/**
 * Approved skill bundles from the control plane, materialized into the gateway workspace's
 * `skills/` directory (OpenClaw loads `<workspace>/skills/<name>/SKILL.md`, docs/tools/skills.md).
 *
 * Only what the manifest lists exists afterwards: the directory is rebuilt beside the old one and
 * swapped in with renames, so the gateway never sees a half-written or unapproved skill. A crash
 * mid-swap leaves the old set, the new set, or (between the two renames) none; the next gateway
 * start materializes the stored manifest again and removes leftovers.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { skillsManifestSchema, type SkillsManifest } from "../sync/contract.ts";
import { verifySkillsManifest } from "../sync/skills-manifest.ts";
import { SupervisorError } from "../core/errors.ts";
import { fsyncDir, readJsonState } from "../core/fs-atomic.ts";

/** A manifest that fails verification; nothing is written. */
export class SkillsManifestError extends SupervisorError {
  constructor(message: string) {
    super("ERR_SKILLS_MANIFEST", message);
  }
}

/**
 * Replace `<workspaceDir>/skills` with exactly the manifest's bundles.
 * @returns the installed skill names
 * @throws SkillsManifestError when any checksum or path is wrong (the current skills stay);
 *   fs errors (ENOSPC) after cleaning up the partial directory
 */
export async function materializeSkills(workspaceDir: string, m: SkillsManifest): Promise<string[]> {
  const problems = verifySkillsManifest(m);
  if (problems.length > 0) throw new SkillsManifestError(`skills manifest ${m.version} rejected: ${problems.join("; ")}`);
  const target = join(workspaceDir, "skills");
  const staging = join(workspaceDir, `.skills.staging-${randomBytes(4).toString("hex")}`);
  const retired = join(workspaceDir, `.skills.retired-${randomBytes(4).toString("hex")}`);
  await mkdir(workspaceDir, { recursive: true, mode: 0o770 });
  try {
    await mkdir(staging, { mode: 0o770 });
    for (const skill of m.skills) {
      const root = join(staging, skill.name);
      for (const f of skill.files) {
        const file = resolve(root, f.path);
        if (!file.startsWith(root + sep)) throw new SkillsManifestError(`skill ${skill.name}: path ${f.path} escapes its directory`);
        await mkdir(dirname(file), { recursive: true, mode: 0o770 });
        await writeFile(file, f.content, { mode: 0o660 });
      }
    }
    await rename(target, retired).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
    await rename(staging, target);
    await fsyncDir(workspaceDir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(retired, { recursive: true, force: true });
  }
  await removeLeftovers(workspaceDir);
  return m.skills.map((s) => s.name);
}

/** Staging or retired directories left by a crash mid-swap. */
async function removeLeftovers(workspaceDir: string): Promise<void> {
  for (const name of await readdir(workspaceDir)) {
    if (name.startsWith(".skills.staging-") || name.startsWith(".skills.retired-")) {
      await rm(join(workspaceDir, name), { recursive: true, force: true });
    }
  }
}

/**
 * Read the last applied manifest (stored by GatewayLaunch.store, launch.ts, with mode 0600).
 * @returns undefined when none was stored yet
 * @throws StateFileError when the file is not a valid manifest
 */
export async function loadStoredSkills(path: string): Promise<SkillsManifest | undefined> {
  return readJsonState(path, skillsManifestSchema);
}
