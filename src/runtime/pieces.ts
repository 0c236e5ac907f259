/**
 * Installing a registry tarball (Node, npm) as one piece of the runtime: download and verify,
 * unpack into `<dir>.partial-<hex>`, check, rename into place. On any failure the partial
 * directory and the download are removed and `dir` is untouched. (npm.ts does the same for
 * the openclaw prefix.)
 */
import { access, constants, mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { RUNTIME_ERROR_CODES as E, RuntimeError } from "./errors.ts";
import { fsyncDir, randomSuffix } from "./layout.ts";
import type { OnProgress, RuntimePiece } from "./progress.ts";
import { shouldReportDownload } from "./progress.ts";
import { downloadTarball, fetchPackageDist, type FetchLike } from "./registry.ts";

/** True when `path` exists (any type). */
export async function exists(path: string): Promise<boolean> {
  return access(path, constants.F_OK).then(() => true, () => false);
}

/** What {@link installPieceFromTarball} needs. */
export type TarballPiece = {
  piece: RuntimePiece;
  /** Registry package name and exact version. */
  name: string;
  version: string;
  /** Final directory (`node-<v>`, `npm-<v>`); its parent is the runtime root. */
  dir: string;
  /** Path relative to `dir` that a complete install has (`bin/node`). */
  mustHave: string;
  fetch: FetchLike;
  registry: string;
  maxBytes?: number;
  signal?: AbortSignal;
  onProgress: OnProgress;
  /** Clock for durations (ms). */
  now: () => number;
  /** Extra check on the unpacked partial directory before it is renamed into place. */
  verify?: (partialDir: string) => Promise<void>;
};

/**
 * Download, verify and unpack a registry tarball into `dir` (leading `package/` stripped).
 * @throws RegistryError / IntegrityError from registry.ts; RuntimeError ERR_TARBALL_INVALID
 *   (unreadable archive, `..` or escaping paths), ERR_INSTALL_INCOMPLETE (`mustHave` missing)
 */
export async function installPieceFromTarball(p: TarballPiece): Promise<void> {
  const { piece, name, version } = p;
  const root = join(p.dir, "..");
  const suffix = randomSuffix();
  const partial = `${p.dir}.partial-${suffix}`;
  const tgz = join(root, `.download-${suffix}.tgz`);
  let placed = false;
  try {
    p.onProgress({ kind: "resolve", piece, name, version });
    const dist = await fetchPackageDist(p.fetch, p.registry, name, version, p.signal);
    const started = p.now();
    let reported = 0;
    const bytes = await downloadTarball({
      fetch: p.fetch, dist, registry: p.registry, file: tgz, maxBytes: p.maxBytes, signal: p.signal,
      onBytes: (received, total) => {
        if (received === 0) p.onProgress({ kind: "download-start", piece, name, version, totalBytes: total });
        else if (shouldReportDownload(reported, received, total)) {
          reported = received;
          p.onProgress({ kind: "download-progress", piece, name, version, receivedBytes: received, totalBytes: total });
        }
      },
    });
    p.onProgress({ kind: "download-done", piece, name, version, bytes, durationMs: p.now() - started });
    p.onProgress({ kind: "extract", piece, name, version, dir: p.dir });
    await mkdir(partial);
    await extract(tgz, partial, `${name}@${version}`);
    if (!(await exists(join(partial, p.mustHave)))) {
      throw new RuntimeError(E.INSTALL_INCOMPLETE, `${name}@${version} has no ${p.mustHave}`);
    }
    await p.verify?.(partial);
    await rm(p.dir, { recursive: true, force: true }); // an incomplete leftover, if any
    await rename(partial, p.dir);
    placed = true;
    await fsyncDir(root);
  } finally {
    await rm(tgz, { force: true });
    if (!placed) await rm(partial, { recursive: true, force: true });
  }
}

async function extract(file: string, cwd: string, what: string): Promise<void> {
  const unsafe: string[] = [];
  try {
    // Loaded on first use: a daemon whose runtime is installed never unpacks anything, and tar's
    // modules cost it ~1.5 MB of heap (BENCHMARKS.md, "Footprint").
    const tar = await import("tar");
    // tar's defaults refuse `..` and strip leading `/`; preserveOwner:false because as root tar
    // would otherwise chown files to the archive's uids.
    await tar.x({
      file, cwd, strip: 1, preserveOwner: false,
      onwarn: (code, message) => {
        if (code === "TAR_ENTRY_ERROR") unsafe.push(String(message));
      },
    });
  } catch (err) {
    throw new RuntimeError(E.TARBALL_INVALID, `cannot unpack ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (unsafe.length > 0) {
    throw new RuntimeError(E.TARBALL_INVALID, `${what} holds unsafe entries: ${unsafe.slice(0, 3).join("; ")}`);
  }
}
