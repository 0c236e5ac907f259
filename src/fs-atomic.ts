/**
 * Crash-safe file replacement, shared by every writer of small state files (gateway config,
 * pid file, runtime record).
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Replace `file` with `data` atomically: create the parent (0700) if missing, write a sibling
 * temp file with `mode`, fsync it, rename it over `file`, fsync the directory. Readers see the
 * old or the new content, never a mix, even after a power cut.
 * @param mode permission bits of the new file (default 0600)
 * @throws the underlying fs error (ENOSPC on a full disk); the old file stays intact and the
 *   temp file is removed
 */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(file));
}

/** fsync a directory so a rename in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, "r");
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
