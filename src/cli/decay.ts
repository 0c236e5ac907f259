/** `agent-supervisor decay [--dry-run]`: one memory-decay pass of the agent workspace now (workspace/). */
import type { Command } from "commander";
import { decayPolicyFrom } from "../config/schema.ts";
import { dataDirLayout } from "../core/data-dir.ts";
import { loadNativeSqliteBinding } from "../store/native.ts";
import { runDecayCommand } from "../workspace/decay-command.ts";
import { statSync } from "node:fs";
import { ConfigError } from "../core/errors.ts";
import { treeRemover } from "../supervisor/as-gateway.ts";
import { findSetpriv } from "../supervisor/gateway-user.ts";
import { cliAuditLog } from "./audit.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";

/** Register `decay`. */
export function registerDecay(program: Command, ctx: CliContext): void {
  program
    .command("decay")
    .description("run memory decay of the agent workspace now (roll-ups, archive, trash), journaled in SQLite")
    .option("--dry-run", "print the plan and change nothing")
    .option(...CONFIG_OPTION)
    .action(async (o: { dryRun?: boolean }) => {
      const { settings } = ctx.load();
      const files = dataDirLayout(settings.AGENT_SUPERVISOR_DATA_DIR);
      loadNativeSqliteBinding(settings.AGENT_SUPERVISOR_DATA_DIR); // the single executable's SQLite addon (no-op otherwise)
      // A workspace of another user (the gateway's, issue 11) is emptied of trash as that user:
      // root can switch to it; anyone else leaves the purge to the daemon, which runs it so.
      const owner = statSync(files.gateway.workspaceDir, { throwIfNoEntry: false });
      const setpriv = findSetpriv();
      const foreign = owner !== undefined && owner.uid !== ctx.host.uid;
      const removeTree = !foreign
        ? undefined
        : ctx.host.uid === 0 && setpriv
          ? treeRemover(ctx.host.spawn, () => ({ user: { name: `uid ${owner.uid}`, uid: owner.uid, gid: owner.gid }, setpriv }))
          : async (path: string) => {
              throw new ConfigError(`${path} belongs to uid ${owner.uid}: the daemon purges it as that user (or run decay as root)`);
            };
      await runDecayCommand({
        removeTree,
        workspaceDir: files.gateway.workspaceDir,
        dbPath: files.db,
        policy: decayPolicyFrom(settings),
        now: ctx.host.clock.now,
        dryRun: o.dryRun ?? false,
        writeOut: ctx.out,
        memoryBudgetChars: settings.MEMORY_BOOTSTRAP_MAX_CHARS,
        audit: cliAuditLog(ctx, settings),
      });
    });
}
