/** `agent-supervisor openclaw install|upgrade`: the managed Node + openclaw runtime (runtime/). */
import type { Command } from "commander";
import { ConfigError } from "../core/errors.ts";
import { runOpenclawInstall } from "../runtime/command.ts";
import { cliAuditLog } from "./audit.ts";
import { readCurrent, runtimeLayout } from "../runtime/layout.ts";
import { listSnapshots } from "../runtime/state-snapshot.ts";
import { readUpgradeState, upgradeLayout, writeDesiredLocal } from "../runtime/upgrade-journal.ts";
import { planVersionChange } from "../runtime/upgrade-plan.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";

/** A version as OPENCLAW_VERSION accepts it (src/config/schema.ts). */
const VERSION = /^\d{4}\.\d{1,2}\.\d{1,3}(-[0-9A-Za-z.-]+)?$/;

/** Register `openclaw install` and `openclaw upgrade`. */
export function registerOpenclaw(program: Command, ctx: CliContext): void {
  const openclaw = program.command("openclaw").description("manage the OpenClaw runtime");
  openclaw
    .command("install")
    .description("install Node 24 and openclaw into the data directory from the npm registry")
    .option("--version <version>", "openclaw version (default OPENCLAW_VERSION)")
    .option(...CONFIG_OPTION)
    .action(async (o: { version?: string }) => {
      const { settings } = ctx.load();
      const { fetch, spawn, clock, env } = ctx.host;
      await runOpenclawInstall({ settings, version: o.version, fetch, spawn, now: clock.now, env, writeErr: ctx.err, audit: cliAuditLog(ctx, settings) });
    });
  openclaw
    .command("upgrade")
    .argument("<version>", "the OpenClaw version to run, newer or older (e.g. 2026.9.6)")
    .description(
      "ask the running daemon to change to this OpenClaw version: install beside, drain, stop, snapshot the state, switch, " +
        "start behind a health gate, and roll back on failure (a desired version from the control plane takes precedence)",
    )
    .option(...CONFIG_OPTION)
    .action(async (version: string) => {
      const { settings: s } = ctx.load();
      if (!VERSION.test(version)) throw new ConfigError(`invalid version "${version}": must look like 2026.9.6`);
      const dataDir = s.AGENT_SUPERVISOR_DATA_DIR;
      const layout = upgradeLayout(dataDir);
      const current = (await readCurrent(runtimeLayout(dataDir).currentFile))?.openclawVersion;
      const state = await readUpgradeState(layout);
      const decision = planVersionChange({ current, desired: version, lastFailed: undefined, snapshots: await listSnapshots(layout.snapshotsDir) });
      if (decision.kind === "refuse") throw new ConfigError(decision.reason);
      if (decision.kind === "none" && decision.why === "external") throw new ConfigError("OPENCLAW_NODE/OPENCLAW_ENTRY name an external runtime: the daemon does not change its version");
      if (decision.kind === "none" && decision.why === "current") {
        ctx.err(`openclaw ${version} is already the current runtime`);
      }
      await writeDesiredLocal(layout, { version, at: ctx.host.clock.now() });
      if (state.lastFailed?.version === version) {
        ctx.err(`note: the last change to ${version} failed and is not retried while it stays the desired version:\n${state.lastFailed.reason}`);
      }
      ctx.err(`desired OpenClaw version: ${version} (current ${current ?? "none"}); the running daemon applies it within seconds: see 'agent-supervisor status'`);
    });
}
