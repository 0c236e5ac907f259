/**
 * The command table: one file per command in src/cli/ registers itself here. Adding a command:
 * a file exporting `register<Name>(program, ctx)` and one line below.
 */
import { Command } from "commander";
import { trustExtraCaCertificates } from "../config/extra-ca.ts";
import { loadSettings } from "../config/load.ts";
import type { Host } from "../daemon/host.ts";
import { registerConfig } from "./config.ts";
import type { CliContext } from "./context.ts";
import { registerDecay } from "./decay.ts";
import { registerDev } from "./dev.ts";
import { registerDoctor } from "./doctor.ts";
import { registerEvents } from "./events.ts";
import { registerGatewayFiles } from "./gateway-files.ts";
import { registerGatewayUser } from "./gateway-user.ts";
import { registerOpenclaw } from "./openclaw.ts";
import { registerRun } from "./run.ts";
import { registerStatus } from "./status.ts";
import { registerSweepTmp } from "./sweep-tmp.ts";
import { registerTurn } from "./turn.ts";

/**
 * Build the CLI.
 * @param io the output streams and the exit-code setter
 */
export function buildCli(host: Host, version: string, io: Pick<CliContext, "out" | "err" | "setExitCode">): Command {
  const program = new Command("agent-supervisor")
    .description("Keeps an OpenClaw gateway alive and delivers turns to it")
    .version(version, "-V, --version")
    .option("-c, --config <file>", "env file with settings (default /etc/agent-supervisor/agent-supervisor.env, optional)")
    .enablePositionalOptions()
    .exitOverride();
  // `--config` is accepted before and after the subcommand (`agent-supervisor run --config F`).
  let leafConfig: string | undefined;
  program.hook("preAction", (_root, leaf) => {
    leafConfig = leaf.opts().config;
  });
  const ctx: CliContext = {
    host,
    version,
    ...io,
    load: () => {
      const loaded = loadSettings(leafConfig ?? program.opts().config, host.env);
      // A private CA from the env file, for the https calls of every command (doctor, run, ...).
      trustExtraCaCertificates(loaded.settings.NODE_EXTRA_CA_CERTS, host.env);
      return loaded;
    },
  };
  registerRun(program, ctx);
  registerConfig(program, ctx);
  registerOpenclaw(program, ctx);
  registerDoctor(program, ctx);
  registerGatewayUser(program, ctx);
  registerDecay(program, ctx);
  registerTurn(program, ctx);
  registerStatus(program, ctx);
  registerEvents(program, ctx);
  registerDev(program, ctx);
  registerSweepTmp(program, ctx);
  registerGatewayFiles(program, ctx);
  return program;
}
