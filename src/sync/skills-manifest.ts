/**
 * The control plane's skills manifest (contract.ts `skillsManifestSchema`), checked before anyone
 * acts on it: the secrets poller before it stores a manifest, the supervisor before it writes the
 * bundles into the gateway workspace (supervisor/skills.ts). Pure.
 *
 * Verification refuses everything that could not be written to disk, so a bad manifest is
 * reported once, up front, instead of failing at every gateway start. The limits are those of
 * Linux and ext4 (linux/limits.h: NAME_MAX 255 bytes per name, PATH_MAX 4096 bytes per path with
 * its NUL) plus size limits of our own.
 *
 * Names that differ only in case or in Unicode normalization (`SKILL.md` and `skill.md`, NFC and
 * NFD `é`) are NOT refused: ext4 names are byte strings, compared case-sensitively and never
 * normalized (only a directory with the `casefold` attribute, `chattr +F`, folds case, and the
 * data directory has none), so such files are written as two files without error.
 */
import { createHash } from "node:crypto";
import type { SkillsManifest } from "./contract.ts";

/** Longest name of one path segment (bytes of UTF-8): Linux NAME_MAX, also ext4's limit. */
export const MAX_SEGMENT_BYTES = 255;

/**
 * Longest `<skill>/<path>` (bytes of UTF-8). Linux refuses a path of PATH_MAX (4096) bytes or
 * more, NUL included, and the materializer writes `<workspace>/.skills.staging-<8 hex>/<skill>/<path>`:
 * 1024 bytes are kept for that prefix, so a data directory path of up to ~970 bytes works.
 */
export const MAX_SKILL_PATH_BYTES = 4095 - 1024;

/**
 * Largest file (bytes of UTF-8 content): 1 MiB. Skills are instructions (SKILL.md, read into the
 * model's context) and small scripts; a larger file is a mistake, and every file is written again
 * at each gateway start.
 */
export const MAX_SKILL_FILE_BYTES = 1024 * 1024;

/**
 * Largest manifest (bytes of UTF-8 content of all files): 4 MiB, the most one control-plane
 * response may carry (contract.ts MAX_RESPONSE_BYTES); it is held in memory and rewritten into
 * the workspace before every gateway start.
 */
export const MAX_SKILLS_TOTAL_BYTES = 4 * 1024 * 1024;

/** At most this many problems are listed (then "... and N more"), so a report stays short. */
const MAX_LISTED = 5;

/** Lowercase hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Hex(content: string): string {
  return createHash("sha256").update(content, "utf8").digest("hex");
}

/** A path or name as shown in a problem: at most ~60 characters, JSON-quoted unless plain ASCII (a NUL shows as \u0000). */
function show(p: string): string {
  const short = p.length > 60 ? `${p.slice(0, 40)}…${p.slice(-16)}` : p;
  return /^[\x21-\x7e]+$/.test(short) ? short : JSON.stringify(short);
}

/**
 * Why one path (or skill name) cannot be written, or undefined. Pure.
 * @param p a path relative to its skill directory, segments separated by "/"
 */
export function pathProblem(p: string): string | undefined {
  if (p.includes("\0")) return "contains a NUL byte";
  if (p.startsWith("/")) return "is absolute";
  for (const seg of p.split("/")) {
    if (seg === "" || seg === "." || seg === "..") return seg === "" ? "has an empty segment" : `has a '${seg}' segment`;
    const bytes = Buffer.byteLength(seg, "utf8");
    if (bytes > MAX_SEGMENT_BYTES) return `has a segment of ${bytes} bytes (at most ${MAX_SEGMENT_BYTES})`;
  }
  return undefined;
}

/** Problems of one skill's files: paths, duplicates, a file that is another's directory, checksums, sizes. */
function skillProblems(skill: SkillsManifest["skills"][number]): { problems: string[]; bytes: number } {
  const problems: string[] = [];
  const at = `skill ${show(skill.name)}`;
  const nameProblem = pathProblem(skill.name);
  if (nameProblem !== undefined || skill.name.includes("/")) problems.push(`${at}: its name ${nameProblem ?? "is not one path segment"}`);
  const paths = new Set(skill.files.map((f) => f.path));
  const seen = new Set<string>();
  let bytes = 0;
  for (const f of skill.files) {
    const file = `${at}: file ${show(f.path)}`;
    if (seen.has(f.path)) problems.push(`${file} listed twice`);
    seen.add(f.path);
    const bad = pathProblem(f.path);
    if (bad !== undefined) problems.push(`${file} ${bad}`);
    const full = Buffer.byteLength(`${skill.name}/${f.path}`, "utf8");
    if (full > MAX_SKILL_PATH_BYTES) problems.push(`${file}: path of ${full} bytes (at most ${MAX_SKILL_PATH_BYTES} with the skill name)`);
    // "a" and "a/b": "a" would have to be a file and a directory at once.
    const segs = f.path.split("/");
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join("/");
      if (paths.has(dir)) problems.push(`${at}: file ${show(dir)} is also the directory of file ${show(f.path)}`);
    }
    const size = Buffer.byteLength(f.content, "utf8");
    bytes += size;
    if (size > MAX_SKILL_FILE_BYTES) problems.push(`${file} has ${size} bytes (at most ${MAX_SKILL_FILE_BYTES})`);
    const actual = sha256Hex(f.content);
    if (actual !== f.sha256) problems.push(`${file} has sha256 ${actual}, manifest says ${f.sha256}`);
  }
  return { problems, bytes };
}

/**
 * Check everything that must hold for the manifest to be written to disk: checksums, duplicate
 * skill names and file paths, NUL bytes, absolute paths, empty, `.` and `..` segments, segments
 * over {@link MAX_SEGMENT_BYTES}, paths over {@link MAX_SKILL_PATH_BYTES}, a file path that is the
 * directory of another, files over {@link MAX_SKILL_FILE_BYTES} and a total over
 * {@link MAX_SKILLS_TOTAL_BYTES}. Pure.
 * @returns one message per problem, at most {@link MAX_LISTED} and a count of the rest (empty when the manifest is good)
 */
export function verifySkillsManifest(m: SkillsManifest): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  let total = 0;
  for (const skill of m.skills) {
    if (names.has(skill.name)) problems.push(`skill ${show(skill.name)}: listed twice`);
    names.add(skill.name);
    const r = skillProblems(skill);
    problems.push(...r.problems);
    total += r.bytes;
  }
  if (total > MAX_SKILLS_TOTAL_BYTES) problems.push(`the files have ${total} bytes in all (at most ${MAX_SKILLS_TOTAL_BYTES})`);
  return problems.length > MAX_LISTED ? [...problems.slice(0, MAX_LISTED), `... and ${problems.length - MAX_LISTED} more`] : problems;
}
