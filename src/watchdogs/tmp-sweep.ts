/**
 * Removes the gateway's scratch files from TMP_DIR (`/tmp/openclaw`, `/tmp/openclaw-*`) and the
 * leaked capture directories from the gateway state directory's `tmp/` (tmp-names.ts says which
 * names each directory's sweeps own).
 *
 * Upstream operators report these growing by tens to hundreds of GB. Two sweeps, each run over
 * one directory of one {@link TmpRootKind}:
 * - {@link sweepGatewayTmp} before each gateway start (nothing running): removes the entries whole.
 * - {@link sweepStaleGatewayTmp} while the gateway runs: removes only files not modified for a
 *   while, keeps the top-level entries (except emptied stale leaked capture directories) and
 *   never touches a capture lease.
 *
 * Neither touches the lock directories. Only entries owned by this process's user are touched,
 * and symlinks are never followed: a symlink is unlinked itself (if ours) and `fs.rm` removes
 * links inside directories without traversing them.
 */
import type { Dir, Stats } from "node:fs";
import { lstat, opendir, readdir, rm, rmdir, unlink } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { isLeaseFileName, isLockDirName, isStateLocksName, ownsTmpName, removableWhenEmpty, type TmpRootKind } from "./tmp-names.ts";

export { isGatewayTmpName, isStateLocksName } from "./tmp-names.ts";
export type { TmpRootKind } from "./tmp-names.ts";

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

/** Why a lock directory was left alone (in `skipped`). */
export const LOCKS_REASON = "gateway state locks";

/** Result of one sweep before a start. `removedBytes`: sizes (lstat) of the regular files and links removed, bytes. */
export type SweepResult = { removed: string[]; skipped: { path: string; reason: string }[]; removedBytes: number };

/**
 * Remove this user's gateway scratch entries of root `kind` in `dir` whole (nothing runs).
 * Lock directories are skipped (reason {@link LOCKS_REASON}). A missing state `tmp/` (the gateway
 * never ran) is nothing to do; a missing TMP_DIR is one skip.
 * @param uid owner to match (`process.getuid()`)
 * @returns what was removed (with its size) and what was skipped with why; never throws for one bad entry
 */
export async function sweepGatewayTmp(dir: string, uid: number, kind: TmpRootKind = "tmp"): Promise<SweepResult> {
  const result: SweepResult = { removed: [], skipped: [], removedBytes: 0 };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (!(kind === "state-tmp" && errCode(err) === "ENOENT")) result.skipped.push({ path: dir, reason: errCode(err) });
    return result;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (isLockDirName(kind, name)) {
      result.skipped.push({ path, reason: LOCKS_REASON });
      continue;
    }
    if (!ownsTmpName(kind, name)) continue;
    try {
      const st = await lstat(path);
      if (st.uid !== uid) {
        result.skipped.push({ path, reason: `owned by uid ${st.uid}` });
        continue;
      }
      const bytes = st.isDirectory() ? await treeBytes(path) : st.size;
      await rm(path, { recursive: true, force: true });
      result.removed.push(path);
      result.removedBytes += bytes;
    } catch (err) {
      result.skipped.push({ path, reason: errCode(err) });
    }
  }
  return result;
}

/**
 * Sum of the lstat sizes of the regular files and symlinks below `dir` (bytes), without following
 * links, at most `budget` entries and {@link MAX_SWEEP_DEPTH} levels (then a lower bound). Only a
 * count: a directory swapped for a link during the walk can skew it, never make anything removed.
 */
async function treeBytes(dir: string, budget = STALE_SWEEP_BUDGET): Promise<number> {
  let total = 0;
  let seen = 0;
  const walk = async (d: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names) {
      if (++seen > budget) return;
      try {
        const st = await lstat(join(d, name));
        if (st.isDirectory()) {
          if (depth < MAX_SWEEP_DEPTH) await walk(join(d, name), depth + 1);
        } else if (st.isFile() || st.isSymbolicLink()) total += st.size;
      } catch {
        // gone meanwhile
      }
    }
  };
  await walk(dir, 1);
  return total;
}

// ---------------------------------------------------------------- stale sweep (gateway running)

