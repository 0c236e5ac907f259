/**
 * Removes the gateway's scratch files under /tmp (`/tmp/openclaw` and `/tmp/openclaw-*`).
 *
 * Upstream operators report these growing by tens of GB. Only entries owned by this process's
 * user are touched, and symlinks are never followed: a top-level symlink is unlinked itself
 * (if ours) and `fs.rm` removes links inside directories without traversing them.
 */
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

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
