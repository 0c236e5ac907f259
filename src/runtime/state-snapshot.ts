/**
 * Snapshots of the gateway's state directory for version changes (issue 14). A snapshot is taken
 * only while the gateway is stopped, so every SQLite database in it is copied whole with its
 * `-wal` and `-shm` files and no writer between them: the copy opens exactly as the original
 * would (SQLite replays the WAL). `openclaw.json` lives in the state directory
 * (core/data-dir.ts) and is copied with it.
 *
 * ```
 * <snapshotsDir>/<openclawVersion>-<takenAtMs>/
 *   meta.json      SnapshotMeta: the version that wrote the state, when, from where
 *   state/         the state directory, files, modes, times and (as root) owners as they were
 * <snapshotsDir>/.partial-<hex>/   a snapshot being written (renamed into place once complete),
 *                                  or one being removed (renamed here first, then deleted)
 * ```
 * Completeness is marked last: `meta.json` is written after the copy, inside the partial
 * directory, and one rename publishes both. A snapshot without meta.json or `state/` is
 * incomplete: never listed, removed at daemon start (sweepIncompleteSnapshots).
 * The state's own `tmp/` (scratch, swept before every start) is left out.
 */
import { randomBytes } from "node:crypto";
import { cp, lstat, lchown, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { z } from "zod";
import { fsyncDir, readJsonState, writeFileAtomic } from "../core/fs-atomic.ts";

/** Schema of a snapshot's `meta.json`. `takenAt` is epoch ms; `stateDir` the absolute source. */
export const snapshotMetaSchema = z.object({ openclawVersion: z.string().min(1), takenAt: z.number(), stateDir: z.string() });

/** A snapshot's `meta.json`. */
export type SnapshotMeta = z.infer<typeof snapshotMetaSchema>;

/** A complete snapshot on disk: its directory and its meta. */
export type Snapshot = SnapshotMeta & { dir: string };

/** Directory names under the state directory that are not copied (scratch). */
const SKIPPED = new Set(["tmp"]);

const PARTIAL = /^\.partial-[0-9a-f]+$/;

/** Options of {@link takeSnapshot}. */
export type TakeSnapshotOptions = {
  /** The gateway's state directory (GatewayLayout.stateDir). The gateway must be stopped. */
  stateDir: string;
  /** Where snapshots are kept (UpgradeLayout.snapshotsDir); created 0700 if missing. */
  snapshotsDir: string;
  /** The OpenClaw version that wrote the state (the one running until now). */
  openclawVersion: string;
  /** Wall clock, ms since the epoch. */
  now: () => number;
};

/**
 * Copy the state directory into a new snapshot, atomically: it appears complete or not at all.
 * @returns the snapshot
 * @throws fs errors (ENOENT when the state directory does not exist, ENOSPC); nothing partial
 *   is left behind
 */
export async function takeSnapshot(o: TakeSnapshotOptions): Promise<Snapshot> {
  await mkdir(o.snapshotsDir, { recursive: true, mode: 0o700 });
  const partial = join(o.snapshotsDir, `.partial-${randomBytes(6).toString("hex")}`);
  const takenAt = o.now();
  const meta: SnapshotMeta = { openclawVersion: o.openclawVersion, takenAt, stateDir: o.stateDir };
  const dir = join(o.snapshotsDir, `${o.openclawVersion}-${takenAt}`);
  try {
    await mkdir(partial, { mode: 0o700 });
    await copyTree(o.stateDir, join(partial, "state"));
    await writeFileAtomic(join(partial, "meta.json"), `${JSON.stringify(meta)}\n`);
    await rm(dir, { recursive: true, force: true }); // a same-millisecond leftover of a killed run
    await rename(partial, dir);
    await fsyncDir(o.snapshotsDir);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
  return { ...meta, dir };
}

/**
 * Replace the state directory with the snapshot's copy. The gateway must be stopped. Safe to run
 * again after a crash at any point: the copy is made beside the state directory first, then two
 * renames swap it in; a run that finds the state directory gone (killed between the renames)
 * just puts the copy in place.
 * @throws fs errors; StateFileError when the snapshot's meta.json is damaged
 */
export async function restoreSnapshot(snapshotDir: string, stateDir: string): Promise<SnapshotMeta> {
  const meta = await readJsonState(join(snapshotDir, "meta.json"), snapshotMetaSchema);
  if (!meta) throw Object.assign(new Error(`${snapshotDir} is not a complete snapshot (no meta.json)`), { code: "ENOENT" });
  await sweepRestoreLeftovers(stateDir);
  const hex = randomBytes(6).toString("hex");
  const incoming = `${stateDir}.restore-${hex}`;
  const outgoing = `${stateDir}.old-${hex}`;
  try {
    await copyTree(join(snapshotDir, "state"), incoming);
  } catch (err) {
    await rm(incoming, { recursive: true, force: true });
    throw err;
  }
  await rename(stateDir, outgoing).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  await rename(incoming, stateDir);
  await fsyncDir(dirname(stateDir));
  await rm(outgoing, { recursive: true, force: true });
  return meta;
}

/** Remove `<stateDir>.restore-*` / `.old-*` left by a restore that was killed. */
async function sweepRestoreLeftovers(stateDir: string): Promise<void> {
  for (const dir of await restoreLeftovers(stateDir)) await rm(dir, { recursive: true, force: true });
}

/**
 * The `<stateDir>.restore-*` / `<stateDir>.old-*` directories a killed {@link restoreSnapshot}
 * left beside the state directory (absolute paths, sorted); [] when none or the parent is missing.
 */
export async function restoreLeftovers(stateDir: string): Promise<string[]> {
  const name = basename(stateDir);
  const parent = dirname(stateDir);
  const names = await readdir(parent).catch(() => [] as string[]);
  return names.filter((e) => e.startsWith(`${name}.restore-`) || e.startsWith(`${name}.old-`)).sort().map((e) => join(parent, e));
}

/**
 * Whether the state directory is provably half restored: it is gone while a restore's copy or the
 * state it moved aside lies beside it (a {@link restoreSnapshot} killed between its two renames).
 * Which of the two the gateway should run on only the journal knows.
 * @returns the leftovers when half restored, else undefined
 */
export async function halfRestored(stateDir: string): Promise<string[] | undefined> {
  const leftovers = await restoreLeftovers(stateDir);
  if (leftovers.length === 0) return undefined;
  const present = await lstat(stateDir).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return false;
    throw err;
  });
  return present ? undefined : leftovers;
}

