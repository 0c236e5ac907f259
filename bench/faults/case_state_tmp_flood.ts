/**
 * Leaked capture directories piling up in the gateway state's tmp/ (`<data>/gateway/state/tmp`;
 * upstream #155202: 355 GiB in 3 days): hundreds of stale `openclaw-plugin-build-*` and
 * `openclaw-model-catalog-*` directories beside the gateway's lock directory. The periodic sweep
 * must remove them whole while the gateway runs, sparing a fresh one and the locks; the sweep
 * before the next start removes the fresh one too, never the locks.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { until, type Site } from "../../test/e2e/harness.ts";
import { logRecords, ms, submit } from "./observe.ts";
import { standInCase, standInSpawned } from "./runner.ts";

const DIRS = 100;
const FILES_PER_DIR = 50;
const FILE_BYTES = 1024;
const SWEEP_MS = 1000;
const STALE_MS = 60_000;

/** Leaked capture directories left in `stateTmp`. */
function leaked(stateTmp: string): string[] {
  return readdirSync(stateTmp).filter((n) => n.startsWith("openclaw-plugin-build-") || n.startsWith("openclaw-model-catalog-"));
}

/** A counter's value from the daemon's /metrics, or null. */
async function counter(site: Site, name: string, labels: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").at(-1)) : null;
}

export const stateTmpFlood = standInCase({
  id: "state-tmp-flood",
  fault: "Leaked capture directories in the gateway state's tmp/",
  how:
    `While a (stand-in) gateway runs, ${DIRS} leaked directories (openclaw-plugin-build-* and openclaw-model-catalog-*, ${FILES_PER_DIR} files of ${FILE_BYTES} bytes each, ` +
    `2 hours old) appear at once in <data>/gateway/state/tmp/ (written aside, then renamed into place), beside the gateway lock directory openclaw-<uid>/ with an old lock file ` +
    `and one leaked directory still being written. TMP_SWEEP_INTERVAL_MS=${SWEEP_MS}, TMP_STALE_MS=${STALE_MS}. Detected at the first leaked directory removed; ` +
    "then the stand-in is SIGKILLed to watch the sweep before the next start.",
  behaviour: {},
  settings: { GATEWAY_STARTUP_TIMEOUT_MS: "600000", TMP_SWEEP_INTERVAL_MS: String(SWEEP_MS), TMP_STALE_MS: String(STALE_MS) },
  async measure(s, ctx) {
    const uid = process.getuid?.() ?? 0;
    const state = join(s.site.dataDir, "gateway", "state");
    const stateTmp = join(state, "tmp");
    // After the first spawn, so the sweep before the start has run and only the periodic one can act.
    const spawned = await standInSpawned(s.site);
    const turns = [await submit(s.site, "state-tmp-flood", "state-tmp")];
    mkdirSync(stateTmp, { recursive: true });
    const lockDir = join(stateTmp, `openclaw-${uid}`);
    mkdirSync(lockDir, { recursive: true });
    const old = (Date.now() - 2 * 3_600_000) / 1000;
    writeFileSync(join(lockDir, "gateway.state.lock"), "{}");
    utimesSync(join(lockDir, "gateway.state.lock"), old, old);
    const staging = join(state, "flood-staging");
    for (let d = 0; d < DIRS; d++) {
      const dir = join(staging, `${d % 2 === 0 ? "openclaw-plugin-build-" : "openclaw-model-catalog-"}${d}`);
      mkdirSync(join(dir, "dist"), { recursive: true });
      for (let f = 0; f < FILES_PER_DIR; f++) {
        const p = join(dir, "dist", `chunk-${f}.js`);
        writeFileSync(p, "x".repeat(FILE_BYTES));
        utimesSync(p, old, old);
      }
      utimesSync(join(dir, "dist"), old, old);
      utimesSync(dir, old, old);
    }
    mkdirSync(join(staging, "openclaw-plugin-build-fresh"));
    writeFileSync(join(staging, "openclaw-plugin-build-fresh", "in-use.js"), "in use");
    const injectAt = Date.now();
    for (const name of readdirSync(staging)) renameSync(join(staging, name), join(stateTmp, name));
    ctx.log(`state tmp flood in place ${Date.now() - injectAt} ms after the first rename (${injectAt - spawned.at} ms after the spawn)`);

    let firstRemovalAt: number | null = null;
    let sweptAt: number | null = null;
    await until("the leaked directories to be swept", () => {
      const left = leaked(stateTmp).length - 1; // the fresh one stays
      if (left < DIRS && firstRemovalAt === null) firstRemovalAt = Date.now();
      if (left === 0) sweptAt = Date.now();
      return left === 0;
    }, 30_000, 20).catch(() => undefined);
    const staleLeft = leaked(stateTmp).filter((n) => !n.endsWith("-fresh")).length;
    const freshKept = existsSync(join(stateTmp, "openclaw-plugin-build-fresh", "in-use.js"));
    const lockKept = existsSync(join(lockDir, "gateway.state.lock"));
    const bytes = await counter(s.site, "agent_supervisor_tmp_swept_bytes_total", 'root="state-tmp"');

    // The sweep before the next start removes the rest (nothing is running then), locks excepted.
    const killAt = Date.now();
    process.kill(spawned.pid!, "SIGKILL");
    let freshGoneAt: number | null = null;
    await until("the pre-start sweep", () => !existsSync(join(stateTmp, "openclaw-plugin-build-fresh")) && (freshGoneAt = Date.now()), 30_000, 20).catch(() => undefined);
    const lockKeptAfter = existsSync(join(lockDir, "gateway.state.lock"));

    const sweeps = logRecords(s.daemon.logs).filter((r) => r.msg.includes("swept stale gateway scratch files") && r.fields.root === "state-tmp");
    const dirsRemoved = sweeps.reduce((n, r) => n + Number(r.fields.removedDirs ?? 0), 0);
    return {
      injectAt,
      detectedAt: firstRemovalAt,
      queued: turns,
      notes: [
        firstRemovalAt === null ? "nothing was swept within 30 s" : `first leaked directory gone after ${ms(firstRemovalAt - injectAt)} ms`,
        sweptAt === null ? `${staleLeft} of ${DIRS} stale leaked directories left after 30 s` : `all ${DIRS} gone after ${ms(sweptAt - injectAt)} ms`,
        `daemon logged ${sweeps.length} state-tmp sweep(s) removing ${dirsRemoved} directories; /metrics agent_supervisor_tmp_swept_bytes_total{root="state-tmp"} ${bytes} (planted ${DIRS * FILES_PER_DIR * FILE_BYTES} bytes)`,
        `kept while running: fresh leaked directory ${freshKept ? "yes" : "NO"}, gateway lock ${lockKept ? "yes" : "NO"}`,
        freshGoneAt === null ? "fresh leaked directory NOT removed after a gateway SIGKILL + restart" : `fresh leaked directory removed by the pre-start sweep ${ms(freshGoneAt - killAt)} ms after a gateway SIGKILL`,
        `gateway lock kept through the restart: ${lockKeptAfter ? "yes" : "NO"}`,
        "serving: n/a (the sweep runs beside a running gateway; no restart)",
      ],
    };
  },
});
