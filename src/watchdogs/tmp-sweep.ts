/**
 * Removes the gateway's scratch files under /tmp (`/tmp/openclaw` and `/tmp/openclaw-*`).
 *
 * Upstream operators report these growing by tens of GB. Two sweeps:
 * - {@link sweepGatewayTmp} before each gateway start (nothing running): removes the entries whole.
 * - {@link sweepStaleGatewayTmp} while the gateway runs: removes only files not modified for a
 *   while, keeps the top-level entries and never touches the gateway's state locks.
 *
 * Only entries owned by this process's user are touched, and symlinks are never followed: a
 * symlink is unlinked itself (if ours) and `fs.rm` removes links inside directories without
 * traversing them.
 */
import type { Dir, Stats } from "node:fs";
import { lstat, opendir, readdir, rm, rmdir, unlink } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";

/** Result of one sweep. */
export type SweepResult = { removed: string[]; skipped: { path: string; reason: string }[] };

/** True for the names the sweep owns: `openclaw` and `openclaw-*`. */
export function isGatewayTmpName(name: string): boolean {
  return name === "openclaw" || name.startsWith("openclaw-");
}

/**
 * Remove this user's gateway scratch entries in `tmpDir`.
 * @param uid owner to match (`process.getuid()`)
 * @returns what was removed and what was skipped with why; never throws for one bad entry
 */
export async function sweepGatewayTmp(tmpDir: string, uid: number): Promise<SweepResult> {
  const result: SweepResult = { removed: [], skipped: [] };
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch (err) {
    result.skipped.push({ path: tmpDir, reason: (err as NodeJS.ErrnoException).code ?? String(err) });
    return result;
  }
  for (const name of names.filter(isGatewayTmpName)) {
    const path = join(tmpDir, name);
    try {
      const st = await lstat(path);
      if (st.uid !== uid) {
        result.skipped.push({ path, reason: `owned by uid ${st.uid}` });
        continue;
      }
      await rm(path, { recursive: true, force: true });
      result.removed.push(path);
    } catch (err) {
      result.skipped.push({ path, reason: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }
  return result;
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
};

/** Result of {@link sweepStaleGatewayTmp}. */
export type StaleSweepResult = {
  /** Regular files and symlinks unlinked. */
  removedFiles: number;
  /** Sum of the removed files' sizes (lstat `size`), bytes. */
  removedBytes: number;
  /** Directories removed because they were empty and stale after the walk. */
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

/** True for the running gateway's lock directories (`openclaw-state-locks`, `openclaw-state-locks-<uid>`). */
export function isStateLocksName(name: string): boolean {
  return name.startsWith("openclaw-state-locks");
}

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
 * skipped, fresh files and sockets/FIFOs/devices are kept.
 */
export function decideStaleEntry(e: EntryFacts, ctx: { ownUid: number; nowMs: number; staleMs: number }): StaleEntryDecision {
  if (isStateLocksName(e.name)) return { kind: "skip", reason: "gateway state locks" };
  if (e.uid !== ctx.ownUid) return { kind: "skip", reason: `owned by uid ${e.uid}` };
  if (e.kind === "dir") return { kind: "descend" };
  if (e.kind === "other") return { kind: "keep" };
  return isStale(e.mtimeMs, ctx.nowMs, ctx.staleMs) ? { kind: "unlink" } : { kind: "keep" };
}

function kindOf(st: Stats): EntryFacts["kind"] {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  return "other";
}

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

/**
 * Remove stale scratch files below this user's `openclaw` / `openclaw-*` entries in `tmpDir`
 * while the gateway runs. Per entry, with lstat only (symlinks are never followed and the walk
 * never leaves `tmpDir`): regular files and symlinks owned by `uid` with an mtime older than
 * `staleMs` are unlinked (a symlink's target is untouched); a directory below the top level is
 * removed when it is empty after the walk and its own mtime was already stale before it (so a
 * directory the gateway just made survives). The top-level entries themselves are never removed,
 * and nothing under `openclaw-state-locks*` is touched (the running gateway's locks). The walk
 * stops after `budget` entries with `truncated: true`.
 * @param uid owner to match (`process.getuid()`)
 * @returns counts and skips; never throws (an unreadable `tmpDir` is one skip)
 */
export async function sweepStaleGatewayTmp(tmpDir: string, uid: number, options: StaleSweepOptions): Promise<StaleSweepResult> {
  const budget = options.budget ?? STALE_SWEEP_BUDGET;
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
          // Judged by the mtime from before the walk: our own unlinks just made it fresh.
          if (isStale(st.mtimeMs, ctx.nowMs, ctx.staleMs)) {
            try {
              await rmdir(path);
              r.removedDirs++;
            } catch (err) {
              const code = errCode(err);
              if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOENT") skip(path, code);
            }
          }
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
    skip(tmpDir, errCode(err));
    return r;
  }
  for (const name of names.filter(isGatewayTmpName).sort()) {
    const path = join(tmpDir, name);
    if (isStateLocksName(name)) {
      skip(path, "gateway state locks");
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
    else if (st.isDirectory() && !(await walk(path, 1))) break;
    // A top-level file or symlink is left alone: the top-level entries are never removed here.
  }
  return r;
}
