/**
 * Installs openclaw@V into its npm prefix `openclaw-<V>` with the managed Node and npm, in a
 * `.partial-<hex>` directory renamed into place only once complete.
 *
 * Two npm runs: `install --ignore-scripts` (no dependency runs an install script), then
 * `rebuild openclaw`, which runs openclaw's own preinstall/postinstall only (~1 s, offline in
 * practice). Without it openclaw.mjs finds `.openclaw-lifecycle-pending` and runs those scripts
 * at the first gateway launch, which fails ("package lifecycle is incomplete", exit 1) when the
 * daemon's user cannot write the package directory, e.g. after an install run as root.
 */
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { SpawnFn } from "../core/os-process.ts";
import { runChild } from "./child.ts";
import { NpmError, RUNTIME_ERROR_CODES as E, RuntimeError } from "./errors.ts";
import { fsyncDir, openclawEntryPath, randomSuffix } from "./layout.ts";
import { exists } from "./pieces.ts";
import type { OnProgress } from "./progress.ts";

/** Marker openclaw leaves while its own install scripts have not run (openclaw >= 2026.8). */
export const LIFECYCLE_PENDING_FILE = ".openclaw-lifecycle-pending";

/** What {@link installOpenclawPrefix} needs. Paths are absolute. */
export type NpmInstall = {
  version: string;
  /** Final npm prefix (`openclaw-<version>`). */
  dir: string;
  nodePath: string;
  npmCliPath: string;
  /** npm's `--logs-dir`, outside the partial directory so a failed run's log survives. */
  logsDir: string;
  registry: string;
  spawn: SpawnFn;
  /** The npm child's environment (see `npmEnv` in install.ts). */
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onProgress: OnProgress;
  /** Clock for durations (ms). */
  now: () => number;
};

/**
 * npm's error code from its output lines: the last `npm error code <CODE>` (npm 10+) or
 * `npm ERR! code <CODE>` (older) line. Pure.
 * @returns e.g. `E404`, `ETARGET`, `ECONNREFUSED`; undefined when there is none
 */
export function npmErrorCode(lines: readonly string[]): string | undefined {
  let code: string | undefined;
  for (const line of lines) {
    const m = /^npm (?:error|ERR!) code (\S+)\s*$/.exec(line.trim());
    if (m) code = m[1];
  }
  return code;
}

/** The npm command lines, for a prefix and its cache directory. Pure. */
export function npmArgs(
  step: "install" | "rebuild",
  p: { npmCliPath: string; version: string; registry: string; logsDir: string },
  prefix: string,
  cache: string,
): string[] {
  const common = ["--prefix", prefix, "--no-fund", "--no-audit", "--no-update-notifier", "--cache", cache, "--logs-dir", p.logsDir, "--registry", p.registry];
  return step === "install"
    ? [p.npmCliPath, "install", ...common, "--omit=dev", "--ignore-scripts", `openclaw@${p.version}`]
    : [p.npmCliPath, "rebuild", "openclaw", ...common, "--ignore-scripts=false", "--foreground-scripts"];
}

async function runNpm(p: NpmInstall, step: "install" | "rebuild", partial: string): Promise<void> {
  const args = npmArgs(step, p, partial, join(partial, ".npm-cache"));
  p.onProgress({ kind: "npm-start", step, version: p.version, prefix: p.dir });
  const started = p.now();
  const result = await runChild(p.spawn, p.nodePath, args, {
    env: p.env, cwd: partial, signal: p.signal,
    onLine: (line) => p.onProgress({ kind: "npm-output", line }),
  }).catch((err: unknown) => {
    if (p.signal?.aborted) throw err;
    throw new NpmError(`cannot run npm (${p.nodePath}): ${(err as Error).message}`, undefined, { cause: err });
  });
  p.onProgress({ kind: "npm-end", step, version: p.version, exitCode: result.exitCode, durationMs: p.now() - started });
  if (result.exitCode !== 0) {
    const how = result.exitCode === null ? `was killed by ${result.signal}` : `exited with ${result.exitCode}`;
    const what = step === "install" ? `npm install openclaw@${p.version}` : `npm rebuild openclaw (its install scripts)`;
    throw new NpmError(`${what} ${how}:\n  ${result.tail.slice(-15).join("\n  ")}`, npmErrorCode(result.tail));
  }
}

/**
 * Install openclaw@`version` into `dir`: npm install, check the entry point and its
 * package.json version, npm rebuild openclaw, drop the npm cache, rename into place.
 * @throws RuntimeError ERR_NPM_INSTALL (npm could not start or exited non-zero; the message
 *   carries npm's last lines), ERR_INSTALL_INCOMPLETE (no openclaw.mjs, wrong version, or the
 *   lifecycle marker still there)
 */
export async function installOpenclawPrefix(p: NpmInstall): Promise<void> {
  const partial = `${p.dir}.partial-${randomSuffix()}`;
  let placed = false;
  try {
    await mkdir(partial);
    await runNpm(p, "install", partial);
    const entry = openclawEntryPath(partial);
    if (!(await exists(entry))) {
      throw new RuntimeError(E.INSTALL_INCOMPLETE, `npm install openclaw@${p.version} succeeded but left no node_modules/openclaw/openclaw.mjs`);
    }
    const installed = await readFile(join(entry, "..", "package.json"), "utf8")
      .then((text) => (JSON.parse(text) as { version?: unknown }).version, () => undefined);
    if (installed !== p.version) {
      throw new RuntimeError(E.INSTALL_INCOMPLETE, `npm installed openclaw ${String(installed)}, not ${p.version}`);
    }
    const marker = join(entry, "..", LIFECYCLE_PENDING_FILE);
    if (await exists(marker)) {
      await runNpm(p, "rebuild", partial);
      if (await exists(marker)) {
        throw new RuntimeError(E.INSTALL_INCOMPLETE, `openclaw's install scripts ran but left ${LIFECYCLE_PENDING_FILE}`);
      }
    }
    await rm(join(partial, ".npm-cache"), { recursive: true, force: true });
    await rename(partial, p.dir);
    placed = true;
    await fsyncDir(join(p.dir, ".."));
  } finally {
    if (!placed) await rm(partial, { recursive: true, force: true });
  }
}
