/**
 * Crash-safe file replacement, shared by every writer of small state files (gateway config,
 * pid file, runtime record).
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
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

/** Why {@link readJsonState} rejected a file: not JSON, or JSON that fails the schema. */
export class StateFileError extends Error {
  readonly file: string;
  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(`${file} ${detail}`, options);
    this.name = "StateFileError";
    this.file = file;
  }
}

/**
 * Read a JSON state file written by {@link writeFileAtomic} and validate it.
 * @returns the parsed value, or undefined when the file does not exist
 * @throws StateFileError when the file is not JSON or fails `schema` (message: the issue paths,
 *   never the content, which may be secret); other fs errors as they are
 */
export async function readJsonState<T>(file: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[] }[] } } }): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StateFileError(file, "is not JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new StateFileError(file, `is invalid: ${parsed.error.issues.map((i) => i.path.map(String).join(".")).join(", ")}`);
  return parsed.data;
}
