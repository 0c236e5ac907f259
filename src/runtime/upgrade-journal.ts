/**
 * The persisted progress of OpenClaw version changes (issue 14), in the data directory:
 *
 * ```
 * <dataDir>/upgrade/             0700, the daemon's only (snapshots hold transcripts and keys)
 *   state.json                   UpgradeState: the change in progress, the last outcome, failures,
 *                                a pending install retry
 *   desired-local.json           the version `agent-supervisor openclaw upgrade V` asked for
 *   snapshots/<version>-<ms>/    state-snapshot.ts: the gateway's state directory, copied whole
 * ```
 * Both JSON files are replaced atomically (fs-atomic.ts): after a kill -9 or a power cut a
 * reader sees the previous or the next content, never a mix. Only the daemon writes
 * `state.json`; only the CLI writes `desired-local.json`, so the two never race.
 */
import { join } from "node:path";
import { z } from "zod";
import { readJsonState, writeFileAtomic } from "../core/fs-atomic.ts";
import { type GatewayRuntime, resolveGatewayRuntime, type RuntimeSettings } from "./resolve.ts";
import { upgradeJournalSchema } from "./upgrade-plan.ts";

/** Paths of the upgrade tree under `dataDir`. Pure. */
export function upgradeLayout(dataDir: string) {
  const root = join(dataDir, "upgrade");
  return {
    root,
    stateFile: join(root, "state.json"),
    desiredLocalFile: join(root, "desired-local.json"),
    snapshotsDir: join(root, "snapshots"),
  };
}

/** Return type of {@link upgradeLayout}. */
export type UpgradeLayout = ReturnType<typeof upgradeLayout>;

/**
 * Schema of `state.json`. `active`: the change in progress (null when none). `lastFailed`: the
 * version whose last attempt failed and why (`reason` is the `upgrade failed: ...` text), not
 * retried while it stays the desired version. `lastDone`: the last change that passed its gate.
 * Times are epoch ms. Unknown fields are ignored (a newer daemon may add some).
 */
export const upgradeStateSchema = z.object({
  active: upgradeJournalSchema.nullable().default(null),
  lastFailed: z.object({ version: z.string(), reason: z.string(), at: z.number() }).nullable().default(null),
  lastDone: z.object({ from: z.string(), to: z.string(), at: z.number() }).nullable().default(null),
  /** Attempts at `version` that a daemon restart interrupted (onRestart's retry limit). */
  interrupted: z.object({ version: z.string(), count: z.number().int().nonnegative() }).nullable().default(null),
  /**
   * The version the last switch (or switch back) made current: the gateway may run it even when
   * OPENCLAW_VERSION names another (resolve.ts, `acceptVersions`).
   */
  switchedTo: z.string().nullable().default(null),
  /**
   * A version whose install failed transiently (install-retry.ts): `attempts` so far, `nextAt`
   * (epoch ms) before which it is not tried again, the last `reason`. Kept here so a daemon
   * restart does not reset the backoff; cleared when the version installs, fails for good, or is
   * no longer the desired one.
   */
  installRetry: z.object({ version: z.string(), attempts: z.number().int().positive(), nextAt: z.number(), reason: z.string() }).nullable().default(null),
});

/** The content of `state.json` (see {@link upgradeStateSchema}). */
export type UpgradeState = z.infer<typeof upgradeStateSchema>;

/** A state with nothing recorded. */
export const EMPTY_UPGRADE_STATE: UpgradeState = { active: null, lastFailed: null, lastDone: null, interrupted: null, switchedTo: null, installRetry: null };

/**
 * Read `state.json`.
 * @returns {@link EMPTY_UPGRADE_STATE} when it does not exist
 * @throws StateFileError when it is not JSON or not a valid state (the daemon refuses to guess
 *   what a damaged journal meant; the message names the file); other fs errors
 */
export async function readUpgradeState(layout: UpgradeLayout): Promise<UpgradeState> {
  return (await readJsonState(layout.stateFile, upgradeStateSchema)) ?? { ...EMPTY_UPGRADE_STATE };
}

/**
 * Replace `state.json` atomically (0600).
 * @throws fs errors (ENOSPC); the previous content stays
 */
export async function writeUpgradeState(layout: UpgradeLayout, state: UpgradeState): Promise<void> {
  await writeFileAtomic(layout.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** Schema of `desired-local.json`: the version asked for with `openclaw upgrade V`, when (epoch ms). */
export const desiredLocalSchema = z.object({ version: z.string().min(1), at: z.number() });

/** The content of `desired-local.json`. */
export type DesiredLocal = z.infer<typeof desiredLocalSchema>;

/**
 * Read `desired-local.json`; undefined when absent.
 * @throws StateFileError when damaged
 */
export async function readDesiredLocal(layout: UpgradeLayout): Promise<DesiredLocal | undefined> {
  return readJsonState(layout.desiredLocalFile, desiredLocalSchema);
}

/**
 * Write `desired-local.json` atomically (0600).
 * @throws fs errors
 */
export async function writeDesiredLocal(layout: UpgradeLayout, d: DesiredLocal): Promise<void> {
  await writeFileAtomic(layout.desiredLocalFile, `${JSON.stringify(d)}\n`);
}

/**
 * The OpenClaw versions the gateway may be started with besides OPENCLAW_VERSION: the one the
 * last switch made current, and both ends of a change in progress. Pure.
 */
export function acceptedVersions(state: UpgradeState): string[] {
  const out = [state.switchedTo, state.active?.from, state.active?.to];
  return [...new Set(out.filter((v): v is string => typeof v === "string"))];
}

/**
 * {@link resolveGatewayRuntime} accepting, besides OPENCLAW_VERSION, the versions a version change
 * made current ({@link acceptedVersions}); an unreadable journal accepts none of them.
 * @throws as resolveGatewayRuntime
 */
export async function resolveRuntimeAfterChanges(s: RuntimeSettings): Promise<GatewayRuntime> {
  const state = await readUpgradeState(upgradeLayout(s.dataDir)).catch(() => EMPTY_UPGRADE_STATE);
  return resolveGatewayRuntime({ ...s, acceptVersions: acceptedVersions(state) });
}
