/** `agent-supervisor run`: the daemon (daemon/run.ts) until SIGTERM/SIGINT. */
import type { Command } from "commander";
import { runDaemon } from "../daemon/run.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";

/** How long a stopped daemon may take to exit on its own before it is ended (ms). */
export const EXIT_GRACE_MS = 2000;

/** Register `run`. */
export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command("run")
    .description("run the daemon: supervise the gateway, deliver turns, serve the local API")
    .option(...CONFIG_OPTION)
    .action(async () => {
      const code = await runDaemon(ctx.load(), ctx.host, ctx.version);
      ctx.setExitCode(code);
      // Everything is closed; do not let a stray handle keep a stopped daemon alive.
      setTimeout(() => ctx.host.exit(code), EXIT_GRACE_MS).unref();
    });
}