/** Options of {@link sweepStaleGatewayTmp}. Times are epoch ms / ms. */
export type StaleSweepOptions = {
  /** Current time, epoch ms (from the injected clock). */
  nowMs: number;
  /** A file whose mtime is more than this many ms before `nowMs` is removed. */
  staleMs: number;
  /** Most entries to lstat in one sweep (default {@link STALE_SWEEP_BUDGET}); the rest wait for the next sweep. */
  budget?: number;
  /** Which directory `tmpDir` is (default "tmp": TMP_DIR; "state-tmp": the state tmp/); decides the names swept (tmp-names.ts). */
  kind?: TmpRootKind;
};

/** Result of {@link sweepStaleGatewayTmp}. */
export type StaleSweepResult = {
  /** Regular files and symlinks unlinked. */
  removedFiles: number;
  /** Sum of the removed files' sizes (lstat `size`), bytes. */
  removedBytes: number;
  /** Directories removed because they were empty and stale after the walk (leaked capture directories at the top level included). */
  removedDirs: number;
  /** Entries left alone on purpose or after an error, with why (at most {@link MAX_SKIPPED_REPORTED}). */
  skipped: { path: string; reason: string }[];
  /** How many skips there were in all (`skipped` may be cut short). */
  skippedCount: number;
  /** Entries lstat'ed (top-level entries included). */
  scannedEntries: number;
  /** True when the budget ran out before the walk finished. */
  truncated: boolean;
};

/** Default entry budget of one stale sweep. */
export const STALE_SWEEP_BUDGET = 100_000;
/** Longest `skipped` list a stale sweep returns. */
export const MAX_SKIPPED_REPORTED = 100;
/** Deepest directory level the stale sweep descends to (below the top-level entry). */
export const MAX_SWEEP_DEPTH = 64;

/** True when `mtimeMs` lies more than `staleMs` before `nowMs` (a future mtime is never stale). All ms. */
export function isStale(mtimeMs: number, nowMs: number, staleMs: number): boolean {
  return nowMs - mtimeMs > staleMs;
}

/** What lstat says about one entry, as {@link decideStaleEntry} needs it. */
export type EntryFacts = {
  name: string;
  uid: number;
  kind: "file" | "symlink" | "dir" | "other";
  mtimeMs: number;
};

/** What to do with one entry below a top-level gateway entry. */
export type StaleEntryDecision =
  | { kind: "unlink" }
  | { kind: "descend" }
  | { kind: "keep" }
  | { kind: "skip"; reason: string };

/**
 * Decide one entry below a top-level gateway entry: stale files and symlinks of `ownUid` are
 * unlinked, directories are descended into, lock directories and other users' entries are
 * skipped, fresh files, capture leases (`owner.sqlite`, held by a live gateway) and
 * sockets/FIFOs/devices are kept.
 */
export function decideStaleEntry(e: EntryFacts, ctx: { ownUid: number; nowMs: number; staleMs: number }): StaleEntryDecision {
  if (isStateLocksName(e.name)) return { kind: "skip", reason: LOCKS_REASON };
  if (e.uid !== ctx.ownUid) return { kind: "skip", reason: `owned by uid ${e.uid}` };
  if (e.kind === "dir") return { kind: "descend" };
  if (e.kind === "other" || isLeaseFileName(e.name)) return { kind: "keep" };
  return isStale(e.mtimeMs, ctx.nowMs, ctx.staleMs) ? { kind: "unlink" } : { kind: "keep" };
}

function kindOf(st: Stats): EntryFacts["kind"] {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  return "other";
}

/**
 * Remove stale scratch files below this user's entries of root `options.kind` in `tmpDir`
 * (TMP_DIR: `openclaw` / `openclaw-*`; the state `tmp/`: the leaked capture directories) while
 * the gateway runs. Per entry, with lstat only (symlinks are never followed and the walk never
 * leaves `tmpDir`): regular files and symlinks owned by `uid` with an mtime older than `staleMs`
 * are unlinked (a symlink's target is untouched); a directory below the top level is removed when
 * it is empty after the walk and its own mtime was already stale before it (so a directory the
 * gateway just made survives). Top-level entries are never removed, except a leaked capture
 * directory by that same rule; nothing in a lock directory and no capture lease is touched (the
 * running gateway's). The walk stops after `budget` entries with `truncated: true`.
 * @param uid owner to match (`process.getuid()`)
 * @returns counts and skips; never throws (an unreadable TMP_DIR is one skip, a missing state `tmp/` none)
 */
