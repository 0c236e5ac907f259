/** Reading free disk space of the data directory. */
import { statfs } from "node:fs/promises";
import type { DiskUsage } from "./ports.ts";

/**
 * Free and total bytes of the filesystem holding `path`, via statfs(2).
 * `freeBytes` counts blocks available to unprivileged users (`f_bavail`), which is what the
 * daemon (not root) can still write; `totalBytes` is the filesystem size.
 * @throws the fs error (e.g. ENOENT) if `path` cannot be stat'ed
 */
export async function statfsDiskUsage(path: string): Promise<DiskUsage> {
  const s = await statfs(path);
  return { path, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}
