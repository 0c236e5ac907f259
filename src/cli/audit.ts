/**
 * The audit trail of a CLI command run by hand (actor `operator`): entries written straight to
 * the daemon's SQLite file, so they are kept while the daemon is down (store/audit-log.ts).
 */
import { statSync } from "node:fs";
import type { Settings } from "../config/schema.ts";
import type { AuditLog } from "../core/audit.ts";
import { dataDirLayout } from "../core/data-dir.ts";
import { openDirectAuditLog } from "../store/audit-log.ts";
import { loadNativeSqliteBinding } from "../store/native.ts";
import type { CliContext } from "./context.ts";

/**
 * The command's audit log. Run as root, the files are given back to the data directory's owner
 * after each write (the daemon runs as its own user).
 */
export function cliAuditLog(ctx: Pick<CliContext, "host" | "err">, settings: Pick<Settings, "AGENT_SUPERVISOR_DATA_DIR">): AuditLog {
  const dir = settings.AGENT_SUPERVISOR_DATA_DIR;
  const owner = ctx.host.uid === 0 ? statSync(dir, { throwIfNoEntry: false }) : undefined;
  return openDirectAuditLog({
    dbPath: dataDirLayout(dir).db,
    now: ctx.host.clock.now,
    writeErr: ctx.err,
    // Only into a data directory that exists: the record is skipped (and said so) otherwise.
    nativeBinding: statSync(dir, { throwIfNoEntry: false }) ? loadNativeSqliteBinding(dir) : undefined,
    chownTo: owner && owner.uid !== 0 ? { uid: owner.uid, gid: owner.gid } : undefined,
  });
}