/**
 * The snapshot in `dir` if it is complete, else undefined. Complete: not a `.partial-*` name, a
 * valid `meta.json` (written last, inside the partial directory, before the rename that publishes
 * it) and a `state/` directory beside it. A snapshot whose removal was cut short before
 * {@link removeSnapshot} renamed removals first can keep its meta.json with `state/` gone.
 */
async function completeSnapshot(dir: string): Promise<Snapshot | undefined> {
  if (PARTIAL.test(basename(dir))) return undefined;
  const meta = await readJsonState(join(dir, "meta.json"), snapshotMetaSchema).catch(() => undefined);
  if (!meta) return undefined;
  const state = await lstat(join(dir, "state")).catch(() => undefined);
  return state?.isDirectory() ? { ...meta, dir } : undefined;
}

/** Entry names under `snapshotsDir`; [] when it does not exist. @throws other fs errors */
async function snapshotEntries(snapshotsDir: string): Promise<string[]> {
  return readdir(snapshotsDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
}

/**
 * The complete snapshots, newest first; partial, incomplete and unreadable entries are skipped.
 * @throws fs errors other than a missing directory
 */
export async function listSnapshots(snapshotsDir: string): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  for (const n of await snapshotEntries(snapshotsDir)) {
    const snap = await completeSnapshot(join(snapshotsDir, n));
    if (snap) out.push(snap);
  }
  return out.sort((a, b) => b.takenAt - a.takenAt);
}

/**
 * Remove one snapshot so that no kill can leave it looking complete: it is first renamed to a
 * `.partial-<hex>` name (atomic; from then on it is not listed), then deleted. Gone already: no-op.
 * @throws fs errors other than ENOENT
 */
export async function removeSnapshot(dir: string): Promise<void> {
  const doomed = join(dirname(dir), `.partial-${randomBytes(6).toString("hex")}`);
  const renamed = await rename(dir, doomed).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return false;
    throw err;
  });
  if (renamed) await rm(doomed, { recursive: true, force: true });
}

/**
 * Remove every entry under `snapshotsDir` that is not a complete snapshot (partial copies of a
 * killed takeSnapshot, removals cut short, directories without meta.json). Run at daemon start,
 * when no snapshot is being taken.
 * @returns the paths removed
 * @throws fs errors other than a missing directory
 */
export async function sweepIncompleteSnapshots(snapshotsDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const n of await snapshotEntries(snapshotsDir)) {
    const dir = join(snapshotsDir, n);
    if (await completeSnapshot(dir)) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/**
 * Keep only `keep` (a snapshot directory) and remove every other snapshot, partial or not
 * ({@link removeSnapshot}: unlisted before anything is deleted).
 * @returns the directories removed
 */
export async function pruneSnapshots(snapshotsDir: string, keep: string | undefined): Promise<string[]> {
  const removed: string[] = [];
  for (const n of await readdir(snapshotsDir).catch(() => [] as string[])) {
    const dir = join(snapshotsDir, n);
    if (dir === keep) continue;
    await (PARTIAL.test(n) ? rm(dir, { recursive: true, force: true }) : removeSnapshot(dir));
    removed.push(dir);
  }
  return removed;
}

/**
 * Copy a directory tree whole (`to` must not exist): contents, modes, times, symlinks as they
 * are, and as root the owners (the gateway may run as its own user, docs/agent-boundary.md);
 * every file is fsynced so the copy survives a power cut.
 * @throws fs errors
 */
export async function copyTree(from: string, to: string): Promise<void> {
  await cp(from, to, {
    recursive: true, errorOnExist: true, force: false, preserveTimestamps: true, verbatimSymlinks: true,
    filter: (src) => !(dirname(src) === from && SKIPPED.has(basename(src))),
  });
  const asRoot = process.getuid?.() === 0;
  const entries = [".", ...(await readdir(to, { recursive: true }))];
  for (const rel of entries) {
    const dst = join(to, rel);
    const st = await lstat(dst);
    if (asRoot) {
      const src = await lstat(join(from, relative(to, dst)));
      if (src.uid !== st.uid || src.gid !== st.gid) await lchown(dst, src.uid, src.gid);
    }
    if (st.isFile() || st.isDirectory()) {
      const fh = await open(dst, "r");
      await fh.sync().finally(() => fh.close());
    }
  }
}
