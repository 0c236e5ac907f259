/**
 * The installer's lock file, `<dataDir>/runtime/.install.lock`, holding `{pid, token, startedAt}`.
 *
 * Created with `link(2)` from a fully written temp file: like `open(O_CREAT|O_EXCL)` it fails
 * with EEXIST when the lock exists, but a reader never sees an empty, half-written lock. A lock
 * whose pid is no longer running is stale (its installer crashed) and is broken by renaming it
 * aside and checking that what was moved is the lock judged stale, so two installers breaking
 * the same stale lock cannot both win.
 */
import { isPidAlive } from "../core/os-process.ts";
import { link, readFile, rename, rm, writeFile } from "node:fs/promises";
import { RUNTIME_ERROR_CODES as E, RuntimeError } from "./errors.ts";
import { randomSuffix } from "./layout.ts";

/** A held lock. `release()` removes the file if it is still ours; it never throws. */
export type InstallLock = { readonly token: string; release(): Promise<void> };

/** Options of {@link acquireInstallLock}. */
export type LockOptions = {
  /** Recorded as the owner (`process.pid`). */
  pid: number;
  /** `startedAt` of the record, ISO-8601. */
  nowIso: string;
  /** Whether a pid is running; default signal 0 (`EPERM` counts as running). */
  isAlive?: (pid: number) => boolean;
};

type LockRecord = { pid: number; token: string; startedAt: string };

export { isPidAlive };

async function readLock(file: string): Promise<LockRecord | "gone" | "invalid"> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<LockRecord>;
    if (Number.isInteger(v.pid) && typeof v.token === "string") return v as LockRecord;
  } catch {
    // fall through: garbage in a lock file means no live installer wrote it
  }
  return "invalid";
}

/**
 * Take the install lock.
 * @throws RuntimeError ERR_INSTALL_LOCKED when a running process (this one included) holds it;
 *   the message names the pid and the file to remove if that pid is not an installer
 */
export async function acquireInstallLock(file: string, opts: LockOptions): Promise<InstallLock> {
  const isAlive = opts.isAlive ?? isPidAlive;
  const token = randomSuffix();
  const tmp = `${file}.${token}`;
  await writeFile(tmp, `${JSON.stringify({ pid: opts.pid, token, startedAt: opts.nowIso })}\n`, { flag: "wx" });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, file);
        return { token, release: () => releaseLock(file, token) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const held = await readLock(file);
      if (held === "gone") continue;
      if (held !== "invalid" && isAlive(held.pid)) {
        throw new RuntimeError(E.INSTALL_LOCKED, `another installer (pid ${held.pid}, since ${held.startedAt}) holds ${file}; wait for it, or remove the file if pid ${held.pid} is not an agent-supervisor installer`);
      }
      await breakStale(file, held === "invalid" ? undefined : held.token);
    }
    throw new RuntimeError(E.INSTALL_LOCKED, `could not take ${file}: other installers keep replacing it`);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Move a stale lock aside; put it back if what moved was not the lock judged stale. */
async function breakStale(file: string, staleToken: string | undefined): Promise<void> {
  const aside = `${file}.stale-${randomSuffix()}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = await readLock(aside);
  const sameLock = moved === "invalid" ? staleToken === undefined : moved !== "gone" && moved.token === staleToken;
  if (!sameLock) {
    // A live installer re-took the lock between our read and rename: restore it.
    await link(aside, file).catch(() => {});
  }
  await rm(aside, { force: true });
}

async function releaseLock(file: string, token: string): Promise<void> {
  try {
    const held = await readLock(file);
    if (held !== "gone" && held !== "invalid" && held.token === token) await rm(file, { force: true });
  } catch {
    // best effort: a leftover lock with a dead pid is broken by the next installer
  }
}
