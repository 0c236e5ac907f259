/** `agent-supervisor status [--json]`: the daemon's health from its local API (exit 1 on fail). */
import type { Command } from "commander";
import { CONFIG_OPTION, type CliContext } from "./context.ts";
import { apiClientFor } from "./local-api.ts";
import { formatStatus } from "./status-format.ts";

/** Register `status`. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("summarise the daemon's health (from its local API)")
    .option("--json", "print the application/health+json document")
    .option(...CONFIG_OPTION)
    .action(async (o: { json?: boolean }) => {
      const { settings } = ctx.load();
      const doc = await apiClientFor(settings, "", ctx.host.fetch).health();
      ctx.out(o.json ? JSON.stringify(doc, null, 2) : formatStatus(doc));
      ctx.setExitCode(doc.status === "fail" ? 1 : 0);
    });
}
