/**
 * The native SQLite addon inside the single executable.
 *
 * The shipped binary is a Node single executable application (SEA, see build/build.ts): there is
 * no node_modules next to it, so better-sqlite3's own lookup of its `.node` file cannot work. The
 * addon travels as the SEA asset `better_sqlite3.node`; on first use it is written atomically to
 * `<dataDir>/native/better_sqlite3-<ABI>-<sha256 prefix>.node` (the data directory, never /tmp,
 * which may be mounted noexec), loaded with `process.dlopen`, and handed to better-sqlite3 as
 * `nativeBinding`. Outside a SEA (development, tests) this module does nothing and better-sqlite3
 * resolves its prebuilt addon from node_modules as usual.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import * as sea from "node:sea";
import { dataDirLayout } from "../core/data-dir.ts";

/** Name of the SEA asset holding better-sqlite3's addon (build/build.ts writes it). */
export const SQLITE_ASSET = "better_sqlite3.node";

let loaded: { file: string; binding: unknown } | undefined;

/** True when running as the single executable. */
export function isSingleExecutable(): boolean {
  try {
    return sea.isSea();
  } catch {
    return false;
  }
}

/** Where the addon with these bytes is extracted under `dataDir`. */
export function nativeAddonPath(dataDir: string, bytes: Uint8Array, abi: string = process.versions.modules): string {
  const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  return join(dataDirLayout(dataDir).nativeDir, `better_sqlite3-${abi}-${digest}.node`);
}

/**
 * Write `bytes` to `file` unless a file with the same content is there already: a temporary file
 * in the same directory, fsync, rename. Concurrent writers (daemon and a CLI command) both end
 * with a complete file.
 */
export function extractAtomically(file: string, bytes: Uint8Array): void {
  const dir = join(file, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(file)) {
    try {
      if (Buffer.compare(readFileSync(file), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) === 0) return;
    } catch {
      // unreadable: rewrite it below
    }
  }
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const fd = openSync(tmp, "wx", 0o500);
    try {
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * In the single executable: extract (once) and load the embedded SQLite addon, returning its
 * `module.exports` for `openDb(path, { nativeBinding })`. Outside a SEA: undefined.
 * Also remembered for {@link currentNativeSqliteBinding}, which the bundled better-sqlite3 uses
 * when a database is opened without an explicit binding.
 */
export function loadNativeSqliteBinding(dataDir: string): unknown {
  if (loaded) return loaded.binding;
  if (!isSingleExecutable()) return undefined;
  const bytes = new Uint8Array(sea.getAsset(SQLITE_ASSET));
  const file = nativeAddonPath(dataDir, bytes);
  extractAtomically(file, bytes);
  const mod = { exports: {} as unknown };
  process.dlopen(mod, file, osConstants.dlopen.RTLD_NOW);
  loaded = { file, binding: mod.exports };
  return mod.exports;
}

/** The binding loaded by {@link loadNativeSqliteBinding}, if any (and the file it came from). */
export function currentNativeSqliteBinding(): { file: string; binding: unknown } | undefined {
  return loaded;
}