export async function sweepStaleGatewayTmp(tmpDir: string, uid: number, options: StaleSweepOptions): Promise<StaleSweepResult> {
  const budget = options.budget ?? STALE_SWEEP_BUDGET;
  const rootKind = options.kind ?? "tmp";
  const ctx = { ownUid: uid, nowMs: options.nowMs, staleMs: options.staleMs };
  const r: StaleSweepResult = { removedFiles: 0, removedBytes: 0, removedDirs: 0, skipped: [], skippedCount: 0, scannedEntries: 0, truncated: false };
  const skip = (path: string, reason: string) => {
    r.skippedCount++;
    if (r.skipped.length < MAX_SKIPPED_REPORTED) r.skipped.push({ path, reason });
  };
  // Names come from readdir and carry no separators, so this holds by construction; checked anyway.
  const inside = (path: string) => {
    const rel = relative(tmpDir, path);
    return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  };

  /** Remove directory `path` if empty, when its mtime from before the walk (`mtimeMs`) was stale. */
  const removeIfEmptyAndStale = async (path: string, mtimeMs: number) => {
    // Judged by the mtime from before the walk: our own unlinks just made it fresh.
    if (!isStale(mtimeMs, ctx.nowMs, ctx.staleMs)) return;
    try {
      await rmdir(path);
      r.removedDirs++;
    } catch (err) {
      const code = errCode(err);
      if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOENT") skip(path, code);
    }
  };

  /** Walk one directory (already lstat'ed as ours); false when the budget ran out inside it. */
  const walk = async (dirPath: string, depth: number): Promise<boolean> => {
    let dir: Dir;
    try {
      dir = await opendir(dirPath);
    } catch (err) {
      skip(dirPath, errCode(err));
      return true;
    }
    try {
      for await (const d of dir) {
        if (r.scannedEntries >= budget) {
          r.truncated = true;
          return false;
        }
        const path = join(dirPath, d.name);
        if (!inside(path)) continue;
        r.scannedEntries++;
        let st: Stats;
        try {
          st = await lstat(path);
        } catch (err) {
          if (errCode(err) !== "ENOENT") skip(path, errCode(err)); // ENOENT: the gateway removed it first
          continue;
        }
        const decision = decideStaleEntry({ name: d.name, uid: st.uid, kind: kindOf(st), mtimeMs: st.mtimeMs }, ctx);
        if (decision.kind === "skip") skip(path, decision.reason);
        else if (decision.kind === "unlink") {
          try {
            await unlink(path);
            r.removedFiles++;
            r.removedBytes += st.size;
          } catch (err) {
            if (errCode(err) !== "ENOENT") skip(path, errCode(err));
          }
        } else if (decision.kind === "descend") {
          if (depth >= MAX_SWEEP_DEPTH) {
            skip(path, `deeper than ${MAX_SWEEP_DEPTH} levels`);
            continue;
          }
          if (!(await walk(path, depth + 1))) return false;
          await removeIfEmptyAndStale(path, st.mtimeMs);
        }
      }
    } catch (err) {
      skip(dirPath, errCode(err));
    } finally {
      // A `for await` that ran to its end has closed the Dir already; an early return has not.
      try {
        await dir.close();
      } catch {
        // ERR_DIR_CLOSED
      }
    }
    return true;
  };

  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch (err) {
    if (!(rootKind === "state-tmp" && errCode(err) === "ENOENT")) skip(tmpDir, errCode(err));
    return r;
  }
  for (const name of names.filter((n) => ownsTmpName(rootKind, n) || isLockDirName(rootKind, n)).sort()) {
    const path = join(tmpDir, name);
    if (isLockDirName(rootKind, name)) {
      skip(path, LOCKS_REASON);
      continue;
    }
    if (r.scannedEntries >= budget) {
      r.truncated = true;
      break;
    }
    r.scannedEntries++;
    let st: Stats;
    try {
      st = await lstat(path);
    } catch (err) {
      if (errCode(err) !== "ENOENT") skip(path, errCode(err));
      continue;
    }
    if (st.uid !== uid) skip(path, `owned by uid ${st.uid}`);
    else if (st.isDirectory()) {
      if (!(await walk(path, 1))) break;
      if (removableWhenEmpty(name)) await removeIfEmptyAndStale(path, st.mtimeMs);
    }
    // A top-level file or symlink is left alone: it goes in the sweep before the next start.
  }
  return r;
}
