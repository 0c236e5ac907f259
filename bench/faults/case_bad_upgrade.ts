/**
 * A bad OpenClaw upgrade (issue 14): the desired version's gateway exits at once with an error
 * line. The daemon must stop it, restore the state snapshot, switch back, start the old version
 * behind it, report `upgrade failed: ...` with the gateway's own line, keep every turn, and not
 * try the version again.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, runCommand } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, ms, submit, waitEvent } from "./observe.ts";
import { BOOT_MS, RealSession } from "./real-session.ts";
import { faultCase, recover } from "./runner.ts";

const CURRENT = "2026.9.6";
const BAD = "2026.9.99";
const BAD_LINE = `Error: stand-in openclaw ${BAD} cannot start: state schema 99 is not supported`;

/** A runtime directory of links to the real runtime, plus a stand-in openclaw-<BAD> whose entry exits 1. */
function runtimeWithBadVersion(dir: string, realRuntime: string): string {
  const rt = join(dir, "rt");
  mkdirSync(rt, { recursive: true });
  for (const piece of ["node-24.21.0", "npm-11.21.2", `openclaw-${CURRENT}`]) symlinkSync(join(realRuntime, piece), join(rt, piece));
  const bad = join(rt, `openclaw-${BAD}`, "node_modules", "openclaw");
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, "openclaw.mjs"), `console.error(${JSON.stringify(BAD_LINE)});\nprocess.exit(1);\n`);
  const through = join(dir, "data", "runtime"); // makeSite links data/runtime to rt
  writeFileSync(join(rt, "current.json"), JSON.stringify({
    openclawVersion: CURRENT, nodeVersion: "24.21.0", npmVersion: "11.21.2",
    nodePath: join(through, "node-24.21.0", "bin", "node"),
    entryPath: join(through, `openclaw-${CURRENT}`, "node_modules", "openclaw", "openclaw.mjs"),
    installedAt: new Date().toISOString(),
  }));
  return rt;
}

export const badUpgrade = faultCase({
  id: "bad-upgrade",
  fault: "Bad OpenClaw upgrade",
  fast: false,
  realGateway: true,
  how:
    `Real gateway ${CURRENT}, its own daemon; \`agent-supervisor openclaw upgrade ${BAD}\` where ${BAD} is a stand-in whose entry prints an error line and exits 1. ` +
    "A turn is submitted before and one during the change. Injected at the command; detected at the 'upgrade:rollback' event; " +
    "serving again when a fresh turn is done on the old version. UPGRADE_HEALTH_DEADLINE_MS=180000 (default).",
  async measure(ctx) {
    await ctx.real.release();
    const dir = ctx.real.dirFor("bad-upgrade");
    const rt = runtimeWithBadVersion(dir, ctx.real.runtimeDir);
    const s = await RealSession.boot(dir, rt, { controlPlane: false, settings: {}, log: ctx.log, warmUp: false });
    try {
      const site = s.site;
      const before = await submit(site, "badup-before", "badup-a");
      const injectAt = Date.now();
      const cli = await runCommand(CLI, ["--config", site.envFile, "openclaw", "upgrade", BAD], { env: { PATH: process.env.PATH ?? "" } });
      if (cli.status !== 0) throw new Error(`openclaw upgrade ${BAD} exited ${cli.status}: ${cli.stderr}`);
      const during = await submit(site, "badup-during", "badup-b");
      const rollback = await waitEvent(site, injectAt, "the rollback", (e) => e.state === "upgrade:rollback", BOOT_MS);
      const failed = await waitEvent(site, injectAt, "the failure record", (e) => e.state === "upgrade:failed", BOOT_MS);
      const { again, verdict } = await recover(site, "badup-fresh", [before, during]);
      const steps = eventsSince(site, injectAt).filter((e) => e.state.startsWith("upgrade:")).map((e) => e.state.slice("upgrade:".length));
      const reason = failed.reason ?? "";
      const health = (await (await fetch(`http://127.0.0.1:${site.httpPort}/health`)).json()) as { checks: Record<string, [{ observedValue?: unknown; status: string }]> };
      const version = health.checks["openclaw:version"]?.[0];
      return {
        injectAt,
        detectedAt: rollback.at,
        servingAt: again.doneAt,
        verdict,
        notes: [
          `steps ${steps.join(" → ")}; ${describeEvent(rollback).split("\n")[0]} ${ms(rollback.at - injectAt)} ms after the command`,
          `reason ${JSON.stringify(reason.split("\n")[0])}${reason.includes(BAD_LINE) ? ", with the gateway's own error line" : ", WITHOUT the gateway's error line"}`,
          `/health openclaw:version ${version?.status} current ${String(version?.observedValue)}`,
        ],
      };
    } finally {
      await s.stop();
    }
  },
});
