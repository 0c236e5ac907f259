/**
 * The gateway's tree (`<data>/gateway`, core/data-dir.ts) belongs to the gateway's user and is
 * shared with the daemon through the gateway's group (issue 11). OpenClaw changes the modes of
 * its own directories (chmod), which only their owner may do, so everything the gateway made must
 * be the gateway user's own: a tree made by a daemon from before issue 11 is handed over once, by
 * root ({@link handOverTree}: install.sh runs `agent-supervisor gateway-user hand-over`; a daemon
 * running as root does it itself). After that:
 * - the root is `<gw>:<gw>` 2770: setgid, so every file and directory created below it is in the
 *   gateway's group, whoever creates it;
 * - both run with umask 0007 (the unit's `UMask=`; the daemon sets it when the boundary is on), so
 *   what either creates is readable and writable by the other through the group, by nobody else;
 * - the daemon's user is a member of the gateway's group (the unit's `SupplementaryGroups=`), which
 *   is how it reads MEMORY.md and moves memory files (decay), with no capability. Everything else
 *   in the tree it has a child running as the gateway's user do (as-gateway.ts).
 *
 * The data directory above it is 0711: the gateway's user may pass through it to its tree and to
 * the runtime, but not list it, and every other file there is the daemon's alone (0600/0700).
 */
import { constants } from "node:fs";
import { chmod, chown, lstat, mkdir, open, readdir, readlink, realpath, stat } from "node:fs/promises";
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

/** What {@link handOverTree} did. */
export type HandOverResult = {
  /** The root was handed over before this call: nothing was done. */
  already: boolean;
  /** Entries whose owner or mode changed. */
  changed: number;
  skipped: { path: string; reason: string }[];
};

/** The directories the gateway's user owns from the start (core/data-dir.ts GatewayLayout). */
export type TreeDirs = { root: string; subdirs: readonly string[] };

/** True when the root at `root` is handed over to `user` (owner, group, setgid, group rwx). */
export async function isHandedOver(root: string, user: { uid: number; gid: number }): Promise<boolean> {
  const st = await stat(root).catch(() => undefined);
  return st !== undefined && st.uid === user.uid && isSharedRoot(st.mode, st.gid, user.gid);
}

/**
 * Hand the gateway's tree to its user, as root: every entry gets the user as owner and group and
 * {@link sharedMode}, deepest first and the root last, so that a walk cut short is done again in
 * full next time; the root and `subdirs` are created if missing. Nothing is moved, renamed or
 * deleted: every conversation stays where it is. A tree already handed over is left alone (but
 * for missing `subdirs`, created as the user's). Only entries of `fromUid` (the daemon's user,
 * which ran the gateway before) or of the gateway's user are changed, and no file with more than
 * one name.
 *
 * Each entry is opened with O_NOFOLLOW and changed through its descriptor, and only when the
 * descriptor's path (/proc/self/fd) is the path walked: a symlink, or a directory swapped for one
 * during the walk by a process of the gateway's user, is skipped, never followed.
 * @throws fs errors on the root (EPERM without root)
 */
export async function handOverTree(tree: TreeDirs, user: { uid: number; gid: number }, fromUid: number): Promise<HandOverResult> {
  const root = tree.root;
  const made = async (d: string) => {
    if (await stat(d).catch(() => undefined)) return;
    await mkdir(d, { recursive: true });
    await chown(d, user.uid, user.gid);
    await chmod(d, SHARED_DIR_MODE);
  };
  if (await isHandedOver(root, user)) {
    for (const d of tree.subdirs) await made(d);
    return { already: true, changed: 0, skipped: [] };
  }
  await made(root);
  for (const d of tree.subdirs) await made(d);
  const result: HandOverResult = { already: false, changed: 0, skipped: [] };
  const give = async (path: string) => {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      if ((await readlink(`/proc/self/fd/${fh.fd}`)) !== path) {
        result.skipped.push({ path, reason: "moved during the walk" });
        return;
      }
      const st = await fh.stat();
      if (!st.isDirectory() && !st.isFile()) return;
      // Only what the daemon's user or the gateway's made, and no file with another name
      // elsewhere: a hard link the old gateway (the daemon's user) made to the database would
      // otherwise be handed to the gateway's user.
      if (st.uid !== fromUid && st.uid !== user.uid) {
        result.skipped.push({ path, reason: `owned by uid ${st.uid}` });
        return;
      }
      if (st.isFile() && st.nlink > 1) {
        result.skipped.push({ path, reason: `a hard link (${st.nlink} names)` });
        return;
      }
      const want = sharedMode(st.mode, st.isDirectory());
      if (st.uid === user.uid && st.gid === user.gid && (st.mode & 0o7777) === want) return;
      await fh.chown(user.uid, user.gid);
      // chown clears setuid/setgid bits: the mode goes afterwards.
      await fh.chmod(want);
      result.changed += 1;
    } finally {
      await fh.close();
    }
  };
  const walk = async (dir: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      result.skipped.push({ path: dir, reason: (err as NodeJS.ErrnoException).code ?? String(err) });
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isSymbolicLink()) {
        result.skipped.push({ path, reason: "symlink (not followed)" });
        continue;
      }
      try {
        if (e.isDirectory()) await walk(path);
        if (e.isDirectory() || e.isFile()) await give(path);
      } catch (err) {
        result.skipped.push({ path, reason: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }
  };
  const real = await realpath(root);
  await walk(real);
  await give(real);
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

/**
 * Take every permission for others off the entries directly in the data directory, but `keep`
 * (the gateway's tree and the runtime, which its user needs): with the directory passable (0711),
 * a file's own mode is all that keeps it from the gateway's user, and files made under a looser
 * umask (SQLite creates its database 0644 less the umask, and its -wal and -shm files with the
 * database's mode) would be open to it. Entries below need no change: a directory closed to
 * others cannot be passed. Only entries the daemon (`selfUid`) owns; symlinks are left alone.
 * @returns the paths changed
 * @throws fs errors reading the directory
 */
export async function closeToOthers(dataDir: string, selfUid: number, keep: readonly string[]): Promise<string[]> {
  const changed: string[] = [];
  for (const e of await readdir(dataDir, { withFileTypes: true })) {
    if (keep.includes(e.name) || e.isSymbolicLink()) continue;
    const path = join(dataDir, e.name);
    const st = await lstat(path).catch(() => undefined);
    if (!st || st.uid !== selfUid || (st.mode & 0o007) === 0) continue;
    await chmod(path, st.mode & 0o7770);
    changed.push(path);
  }
  return changed;
}
