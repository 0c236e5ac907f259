/**
 * The switch of a version change (issue 14): `current.json` names another installed runtime,
 * replaced atomically; and the cleanup after it: only the current and the previous runtime stay
 * on disk (layout.ts has the tree).
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type CurrentRecord, runtimeLayout, writeFileAtomic } from "./layout.ts";
import { exists } from "./pieces.ts";
import { RUNTIME_ERROR_CODES as E, RuntimeError } from "./errors.ts";

/**
 * Make `record` the current runtime: `current.json` replaced atomically (0644, as install writes it).
 * @throws RuntimeError ERR_RUNTIME_MISSING when its node or entry file is gone; fs errors
 */
export async function switchCurrent(dataDir: string, record: CurrentRecord): Promise<void> {
  for (const path of [record.nodePath, record.entryPath]) {
    if (!(await exists(path))) throw new RuntimeError(E.RUNTIME_MISSING, `cannot switch to openclaw ${record.openclawVersion}: ${path} is gone`);
  }
  await writeFileAtomic(runtimeLayout(dataDir).currentFile, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Remove every `openclaw-<version>/` under the runtime root whose version is not in `keep`
 * (the current and the previous). Node and npm pieces are shared and left alone.
 * @returns the versions removed
 */
export async function pruneRuntimes(dataDir: string, keep: readonly string[]): Promise<string[]> {
  const layout = runtimeLayout(dataDir);
  const removed: string[] = [];
  for (const name of await readdir(layout.root).catch(() => [] as string[])) {
    const m = /^openclaw-(.+)$/.exec(name);
    if (!m?.[1] || name.includes(".partial-") || keep.includes(m[1])) continue;
    await rm(join(layout.root, name), { recursive: true, force: true });
    removed.push(m[1]);
  }
  return removed.sort();
}
