/**
 * `agent-supervisor sweep-tmp` (hidden): one sweep of this user's gateway scratch files in TMP_DIR
 * and in the gateway state directory's `tmp/` (watchdogs/tmp-sweep.ts), its result printed as one
 * JSON line `{"tmp": <result>, "stateTmp": <result>}`. The daemon runs it as the gateway's user
 * (watchdogs/tmp-sweep-as.ts); it reads no settings and opens nothing else.
 */
import type { Command } from "commander";
import { ConfigError } from "../core/errors.ts";
import { sweepBoth } from "../watchdogs/tmp-sweep-as.ts";
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
    .description("sweep this user's openclaw* scratch files from TMP_DIR and the gateway state's tmp/ (run by the daemon as the gateway's user)")
    .requiredOption("--dir <dir>", "TMP_DIR: its openclaw and openclaw-* entries")
    .requiredOption("--state-tmp <dir>", "the gateway state directory's tmp/: its leaked openclaw-plugin-build-* and openclaw-model-catalog-* directories")
    .option("--stale-ms <ms>", "only files not modified for this long (the sweep while the gateway runs)", nonNegative("--stale-ms"))
    .option("--now-ms <ms>", "the current time, epoch ms (default: now)", nonNegative("--now-ms"))
    .action(async (o: { dir: string; stateTmp: string; staleMs?: number; nowMs?: number }) => {
      const { uid } = ctx.host;
      const r = o.staleMs === undefined
        ? await sweepBoth.full(o.dir, o.stateTmp, uid)
        : await sweepBoth.stale(o.dir, o.stateTmp, uid, o.nowMs ?? ctx.host.clock.now(), o.staleMs);
      ctx.out(JSON.stringify(r));
    });
}
