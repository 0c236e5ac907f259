/**
 * The gateway's tree (`<data>/gateway`, core/data-dir.ts) shared between the daemon and the
 * gateway's user through the gateway's group (issue 11). The daemon writes openclaw.json and the
 * skills there and moves memory files (decay); the gateway writes everything else. So:
 * - the tree's root is in the gateway's group, mode 2770: setgid, so every file and directory
 *   created below it is in that group too, whoever creates it;
 * - both run with umask 0007 (the unit's `UMask=`, and the daemon sets it when the boundary is
 *   on), so what either creates is readable and writable by the other through the group, and by
 *   nobody else;
 * - the daemon's user is a member of the gateway's group (the unit's `SupplementaryGroups=`), so
 *   it may give its own files that group without any capability.
 *
 * The data directory above it is 0711: the gateway's user may pass through it to its tree and to
 * the runtime, but not list it, and every other file there is the daemon's alone (0600/0700).
 */
import { chmod, chown, lstat, mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/** Mode of a shared directory: setgid, rwx for owner and group, nothing for others. */
export const SHARED_DIR_MODE = 0o2770;

/** True when `mode` (st_mode) and `gid` describe a shared root: the group, setgid and group rwx. Pure. */
export function isSharedRoot(mode: number, gid: number, wantGid: number): boolean {
  return gid === wantGid && (mode & 0o2070) === 0o2070;
}

/**
 * The mode an entry gets when it is shared: directories 2770 plus their sticky bit if any; files
 * get the owner's bits for the group too (a 0600 file becomes 0660, a 0700 file 0770); others
 * get nothing. Pure.
 */
export function sharedMode(mode: number, isDir: boolean): number {
  const perm = mode & 0o7777;
  if (isDir) return (perm | SHARED_DIR_MODE) & ~0o007;
  const owner = (perm >> 6) & 0o7;
  return (perm | (owner << 3)) & ~0o007;
}

/** What {@link shareGatewayTree} did. */
export type ShareResult = {
  /** The root was shared before this call. */
  alreadyShared: boolean;
  /** The root is shared now. */
  shared: boolean;
  /** Entries whose group or mode changed. */
  changed: number;
  skipped: { path: string; reason: string }[];
};

/**
 * Make `root` the shared gateway tree of group `gid`. A root already shared is left as it is
 * (files created since carry the group through setgid and the umask). Otherwise, once, which is
 * how an install from before issue 11 moves over: every entry the daemon (`selfUid`) owns gets
 * the group and {@link sharedMode}, deepest first, the root last, so that a walk cut short by a
 * crash is done again in full at the next start. Entries of other users and symlinks are left
 * alone (skipped, with the reason); nothing is moved, renamed or deleted, so every conversation
 * stays where it is.
 *
 * The walk runs before the first start of a gateway as its own user: until then the gateway ran
 * as the daemon's user, so no process of the gateway's user can swap an entry for a symlink
 * during it.
 * @throws fs errors on the root (EACCES, ENOSPC); errors below it are skipped
 */
export async function shareGatewayTree(root: string, gid: number, selfUid: number): Promise<ShareResult> {
  await mkdir(root, { recursive: true, mode: 0o770 });
  const top = await stat(root);
  if (isSharedRoot(top.mode, top.gid, gid)) return { alreadyShared: true, shared: true, changed: 0, skipped: [] };
  const result: ShareResult = { alreadyShared: false, shared: false, changed: 0, skipped: [] };
  const share = async (path: string, isDir: boolean, mode: number, entryGid: number) => {
    const want = sharedMode(mode, isDir);
    if (entryGid !== gid) await chown(path, selfUid, gid);
    // chown may clear setuid/setgid bits: set the mode afterwards, always.
    if (entryGid !== gid || (mode & 0o7777) !== want) {
      await chmod(path, want);
      result.changed += 1;
    }
  };
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      result.skipped.push({ path: dir, reason: (err as NodeJS.ErrnoException).code ?? String(err) });
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const st = await lstat(path);
        if (st.isSymbolicLink()) continue;
        if (st.isDirectory()) await walk(path);
        if (st.uid !== selfUid) {
          result.skipped.push({ path, reason: `owned by uid ${st.uid}` });
          continue;
        }
        if (st.isDirectory() || st.isFile()) await share(path, st.isDirectory(), st.mode, st.gid);
      } catch (err) {
        result.skipped.push({ path, reason: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }
  };
  await walk(root);
  if (top.uid === selfUid) await share(root, true, top.mode, top.gid);
  else result.skipped.push({ path: root, reason: `owned by uid ${top.uid}, not the daemon's` });
  const after = await stat(root);
  result.shared = isSharedRoot(after.mode, after.gid, gid);
  return result;
}

/**
 * Let others pass through `dir` (add x for others, never r or w): the data directory, so that the
 * gateway's user reaches its tree and the runtime. Only when the daemon owns it.
 * @returns true if the mode changed
 * @throws fs errors
 */
export async function letOthersPass(dir: string, selfUid: number): Promise<boolean> {
  const st = await stat(dir);
  if (st.uid !== selfUid || (st.mode & 0o001) !== 0) return false;
  await chmod(dir, (st.mode & 0o7777) | 0o001);
  return true;
}
