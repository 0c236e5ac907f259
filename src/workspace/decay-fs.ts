/**
 * The file operations of memory decay. Symlinks are never followed: directories on every path
 * are checked with lstat (a symlinked `memory/`, archive or trash folder stops the step), files
 * are opened with O_NOFOLLOW, and only regular files are listed, read or moved. Every change is
 * fsynced (file and directory) before the caller records it as done.
 */
import { constants, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { fsyncDir } from "../core/fs-atomic.ts";
import { DecayError } from "./decay-errors.ts";
import type { DecayFile, DecayPolicy } from "./decay-plan.ts";

/**
 * Absolute path of a workspace-relative `/` path.
 * @throws DecayError ERR_DECAY_PATH for an absolute path, or one with an empty, `.` or `..` segment
 *   (so not even a tampered journal can name the workspace itself or anything outside it)
 */
export function resolveInside(workspaceDir: string, rel: string): string {
  if (isAbsolute(rel) || rel.split("/").some((s) => s === "" || s === "." || s === ".." || s.includes("\\"))) {
    throw new DecayError("ERR_DECAY_PATH", `path ${JSON.stringify(rel)} is not a plain path inside the workspace`);
  }
  return join(workspaceDir, rel);
}

/** lstat, or undefined when the path does not exist. */
export async function lstatMaybe(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Whether the workspace-relative folder `rel` exists, checking every component.
 * @returns "dir" or "missing"
 * @throws DecayError ERR_DECAY_SYMLINK when a component is a symlink or not a directory
 */
export async function realDir(workspaceDir: string, rel: string): Promise<"dir" | "missing"> {
  let path = workspaceDir;
  for (const seg of rel === "." || rel === "" ? [] : rel.split("/")) {
    path = join(path, seg);
    const st = await lstatMaybe(path);
    if (!st) return "missing";
    if (!st.isDirectory()) throw new DecayError("ERR_DECAY_SYMLINK", `${path} is ${st.isSymbolicLink() ? "a symlink" : "not a directory"}; not followed`);
  }
  return "dir";
}

/** Create the workspace-relative folder `rel` (0700) component by component, fsyncing each new entry. */
export async function ensureRealDir(workspaceDir: string, rel: string): Promise<void> {
  let path = workspaceDir;
  for (const seg of rel.split("/")) {
    const parent = path;
    path = join(path, seg);
    const st = await lstatMaybe(path);
    if (st?.isDirectory()) continue;
    if (st) throw new DecayError("ERR_DECAY_SYMLINK", `${path} is ${st.isSymbolicLink() ? "a symlink" : "not a directory"}; not followed`);
    await mkdir(path, { mode: 0o770 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    await fsyncDir(parent);
  }
}

/**
 * The bytes of a regular file, without following a symlink.
 * @returns undefined when the file does not exist
 * @throws DecayError ERR_DECAY_NOT_A_FILE for a symlink, directory or other non-regular file
 */
export async function readRegularFile(path: string): Promise<{ data: Buffer; mode: number } | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new DecayError("ERR_DECAY_NOT_A_FILE", `${path} is a symlink; not followed`);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new DecayError("ERR_DECAY_NOT_A_FILE", `${path} is not a regular file`);
    return { data: await fh.readFile(), mode: st.mode & 0o777 };
  } finally {
    await fh.close();
  }
}

/**
 * List the files decay plans over: regular files directly in `memory/` and in the archive
 * folder, and every regular file under the trash folder. Symlinks (and folders behind them)
 * are left out; a symlinked `memory/`, archive or trash folder contributes nothing.
 * @returns workspace-relative `/` paths with size and mtime; [] when the workspace is missing
 */
export async function scanDecayFiles(workspaceDir: string, policy: Pick<DecayPolicy, "archiveDir" | "trashDir">): Promise<DecayFile[]> {
  const files: DecayFile[] = [];
  const walk = async (rel: string, recursive: boolean): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(workspaceDir, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory() && recursive) await walk(path, true);
      if (!e.isFile()) continue;
      const st = await lstatMaybe(join(workspaceDir, path));
      if (st?.isFile()) files.push({ path, sizeBytes: st.size, mtimeMs: st.mtimeMs });
    }
  };
  for (const [rel, recursive] of [["memory", false], [policy.archiveDir, false], [policy.trashDir, true]] as const) {
    try {
      if ((await realDir(workspaceDir, rel)) === "dir") await walk(rel, recursive);
    } catch (err) {
      if (!(err instanceof DecayError)) throw err; // a symlinked folder is skipped, not followed
    }
  }
  return files;
}

/** fsync the directories holding `paths` (once each). */
export async function fsyncDirsOf(...paths: string[]): Promise<void> {
  for (const d of new Set(paths.map((p) => dirname(p)))) await fsyncDir(d);
}
