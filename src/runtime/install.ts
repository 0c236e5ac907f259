/**
 * `agent-supervisor openclaw install [--version V]`: installs Node, npm and openclaw@V from the
 * npm registry under `<dataDir>/runtime` (layout.ts) and switches `current.json` to them only
 * once every piece is complete. Needs no node or npm on the host: the registry is spoken over
 * HTTPS with the injected `fetch`, and npm runs on the Node it just installed (npm.ts: install
 * with --ignore-scripts, then `npm rebuild openclaw` for openclaw's own install scripts).
 */
import { chmod, lstat, mkdir, readdir, rm } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import type { SpawnFn } from "../core/os-process.ts";
import { runChild } from "./child.ts";
import { ConfigError } from "../core/errors.ts";
import { RUNTIME_ERROR_CODES as E, RuntimeError } from "./errors.ts";
import { acquireInstallLock } from "./lock.ts";
import {
  type CurrentRecord, nodeBinPath, nodePackageName, npmCliPath, openclawEntryPath,
  PINNED_NODE_VERSION, PINNED_NPM_VERSION, readCurrent, runtimeLayout, writeFileAtomic,
} from "./layout.ts";
import { installOpenclawPrefix } from "./npm.ts";
import { exists, installPieceFromTarball } from "./pieces.ts";
import type { OnProgress } from "./progress.ts";
import type { FetchLike } from "./registry.ts";

/** Options of {@link installOpenclaw}. Everything with I/O or time is passed in. */
export type InstallOptions = {
  /** AGENT_SUPERVISOR_DATA_DIR. */
  dataDir: string;
  /** openclaw version to install (OPENCLAW_VERSION or `--version`). */
  openclawVersion: string;
  /** NPM_REGISTRY base URL. */
  registry: string;
  fetch: FetchLike;
  spawn: SpawnFn;
  /** Wall clock, ms since the epoch: `installedAt`, the lock's `startedAt`, durations. */
  now: () => number;
  /** Environment of the npm child (proxy variables pass through); the managed Node's bin dir is prepended to PATH. */
  env?: NodeJS.ProcessEnv;
  /** `process.platform` / `process.arch` (default: this process's). */
  platform?: string;
  arch?: string;
  /** Pins (defaults {@link PINNED_NODE_VERSION}, {@link PINNED_NPM_VERSION}). */
  nodeVersion?: string;
  npmVersion?: string;
  /** Per-tarball limit in bytes (default 512 MiB). */
  maxTarballBytes?: number;
  /** Lock owner pid (default `process.pid`). */
  pid?: number;
  onProgress?: OnProgress;
  signal?: AbortSignal;
  /**
   * Make the installed version current (write `current.json`); default true. False installs it
   * beside the current version only (the upgrade sequence switches later, daemon/upgrade.ts);
   * the result's `record` is then what `current.json` would name.
   */
  activate?: boolean;
};

/**
 * Outcome. `already-installed`: `current.json` already named this openclaw and Node version
 * with both files present, and nothing was fetched or written. `installed`: `record` is the
 * new `current.json`; `previous` is what it replaced (kept on disk for a manual rollback).
 */
export type InstallResult = { status: "already-installed" | "installed"; record: CurrentRecord; previous: CurrentRecord | undefined };

/** `current.json` if it is readable, names `version` on `nodeVersion`, and both its files exist. */
async function usableCurrent(file: string, version: string, nodeVersion: string): Promise<CurrentRecord | undefined> {
  const rec = await readCurrent(file).catch(() => undefined);
  if (rec?.openclawVersion !== version || rec.nodeVersion !== nodeVersion) return undefined;
  return (await exists(rec.nodePath)) && (await exists(rec.entryPath)) ? rec : undefined;
}

/**
 * Install openclaw@`openclawVersion` and make it current; idempotent.
 * @throws ConfigError when a version is not a plain version string (it becomes a directory name);
 *   RuntimeError ERR_INSTALL_LOCKED (another installer runs), ERR_UNSUPPORTED_PLATFORM,
 *   ERR_REGISTRY_HTTP / ERR_REGISTRY_NETWORK / ERR_REGISTRY_RESPONSE / ERR_TARBALL_TOO_LARGE,
 *   ERR_INTEGRITY, ERR_TARBALL_INVALID, ERR_NPM_INSTALL, ERR_INSTALL_INCOMPLETE; on any of them
 *   `current.json` and the installed pieces are as before and no partial directory remains
 */
