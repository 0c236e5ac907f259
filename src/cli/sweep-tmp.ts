/**
 * `agent-supervisor sweep-tmp` (hidden): one /tmp sweep of this user's gateway scratch files
 * (watchdogs/tmp-sweep.ts), its result printed as one JSON line. The daemon runs it as the
 * gateway's user (watchdogs/tmp-sweep-as.ts); it reads no settings and opens nothing else.
 */
import type { Command } from "commander";
import { ConfigError } from "../core/errors.ts";
import { sweepGatewayTmp, sweepStaleGatewayTmp } from "../watchdogs/tmp-sweep.ts";
import type { CliContext } from "./context.ts";

const nonNegative = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${name} must be a whole number >= 0, not "${v}"`);
  return n;
};

/** Register `sweep-tmp`. */
export function registerSweepTmp(program: Command, ctx: CliContext): void {
  program
    .command("sweep-tmp", { hidden: true })
    .description("sweep this user's openclaw* scratch files from a directory (run by the daemon as the gateway's user)")
    .requiredOption("--dir <dir>", "the directory to sweep (TMP_DIR)")
    .option("--stale-ms <ms>", "only files not modified for this long (the sweep while the gateway runs)", nonNegative("--stale-ms"))
    .option("--now-ms <ms>", "the current time, epoch ms (default: now)", nonNegative("--now-ms"))
    .action(async (o: { dir: string; staleMs?: number; nowMs?: number }) => {
      const { uid } = ctx.host;
      const r = o.staleMs === undefined
        ? await sweepGatewayTmp(o.dir, uid)
        : await sweepStaleGatewayTmp(o.dir, uid, { nowMs: o.nowMs ?? ctx.host.clock.now(), staleMs: o.staleMs });
      ctx.out(JSON.stringify(r));
    });
}
