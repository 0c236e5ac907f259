/**
 * The audit trail of a CLI command run by hand (actor `operator`): entries written straight to
 * the daemon's SQLite file, so they are kept while the daemon is down (store/audit-log.ts).
 */
import { statSync } from "node:fs";
import { settingsSecretValues, type Settings } from "../config/schema.ts";
import type { AuditLog } from "../core/audit.ts";
import { dataDirLayout } from "../core/data-dir.ts";
import { chownDbFiles, openDirectAuditLog } from "../store/audit-log.ts";
import { loadNativeSqliteBinding } from "../store/native.ts";
import type { CliContext } from "./context.ts";

/**
 * Run as root: the owner to give the database files back to (the data directory's), if not root.
 */
export function dataDirOwner(ctx: Pick<CliContext, "host">, dir: string): { uid: number; gid: number } | undefined {
  const owner = ctx.host.uid === 0 ? statSync(dir, { throwIfNoEntry: false }) : undefined;
  return owner && owner.uid !== 0 ? { uid: owner.uid, gid: owner.gid } : undefined;
}

/** After a command run as root opened the database: give its files back to the data directory's owner. */
export function giveBackDbFiles(ctx: Pick<CliContext, "host">, dir: string): void {
  const to = dataDirOwner(ctx, dir);
  if (to) chownDbFiles(dataDirLayout(dir).db, to);
}

/**
 * The command's audit log. Run as root, the files are given back to the data directory's owner
 * after each write (the daemon runs as its own user).
 */
export function cliAuditLog(
  ctx: Pick<CliContext, "host" | "err">,
  settings: Pick<Settings, "AGENT_SUPERVISOR_DATA_DIR"> & Partial<Pick<Settings, "MOONSHOT_API_KEY" | "OPENAI_API_KEY" | "OPENAI_COMPAT_API_KEY" | "CONTROL_PLANE_TOKEN">>,
): AuditLog {
  const dir = settings.AGENT_SUPERVISOR_DATA_DIR;
  return openDirectAuditLog({
    dbPath: dataDirLayout(dir).db,
    now: ctx.host.clock.now,
    writeErr: ctx.err,
    // Only into a data directory that exists: the record is skipped (and said so) otherwise.
    nativeBinding: statSync(dir, { throwIfNoEntry: false }) ? loadNativeSqliteBinding(dir) : undefined,
    chownTo: dataDirOwner(ctx, dir),
    secrets: settingsSecretValues(settings),
  });
}
