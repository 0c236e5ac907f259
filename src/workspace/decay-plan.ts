/**
 * Which memory files decay, decided purely from file names and `nowMs` (changesets'
 * assemble-release-plan / apply-release-plan split; the apply half is decay-apply.ts).
 *
 * OpenClaw keeps daily notes as `memory/YYYY-MM-DD.md` or `memory/YYYY-MM-DD-<slug>.md`
 * (docs/concepts/memory.md; same pattern as its own `DAILY_MEMORY_FILE_NAME_RE`) and indexes
 * `MEMORY.md`, `USER.md` and everything under `memory/` recursively for `memory_search`
 * (docs/concepts/memory-builtin.md, "How indexing works"). So roll-ups stay in `memory/`
 * (still searchable) while the archive and the trash live beside it, outside the search path.
 * Dates come from names, never mtimes; paths are workspace-relative with `/` separators.
 */
import { ConfigError } from "../core/errors.ts";
import { formatDate, formatIsoWeek, isoWeekMonday, isoWeekOf, parseDate, parseIsoWeek, todayIn, type IsoWeek } from "./decay-dates.ts";

/** Decay settings. Ages are whole days, counted in `timeZone`; "older than N" means age > N. */
export type DecayPolicy = {
  /** Daily notes older than this roll up into their ISO week's `memory/YYYY-Www.md`. */
  rollupAfterDays: number;
  /** Weekly roll-ups whose week ended more than this many days ago move to `archiveDir`. */
  archiveAfterDays: number;
  /** Archived roll-ups whose week ended more than this many days ago go to the trash. */
  deleteArchiveAfterDays: number;
  /** `trashDir/<YYYY-MM-DD>` folders older than this are deleted for good. */
  trashRetentionDays: number;
  /** Workspace-relative archive folder; must be outside `memory/` (OpenClaw indexes all of it). */
  archiveDir: string;
  /** Workspace-relative trash folder; must be outside `memory/` and `archiveDir`. */
  trashDir: string;
  /** IANA time zone the note names are dated in (OpenClaw: `agents.defaults.userTimezone`, else the host's). */
  timeZone: string;
};

/** Defaults: 7 days → weekly roll-up, 30 days → archive, 365 days → trash, trash kept 30 days. */
export const DEFAULT_DECAY_POLICY: DecayPolicy = {
  rollupAfterDays: 7,
  archiveAfterDays: 30,
  deleteArchiveAfterDays: 365,
  trashRetentionDays: 30,
  archiveDir: "memory-archive",
  trashDir: ".trash",
  timeZone: "UTC",
};

/** One regular file of the workspace (never a symlink or directory). */
export type DecayFile = { path: string; mtimeMs?: number; sizeBytes: number };

/** Merge `sources` (daily notes of ISO week `week`) into the roll-up `target`. */
export type RollupStep = { kind: "rollup"; week: string; sources: string[]; target: string };
/** Move a roll-up out of the search path. */
export type ArchiveStep = { kind: "archive"; from: string; to: string };
/** Move a file into the trash; with `rolledInto`, only once that roll-up holds its exact bytes. */
export type TrashStep = { kind: "trash"; from: string; to: string; rolledInto?: string };
/** Delete an expired `trashDir/<YYYY-MM-DD>` folder. */
export type PurgeStep = { kind: "purge"; path: string };
export type DecayStep = RollupStep | ArchiveStep | TrashStep | PurgeStep;

/** Ordered steps; applying them in order, to a fixed point, leaves nothing due. */
export type DecayPlan = { nowMs: number; today: string; timeZone: string; steps: DecayStep[] };

/** Problems with a policy (empty when valid). */
export function checkDecayPolicy(p: DecayPolicy): string[] {
  const problems: string[] = [];
  for (const key of ["rollupAfterDays", "archiveAfterDays", "deleteArchiveAfterDays", "trashRetentionDays"] as const) {
    if (!Number.isInteger(p[key]) || p[key] < 0) problems.push(`${key} must be a whole number of days >= 0`);
  }
  const dirs = { archiveDir: p.archiveDir, trashDir: p.trashDir };
  for (const [key, dir] of Object.entries(dirs)) {
    const segs = dir.split("/");
    if (dir === "" || dir.startsWith("/") || segs.some((s) => s === "" || s === "." || s === ".." || s.includes("\\"))) {
      problems.push(`${key} must be a plain relative folder inside the workspace`);
    } else if (segs[0] === "memory") problems.push(`${key} must be outside memory/, which OpenClaw indexes for memory_search`);
  }
  const inside = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  if (inside(p.archiveDir, p.trashDir) || inside(p.trashDir, p.archiveDir)) problems.push("archiveDir and trashDir must not contain each other");
  try {
    todayIn(0, p.timeZone);
  } catch {
    problems.push(`timeZone ${JSON.stringify(p.timeZone)} is not an IANA time zone`);
  }
  return problems;
}

/** @throws ConfigError naming every problem of an invalid policy */
export function assertDecayPolicy(p: DecayPolicy): void {
  const problems = checkDecayPolicy(p);
  if (problems.length > 0) throw new ConfigError(`invalid decay policy: ${problems.join("; ")}`);
}

