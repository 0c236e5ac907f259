/**
 * Where the managed runtime lives under the data directory, and its record `current.json`.
 *
 * ```
 * <dataDir>/runtime/
 *   current.json            which pieces the daemon runs (CurrentRecord), replaced atomically
 *   .install.lock           held by a running installer (lock.ts)
 *   node-<nodeVersion>/     registry package node-linux-<arch>, unpacked: bin/node
 *   npm-<npmVersion>/       registry package npm, unpacked: bin/npm-cli.js (used only to install)
 *   openclaw-<version>/     npm --prefix: node_modules/openclaw/openclaw.mjs
 *   npm-logs/               npm's debug logs, named in its error output
 *   *.partial-<hex>/        a piece being installed; renamed into place once complete
 * ```
 * A directory without `.partial-` exists only once complete, so its presence means "installed".
 */
import { fsyncDir, readJsonState, StateFileError, writeFileAtomic as writeFileAtomicShared } from "../core/fs-atomic.ts";
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { dataDirLayout } from "../core/data-dir.ts";
import { RUNTIME_ERROR_CODES as E, RuntimeError } from "./errors.ts";

/** Node version the managed runtime pins (openclaw needs >= 24.16; matches `.node-version`). */
export const PINNED_NODE_VERSION = "24.21.0";
/** npm version used to install openclaw (self-contained tarball: its dependencies are bundled). */
export const PINNED_NPM_VERSION = "11.21.2";

/**
 * Registry package holding the Node binary for this OS/CPU (`process.platform`, `process.arch`).
 * @throws RuntimeError ERR_UNSUPPORTED_PLATFORM unless linux x64 or arm64
 */
export function nodePackageName(platform: string, arch: string): string {
  if (platform === "linux" && (arch === "x64" || arch === "arm64")) return `node-linux-${arch}`;
  throw new RuntimeError(E.UNSUPPORTED_PLATFORM, `no managed Node runtime for ${platform}/${arch}; supported: linux/x64, linux/arm64 (or set OPENCLAW_NODE and OPENCLAW_ENTRY)`);
}

/** Absolute paths of the runtime tree for one data directory. Pure. */
export function runtimeLayout(dataDir: string) {
  const root = dataDirLayout(dataDir).runtimeDir;
  return {
    root,
    currentFile: join(root, "current.json"),
    lockFile: join(root, ".install.lock"),
    /** npm's debug logs (`--logs-dir`), kept after a failed install; npm keeps the last 10. */
    npmLogsDir: join(root, "npm-logs"),
    nodeDir: (version: string) => join(root, `node-${version}`),
    npmDir: (version: string) => join(root, `npm-${version}`),
    openclawDir: (version: string) => join(root, `openclaw-${version}`),
  };
}

/** Return type of {@link runtimeLayout}. */
export type RuntimeLayout = ReturnType<typeof runtimeLayout>;

/** `<nodeDir>/bin/node`. */
export const nodeBinPath = (nodeDir: string): string => join(nodeDir, "bin", "node");
/** `<npmDir>/bin/npm-cli.js`. */
export const npmCliPath = (npmDir: string): string => join(npmDir, "bin", "npm-cli.js");
/** `<prefix>/node_modules/openclaw/openclaw.mjs`: what the daemon runs with the managed Node. */
export const openclawEntryPath = (prefix: string): string => join(prefix, "node_modules", "openclaw", "openclaw.mjs");

/** Schema of `current.json`. Paths are absolute; `installedAt` is an ISO-8601 UTC timestamp. */
export const currentRecordSchema = z.object({
  openclawVersion: z.string().min(1),
  nodeVersion: z.string().min(1),
  npmVersion: z.string().min(1),
  nodePath: z.string().min(1),
  entryPath: z.string().min(1),
  installedAt: z.iso.datetime(),
});

/** The installed runtime, as recorded in `current.json`. */
export type CurrentRecord = z.infer<typeof currentRecordSchema>;

/**
 * Read `current.json`.
 * @returns undefined when the file does not exist
 * @throws RuntimeError ERR_RUNTIME_MISSING when it exists but is not a valid record
 */
export async function readCurrent(file: string): Promise<CurrentRecord | undefined> {
  try {
    return await readJsonState(file, currentRecordSchema);
  } catch (err) {
    if (!(err instanceof StateFileError)) throw err;
    throw new RuntimeError(E.RUNTIME_MISSING, `${err.message}; run 'agent-supervisor openclaw install' to rewrite it`, { cause: err });
  }
}

/** A fresh suffix for temporary names: 12 hex characters. */
export const randomSuffix = (): string => randomBytes(6).toString("hex");

/** Replace `file` atomically; runtime records are world-readable (0644). See {@link writeFileAtomicShared}. */
export const writeFileAtomic = (file: string, data: string): Promise<void> => writeFileAtomicShared(file, data, 0o644);

export { fsyncDir };
