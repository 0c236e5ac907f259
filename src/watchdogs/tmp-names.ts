/**
 * Which names the gateway scratch sweeps (tmp-sweep.ts) own, in each of the two directories they
 * cover, and which they never touch. Pure.
 *
 * - `tmp`: TMP_DIR (default /tmp). The gateway's temp roots are `/tmp/openclaw` and user-scoped
 *   `openclaw-<uid>` fallbacks; its plugin and model-catalog captures (`openclaw-plugin-build-*`,
 *   `openclaw-model-catalog-*`, `openclaw-plugin-captures-*`) are made there with mkdtemp. Every
 *   `openclaw` / `openclaw-*` entry is the sweep's. The lock directories are
 *   `openclaw-state-locks[-<uid>]` (openclaw 2026.9.6 state-database-coordinator-paths.ts).
 * - `state-tmp`: the gateway state directory's `tmp/` (`<data>/gateway/state/tmp`). It is part of
 *   the gateway's durable tree: on a 2026.9.6 gateway it holds the gateway lock directory
 *   `openclaw-<uid>` (`gateway.state.lock`, `gateway.<hash>.lock`; paths.ts
 *   `resolveGatewayLockDir`), `agent-cli/`, `node-workspace-transfer/` and `plugin-captures/`
 *   (leased by the gateway, which reclaims them itself). Only the leaked capture directories
 *   upstream itself calls reclaimable are the sweep's (plugin-source-capture-path.ts
 *   `isLegacyPluginSourceCaptureName`; upstream #155202, #153374, #153617, #155847, #153009).
 */

/** The directory a sweep covers: TMP_DIR, or the gateway state directory's `tmp/`. */
export type TmpRootKind = "tmp" | "state-tmp";

/**
 * Name prefixes of the plugin-build and model-catalog capture directories that leak by the
 * hundreds of GiB (upstream #155202: 355 GiB in 3 days), in TMP_DIR and in the state `tmp/`.
 */
export const LEAKED_CAPTURE_PREFIXES: readonly string[] = ["openclaw-plugin-build-", "openclaw-model-catalog-"];

/** Files of a capture root's lease (plugin-source-capture-directory.ts `LEASE_FILE`, an SQLite lock) and its sidecars. */
const LEASE_FILE = /^owner\.sqlite(-wal|-shm|-journal)?$/;

/** True for `openclaw` and `openclaw-*`: the names of every gateway entry in TMP_DIR. */
export function isGatewayTmpName(name: string): boolean {
  return name === "openclaw" || name.startsWith("openclaw-");
}

/** True for a leaked capture directory's name (`openclaw-plugin-build-*`, `openclaw-model-catalog-*`). */
export function isLeakedCaptureName(name: string): boolean {
  return LEAKED_CAPTURE_PREFIXES.some((p) => name.startsWith(p));
}

/** True for the running gateway's lock directories in TMP_DIR (`openclaw-state-locks`, `openclaw-state-locks-<uid>`). */
export function isStateLocksName(name: string): boolean {
  return name.startsWith("openclaw-state-locks");
}

/**
 * True for a top-level lock directory of root `kind`: never removed, never walked, by either
 * sweep (a lock removed under a gateway or an OpenClaw CLI of the same user would let a second
 * one in). In the state `tmp/` that is also the gateway lock directory `openclaw` /
 * `openclaw-<uid>` (paths.ts `resolveGatewayLockDir`).
 */
export function isLockDirName(kind: TmpRootKind, name: string): boolean {
  if (isStateLocksName(name)) return true;
  return kind === "state-tmp" && /^openclaw(-\d+)?$/.test(name);
}

/** True for the top-level names the sweeps of root `kind` own (lock directories aside: see {@link isLockDirName}). */
export function ownsTmpName(kind: TmpRootKind, name: string): boolean {
  return kind === "tmp" ? isGatewayTmpName(name) : isLeakedCaptureName(name);
}

/**
 * True for a top-level entry the stale sweep removes itself once it is empty and was stale: a
 * leaked capture directory (nothing reuses one). The gateway's temp roots (`openclaw`,
 * `openclaw-<uid>`) stay while it runs.
 */
export function removableWhenEmpty(name: string): boolean {
  return isLeakedCaptureName(name);
}

/** True for a capture root's lease file (`owner.sqlite` and its sidecars): held by a live gateway, never unlinked while it runs. */
export function isLeaseFileName(name: string): boolean {
  return LEASE_FILE.test(name);
}