/** OpenClaw's daily-note name, anchored to `memory/` (top level only). */
const DAILY_RE = /^memory\/((\d{4}-\d{2}-\d{2})(?:-[^/]+)?\.md)$/i;
const ROLLUP_RE = /^memory\/(\d{4}-W\d{2})\.md$/;
const ARCHIVE_NAME_RE = /^(\d{4}-W\d{2})(?:-\d+)?\.md$/;
const TRASH_NAME_RE = /^(\d{4}-\d{2}-\d{2})\/./;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A daily note's day and file name, or undefined when `path` is not one. */
export function parseDailyNote(path: string): { day: number; name: string } | undefined {
  const m = DAILY_RE.exec(path);
  if (!m || CONTROL.test(m[1]!)) return undefined;
  const day = parseDate(m[2]!);
  return day === undefined ? undefined : { day, name: m[1]! };
}

/** Order of notes inside a roll-up: by day, the date-only note first, then by name. */
export function noteSortKey(name: string): string {
  const date = name.slice(0, 10);
  return `${date}\u0000${name.length === 13 ? "0" : "1"}${name}`;
}

/** Last day (Sunday) of an ISO week. */
const weekEnd = (w: IsoWeek) => isoWeekMonday(w) + 6;

/**
 * Plan one decay pass over a listing of the workspace. Pure: no disk, no clock.
 * Later phases see the effect of earlier ones (a long-idle workspace converges in one pass):
 * 1. due daily notes → one rollup per week, each followed by a trash step per source;
 * 2. roll-ups whose week ended > archiveAfterDays ago → archive (`-2`, `-3`... if the name is taken);
 * 3. archives whose week ended > deleteArchiveAfterDays ago → trash;
 * 4. trash folders older than trashRetentionDays → purge.
 * Files matching none of the patterns, and names with control characters, are never in a step.
 * @param nowMs epoch ms; "today" is its date in `policy.timeZone`
 * @throws ConfigError for an invalid policy
 */
export function planDecay(files: readonly DecayFile[], nowMs: number, policy: DecayPolicy): DecayPlan {
  assertDecayPolicy(policy);
  const today = todayIn(nowMs, policy.timeZone);
  const todayText = formatDate(today);
  const taken = new Set(files.map((f) => f.path));
  const steps: DecayStep[] = [];
  // Only .md files are ever trashed; a name already taken today gets `~2`, `~3`... before `.md`.
  const trashTo = (from: string): string => freeName(taken, `${policy.trashDir}/${todayText}/${from.slice(0, -3)}`, from.slice(-3), "~");

  // 1. Daily notes → weekly roll-ups.
  const byWeek = new Map<string, string[]>();
  for (const f of files) {
    const note = parseDailyNote(f.path);
    if (!note || today - note.day <= policy.rollupAfterDays) continue;
    const week = formatIsoWeek(isoWeekOf(note.day));
    byWeek.set(week, [...(byWeek.get(week) ?? []), note.name]);
  }
  const rollups = new Map<string, IsoWeek>();
  for (const f of files) {
    const m = ROLLUP_RE.exec(f.path);
    const w = m && parseIsoWeek(m[1]!);
    if (w) rollups.set(f.path, w);
  }
  for (const week of [...byWeek.keys()].sort()) {
    const names = byWeek.get(week)!.sort((a, b) => (noteSortKey(a) < noteSortKey(b) ? -1 : 1));
    const target = `memory/${week}.md`;
    steps.push({ kind: "rollup", week, sources: names.map((n) => `memory/${n}`), target });
    taken.add(target);
    rollups.set(target, parseIsoWeek(week)!);
    for (const n of names) steps.push({ kind: "trash", from: `memory/${n}`, to: trashTo(`memory/${n}`), rolledInto: target });
  }

  // 2. Roll-ups → archive.
  const archives = new Map<string, IsoWeek>();
  const archivePrefix = `${policy.archiveDir}/`;
  for (const f of files) {
    if (!f.path.startsWith(archivePrefix)) continue;
    const m = ARCHIVE_NAME_RE.exec(f.path.slice(archivePrefix.length));
    const w = m && parseIsoWeek(m[1]!);
    if (w) archives.set(f.path, w);
  }
  for (const [from, w] of [...rollups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (today - weekEnd(w) <= policy.archiveAfterDays) continue;
    const to = freeName(taken, `${archivePrefix}${formatIsoWeek(w)}`, ".md", "-");
    steps.push({ kind: "archive", from, to });
    archives.set(to, w);
  }

  // 3. Expired archives → trash.
  for (const [from, w] of [...archives].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (today - weekEnd(w) > policy.deleteArchiveAfterDays) steps.push({ kind: "trash", from, to: trashTo(from) });
  }

  // 4. Expired trash folders → purge.
  const trashDays = new Set<string>();
  for (const f of files) {
    if (!f.path.startsWith(`${policy.trashDir}/`)) continue;
    const date = TRASH_NAME_RE.exec(f.path.slice(policy.trashDir.length + 1))?.[1];
    const day = date === undefined ? undefined : parseDate(date);
    if (day !== undefined && today - day > policy.trashRetentionDays) trashDays.add(date!);
  }
  for (const d of [...trashDays].sort()) steps.push({ kind: "purge", path: `${policy.trashDir}/${d}` });

  return { nowMs, today: todayText, timeZone: policy.timeZone, steps };
}

/** `stem + ext`, else `stem + sep + 2 + ext`, `... 3 ...`: the first not in `taken` (which it joins). */
function freeName(taken: Set<string>, stem: string, ext: string, sep: string): string {
  let name = `${stem}${ext}`;
  for (let n = 2; taken.has(name); n++) name = `${stem}${sep}${n}${ext}`;
  taken.add(name);
  return name;
}
