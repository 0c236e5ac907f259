/**
 * Generated secrets kept in 0600 files under the data directory (the gateway token, the local
 * API bearer token).
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Read the secret at `path`, creating it (32 random bytes, base64url, mode 0600) if absent.
 * A file readable by group or others is tightened to 0600 first.
 * @returns the secret, trimmed
 * @throws fs errors other than ENOENT/EEXIST (e.g. EACCES, ENOSPC)
 */
export async function ensureSecretFile(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const st = await stat(path);
      if ((st.mode & 0o077) !== 0) await chmod(path, 0o600);
      const value = (await readFile(path, "utf8")).trim();
      if (value.length >= 16) return value;
      // Too short or empty (e.g. a crash between create and write): replace it.
      return await writeFreshSecret(path, "w");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    try {
      return await writeFreshSecret(path, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // Another process created it between our stat and open: read theirs.
    }
  }
}

/** Write 32 random bytes (base64url) to `path` with mode 0600; `flags` "wx" fails if it exists. */
async function writeFreshSecret(path: string, flags: "w" | "wx"): Promise<string> {
  const fh = await open(path, flags, 0o600);
  try {
    const fresh = randomBytes(32).toString("base64url");
    await fh.writeFile(`${fresh}\n`);
    await fh.sync();
    return fresh;
  } finally {
    await fh.close();
  }
}

/** Read an existing secret file (for CLI clients). @throws ENOENT/EACCES as fs errors */
export async function readSecretFile(path: string): Promise<string> {
  return (await readFile(path, "utf8")).trim();
}
