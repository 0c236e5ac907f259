/**
 * Progress events of `openclaw install` and their human rendering.
 *
 * The installer reports through an `onProgress(event)` callback; the CLI prints
 * {@link formatProgress} lines to stderr. Everything here is pure.
 */

/** Which piece of the runtime an event is about. */
export type RuntimePiece = "node" | "npm" | "openclaw";

/** An npm run: `install` openclaw without scripts, then `rebuild` openclaw to run its own. */
export type NpmStep = "install" | "rebuild";

/**
 * One progress event. Sizes are bytes, durations milliseconds.
 * - `resolve`: asking the registry for `name@version` metadata.
 * - `download-start` / `download-progress` / `download-done`: a tarball transfer;
 *   `totalBytes` is the Content-Length, undefined when the server sent none.
 *   Progress is throttled (see {@link shouldReportDownload}).
 * - `extract`: the tarball passed its integrity check and is being unpacked into `dir`.
 * - `reuse`: the piece is already installed in `dir`; nothing is fetched.
 * - `npm-start` / `npm-output` / `npm-end`: an npm child (`install` openclaw@version, then
 *   `rebuild` to run openclaw's own install scripts); one `npm-output` per non-empty line it
 *   writes; `exitCode` null means killed by a signal.
 * - `switch`: `current.json` now names `openclawVersion`.
 */
export type ProgressEvent =
  | { kind: "resolve"; piece: RuntimePiece; name: string; version: string }
  | { kind: "download-start"; piece: RuntimePiece; name: string; version: string; totalBytes: number | undefined }
  | {
      kind: "download-progress";
      piece: RuntimePiece;
      name: string;
      version: string;
      receivedBytes: number;
      totalBytes: number | undefined;
    }
  | { kind: "download-done"; piece: RuntimePiece; name: string; version: string; bytes: number; durationMs: number }
  | { kind: "extract"; piece: RuntimePiece; name: string; version: string; dir: string }
  | { kind: "reuse"; piece: RuntimePiece; version: string; dir: string }
  | { kind: "npm-start"; step: NpmStep; version: string; prefix: string }
  | { kind: "npm-output"; line: string }
  | { kind: "npm-end"; step: NpmStep; version: string; exitCode: number | null; durationMs: number }
  | { kind: "switch"; openclawVersion: string; previousVersion: string | undefined };

/** Callback receiving progress events; it must not throw (exceptions abort the install). */
export type OnProgress = (event: ProgressEvent) => void;

const MIB = 1024 * 1024;

/** Bytes as a short human string: `512 B`, `12.3 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${(bytes / (1024 * MIB)).toFixed(2)} GiB`;
}

/** Milliseconds as `850 ms` or `12.3 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Whether a download has advanced enough since the last reported size to report again:
 * every 10 % of a known total, every 8 MiB of an unknown one.
 * @param lastReported bytes received at the last report (0 before any)
 * @param received bytes received now
 * @param total Content-Length in bytes, or undefined
 */
export function shouldReportDownload(lastReported: number, received: number, total: number | undefined): boolean {
  if (total !== undefined && total > 0) {
    return Math.floor((received * 10) / total) > Math.floor((lastReported * 10) / total);
  }
  return Math.floor(received / (8 * MIB)) > Math.floor(lastReported / (8 * MIB));
}

/** One human line for an event, without a trailing newline. */
export function formatProgress(event: ProgressEvent): string {
  switch (event.kind) {
    case "resolve":
      return `${event.piece}: resolving ${event.name}@${event.version}`;
    case "download-start":
      return `${event.piece}: downloading ${event.name}@${event.version}` +
        (event.totalBytes === undefined ? "" : ` (${formatBytes(event.totalBytes)})`);
    case "download-progress": {
      const got = formatBytes(event.receivedBytes);
      if (event.totalBytes === undefined || event.totalBytes <= 0) return `${event.piece}: ${got}`;
      const pct = Math.min(100, Math.floor((event.receivedBytes * 100) / event.totalBytes));
      return `${event.piece}: ${pct}% (${got} of ${formatBytes(event.totalBytes)})`;
    }
    case "download-done":
      return `${event.piece}: downloaded ${formatBytes(event.bytes)} in ${formatDuration(event.durationMs)}`;
    case "extract":
      return `${event.piece}: integrity ok, unpacking into ${event.dir}`;
    case "reuse":
      return `${event.piece}: ${event.version} already present in ${event.dir}`;
    case "npm-start":
      return event.step === "install"
        ? `openclaw: npm install openclaw@${event.version} into ${event.prefix} (takes 1-2 minutes)`
        : `openclaw: npm rebuild openclaw (runs openclaw's own install scripts)`;
    case "npm-output":
      return `openclaw: npm> ${event.line}`;
    case "npm-end":
      return event.exitCode === 0
        ? `openclaw: npm ${event.step} finished in ${formatDuration(event.durationMs)}`
        : `openclaw: npm ${event.step} failed (exit ${event.exitCode ?? "by signal"}) after ${formatDuration(event.durationMs)}`;
    case "switch":
      return event.previousVersion === undefined
        ? `openclaw: ${event.openclawVersion} is now the current runtime`
        : `openclaw: switched from ${event.previousVersion} to ${event.openclawVersion}`;
  }
}

/**
 * The CLI's last line for an install outcome (shape of `InstallResult` from install.ts,
 * declared structurally so this module stays pure). `configuredVersion` is OPENCLAW_VERSION:
 * the daemon refuses a managed runtime of another version, so a mismatch gets a warning.
 */
export function formatInstallResult(
  result: {
    status: "already-installed" | "installed";
    record: { openclawVersion: string; nodeVersion: string; npmVersion: string; entryPath: string };
    previous: { openclawVersion: string } | undefined;
  },
  configuredVersion: string,
): string {
  const r = result.record;
  const head = result.status === "already-installed"
    ? `openclaw ${r.openclawVersion} already installed (node ${r.nodeVersion}): ${r.entryPath}`
    : `openclaw ${r.openclawVersion} installed (node ${r.nodeVersion}, npm ${r.npmVersion}): ${r.entryPath}`;
  if (r.openclawVersion !== configuredVersion) {
    return `${head}\nwarning: OPENCLAW_VERSION is ${configuredVersion}; set OPENCLAW_VERSION=${r.openclawVersion} before restarting agent-supervisor, or it will refuse to start the gateway`;
  }
  const changed = result.status === "installed" && result.previous !== undefined && result.previous.openclawVersion !== r.openclawVersion;
  return changed ? `${head}\nrestart agent-supervisor to run it (was ${result.previous?.openclawVersion})` : head;
}
