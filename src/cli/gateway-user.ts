/**
 * `agent-supervisor gateway-user hand-over`: give the gateway's tree to the gateway's own user, as
 * root (issue 11; supervisor/shared-tree.ts `handOverTree`). install.sh runs it on every install,
 * so an install from before issue 11 moves over in place, every conversation kept.
 */
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { dataDirLayout, gatewayTreeDirs } from "../core/data-dir.ts";
import { ConfigError, UnavailableError } from "../core/errors.ts";
import { findUser } from "../supervisor/gateway-user.ts";
import { handOverTree, letOthersPass } from "../supervisor/shared-tree.ts";
import type { CliContext } from "./context.ts";

/** The gateway's user install.sh creates (and the shipped unit's GATEWAY_USER). */
export const DEFAULT_GATEWAY_USER = "agent-supervisor-gw";

/** Register `gateway-user`. */
export function registerGatewayUser(program: Command, ctx: CliContext): void {
  const cmd = program.command("gateway-user").description("the gateway's own system user (docs/agent-boundary.md)");
  cmd
    .command("hand-over")
    .description("as root: give the gateway's tree (<data>/gateway) to the gateway's user, shared with the daemon through its group (2770); nothing is moved")
    .option("--user <name>", `the gateway's user (default: GATEWAY_USER, else ${DEFAULT_GATEWAY_USER})`)
    .option("--passwd <file>", "the user database to look the user up in (a scratch root's etc/passwd)", "/etc/passwd")
    .option("--data-dir <dir>", "the data directory (default: AGENT_SUPERVISOR_DATA_DIR, else /var/lib/agent-supervisor)")
    .action(async (o: { user?: string; passwd: string; dataDir?: string }) => {
      // No settings are read: the env file may name files of the live host (a scratch root's install).
      if (ctx.host.uid !== 0) throw new UnavailableError("ERR_NOT_ROOT", "gateway-user hand-over changes owners: run it as root (install.sh does)");
      const env = ctx.host.env;
      const dataDir = resolve(o.dataDir ?? env.AGENT_SUPERVISOR_DATA_DIR ?? "/var/lib/agent-supervisor");
      const name = o.user ?? env.GATEWAY_USER ?? DEFAULT_GATEWAY_USER;
      const user = findUser(readFileSync(o.passwd, "utf8"), name);
      if (!user) throw new ConfigError(`no user ${name} in ${o.passwd} (install.sh creates ${DEFAULT_GATEWAY_USER})`);
      if (user.uid === 0 || user.gid === 0) throw new ConfigError(`${name} is root or in group root: the gateway never runs so`);
      const files = dataDirLayout(dataDir);
      // The daemon's user owns the data directory; the tree's entries it made are handed over.
      const r = await handOverTree(gatewayTreeDirs(files.gateway), user, (await stat(dataDir)).uid);
      // 0711 for the data directory, whoever owns it: the gateway's user passes through to its tree.
      await letOthersPass(dataDir, (await stat(dataDir)).uid);
      ctx.out(r.already
        ? `${files.gateway.root} already belongs to ${name}`
        : `handed ${files.gateway.root} over to ${name} (uid ${user.uid}): ${r.changed} entries changed${r.skipped.length > 0 ? `, ${r.skipped.length} skipped: ${r.skipped.slice(0, 5).map((x) => `${x.path} (${x.reason})`).join(", ")}` : ""}`);
    });
}
