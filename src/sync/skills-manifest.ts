/**
 * The control plane's skills manifest (contract.ts `skillsManifestSchema`), checked before anyone
 * acts on it: the secrets poller before it stores a manifest, the supervisor before it writes the
 * bundles into the gateway workspace. Pure.
 */
import { createHash } from "node:crypto";
import type { SkillsManifest } from "./contract.ts";

/** Lowercase hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Hex(content: string): string {
  return createHash("sha256").update(content, "utf8").digest("hex");
}

/**
 * Check every checksum, duplicate names and paths. Pure.
 * @returns one message per problem (empty when the manifest is good)
 */
export function verifySkillsManifest(m: SkillsManifest): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const skill of m.skills) {
    if (names.has(skill.name)) problems.push(`skill ${skill.name}: listed twice`);
    names.add(skill.name);
    const paths = new Set<string>();
    for (const f of skill.files) {
      if (paths.has(f.path)) problems.push(`skill ${skill.name}: file ${f.path} listed twice`);
      paths.add(f.path);
      const actual = sha256Hex(f.content);
      if (actual !== f.sha256) problems.push(`skill ${skill.name}: file ${f.path} has sha256 ${actual}, manifest says ${f.sha256}`);
    }
  }
  return problems;
}
