/** `agent-supervisor openclaw install`: the managed Node + openclaw runtime (runtime/). */
import type { Command } from "commander";
import { runOpenclawInstall } from "../runtime/command.ts";
import { cliAuditLog } from "./audit.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";

/** Register `openclaw install`. */
export function registerOpenclaw(program: Command, ctx: CliContext): void {
  program
    .command("openclaw")
    .description("manage the OpenClaw runtime")
    .command("install")
    .description("install Node 24 and openclaw into the data directory from the npm registry")
    .option("--version <version>", "openclaw version (default OPENCLAW_VERSION)")
    .option(...CONFIG_OPTION)
    .action(async (o: { version?: string }) => {
      const { settings } = ctx.load();
      const { fetch, spawn, clock, env } = ctx.host;
      await runOpenclawInstall({ settings, version: o.version, fetch, spawn, now: clock.now, env, writeErr: ctx.err, audit: cliAuditLog(ctx, settings) });
    });
}