export async function installOpenclaw(opts: InstallOptions): Promise<InstallResult> {
  const layout = runtimeLayout(opts.dataDir);
  const version = opts.openclawVersion;
  const nodeVersion = opts.nodeVersion ?? PINNED_NODE_VERSION;
  const npmVersion = opts.npmVersion ?? PINNED_NPM_VERSION;
  const onProgress = opts.onProgress ?? (() => {});
  for (const v of [version, nodeVersion, npmVersion]) {
    // versions become directory names: no separators, no `..`
    if (!/^[0-9A-Za-z][0-9A-Za-z.+-]*$/.test(v) || v.includes("..")) throw new ConfigError(`invalid version "${v}"`);
  }
  const nodePkg = nodePackageName(opts.platform ?? process.platform, opts.arch ?? process.arch);

  const activate = opts.activate ?? true;
  const done = await usableCurrent(layout.currentFile, version, nodeVersion);
  if (done) return { status: "already-installed", record: done, previous: done };

  // The data directory also holds tokens: create it private, as the daemon does (a no-op if it exists).
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(layout.root, { recursive: true, mode: 0o755 });
  const lock = await acquireInstallLock(layout.lockFile, { pid: opts.pid ?? process.pid, nowIso: new Date(opts.now()).toISOString() });
  try {
    // Another installer may have finished this version between our first check and the lock.
    const raced = await usableCurrent(layout.currentFile, version, nodeVersion);
    if (raced) return { status: "already-installed", record: raced, previous: raced };
    await sweepLeftovers(layout.root);
    const previous = await readCurrent(layout.currentFile).catch(() => undefined);
    const common = { fetch: opts.fetch, registry: opts.registry, maxBytes: opts.maxTarballBytes, signal: opts.signal, onProgress, now: opts.now };

    const nodeDir = layout.nodeDir(nodeVersion);
    const nodePath = nodeBinPath(nodeDir);
    if (await exists(nodePath)) onProgress({ kind: "reuse", piece: "node", version: nodeVersion, dir: nodeDir });
    else {
      await installPieceFromTarball({
        ...common, piece: "node", name: nodePkg, version: nodeVersion, dir: nodeDir, mustHave: "bin/node",
        verify: (partial) => checkNodeRuns(opts.spawn, nodeBinPath(partial), nodeVersion, opts.signal),
      });
    }

    const prefix = layout.openclawDir(version);
    const entryPath = openclawEntryPath(prefix);
    if (await exists(entryPath)) onProgress({ kind: "reuse", piece: "openclaw", version, dir: prefix });
    else {
      const npmDir = layout.npmDir(npmVersion);
      if (await exists(npmCliPath(npmDir))) onProgress({ kind: "reuse", piece: "npm", version: npmVersion, dir: npmDir });
      else await installPieceFromTarball({ ...common, piece: "npm", name: "npm", version: npmVersion, dir: npmDir, mustHave: "bin/npm-cli.js" });
      await installOpenclawPrefix({
        version, dir: prefix, nodePath, npmCliPath: npmCliPath(npmDir), logsDir: layout.npmLogsDir, registry: opts.registry,
        spawn: opts.spawn, env: npmEnv(opts.env ?? {}, dirname(nodePath)), signal: opts.signal, onProgress, now: opts.now,
      });
    }

    // The gateway may run as its own user (GATEWAY_USER, issue 11): it must read and run these
    // pieces whatever umask the installer ran under. They are public software.
    await mkdir(layout.root, { recursive: true }).then(() => chmod(layout.root, 0o755));
    for (const dir of [nodeDir, prefix]) await openToOthers(dir);

    const record: CurrentRecord = {
      openclawVersion: version, nodeVersion, npmVersion, nodePath, entryPath,
      installedAt: new Date(opts.now()).toISOString(),
    };
    if (!activate) return { status: "installed", record, previous };
    await writeFileAtomic(layout.currentFile, `${JSON.stringify(record, null, 2)}\n`);
    onProgress({ kind: "switch", openclawVersion: version, previousVersion: previous?.openclawVersion });
    return { status: "installed", record, previous };
  } finally {
    await lock.release();
  }
}

/**
 * Give others read access to every entry under `dir`, and search/execute where the owner has it
 * (`chmod -R o+rX` without following symlinks). Only what needs it is changed.
 * @throws fs errors
 */
export async function openToOthers(dir: string): Promise<number> {
  let changed = 0;
  const fix = async (path: string, isDir: boolean) => {
    const st = await lstat(path);
    const want = st.mode & 0o7777 | 0o004 | (isDir || (st.mode & 0o100) !== 0 ? 0o001 : 0);
    if (want !== (st.mode & 0o7777)) {
      await chmod(path, want);
      changed += 1;
    }
  };
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isDirectory() || e.isFile()) await fix(join(e.parentPath, e.name), e.isDirectory());
  }
  await fix(dir, true);
  return changed;
}

/** Run `<node> --version`; the binary must run on this host and be the pinned version. */
async function checkNodeRuns(spawn: SpawnFn, nodePath: string, version: string, signal?: AbortSignal): Promise<void> {
  const res = await runChild(spawn, nodePath, ["--version"], { env: {}, signal }).catch((err: unknown) => {
    if (signal?.aborted) throw err;
    throw new RuntimeError(E.INSTALL_INCOMPLETE, `the downloaded Node does not run on this host: ${(err as Error).message}`, { cause: err });
  });
  if (res.exitCode !== 0 || res.stdout.trim() !== `v${version}`) {
    throw new RuntimeError(E.INSTALL_INCOMPLETE, `the downloaded Node reports "${res.stdout.trim()}" (exit ${res.exitCode}), expected v${version}`);
  }
}

/**
 * The npm child's environment: the caller's, with the managed Node first on PATH (npm may
 * spawn `node`), and without npm settings that would redirect the install (a daemon started
 * by `npm run` inherits `npm_config_*`; `--global` would install under lib/).
 */
export function npmEnv(env: NodeJS.ProcessEnv, nodeBinDir: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (!/^npm_config_(global|location|prefix)$/i.test(k)) out[k] = v;
  }
  out.PATH = [nodeBinDir, env.PATH ?? "/usr/local/bin:/usr/bin:/bin"].join(delimiter);
  return out;
}

/** Remove what a crashed installer left (we hold the lock, so nobody else is writing). */
async function sweepLeftovers(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (/\.partial-[0-9a-f]+$|^\.download-[0-9a-f]+\.tgz$|\.tmp-[0-9a-f]+$/.test(name)) {
      await rm(join(root, name), { recursive: true, force: true });
    }
  }
}
