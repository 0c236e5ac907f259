/**
 * A /tmp/openclaw-* flood while the gateway runs: thousands of stale scratch files. The periodic
 * stale sweep must remove them without touching fresh files or the gateway's state locks; the
 * sweep before the next start removes the rest.
 */
import { mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { until } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, logRecords, ms, submit } from "./observe.ts";
import { standInCase, standInSpawned } from "./runner.ts";
import { standInRecords } from "./stand-in.ts";

const DIRS = 50;
const FILES_PER_DIR = 100;
const STALE = DIRS * FILES_PER_DIR;
const FRESH = 20;
const TOP_LEVEL = 100;
const SWEEP_MS = 1000;
const STALE_MS = 60_000;

/** Count regular entries in each of `dirs` (0 for a missing one). */
function countFiles(dirs: string[]): number {
  let n = 0;
  for (const d of dirs) {
    try {
      n += readdirSync(d).length;
    } catch {
      // swept away whole
    }
  }
  return n;
}

/** Top-level `openclaw-flood-*` entries left in `tmp`. */
function topLevel(tmp: string): number {
  return readdirSync(tmp).filter((n) => n.startsWith("openclaw-flood-")).length;
}

export const tmpFlood = standInCase({
  id: "tmp-flood",
  fault: "/tmp/openclaw-* flood",
  how:
    `While a (stand-in) gateway runs, ${STALE} files with a 2-hour-old mtime are written into ${DIRS} folders under TMP_DIR/openclaw-<uid>/, ` +
    `with ${FRESH} fresh files and an openclaw-state-locks/ folder beside them, plus ${TOP_LEVEL} stale top-level openclaw-flood-* files (written aside, then renamed into place at once). ` +
    `TMP_SWEEP_INTERVAL_MS=${SWEEP_MS}, TMP_STALE_MS=${STALE_MS}. Detected at the first stale file removed; then the stand-in is SIGKILLed to watch the pre-start sweep.`,
  behaviour: {},
  settings: { GATEWAY_STARTUP_TIMEOUT_MS: "600000", TMP_SWEEP_INTERVAL_MS: String(SWEEP_MS), TMP_STALE_MS: String(STALE_MS) },
  async measure(s, ctx) {
    const uid = process.getuid?.() ?? 0;
    const tmp = join(s.dir, "tmp");
    // After the first spawn, so the pre-start sweep has run and only the periodic one can act.
    const spawned = await standInSpawned(s.site);
    const turns = [await submit(s.site, "tmp-flood", "tmp")];
    // Written in a staging folder the sweeps do not own, then renamed into place at once, so the
    // injection is one instant however long writing 5000 files takes.
    const staging = join(tmp, "flood-staging");
    const names = { root: `openclaw-${uid}`, locks: `openclaw-state-locks-${uid}` };
    const old = (Date.now() - 2 * 3_600_000) / 1000;
    for (let d = 0; d < DIRS; d++) {
      const dir = join(staging, names.root, `session-${d}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < FILES_PER_DIR; f++) {
        const p = join(dir, `chunk-${f}.tmp`);
        writeFileSync(p, "x".repeat(512));
        utimesSync(p, old, old);
      }
      utimesSync(dir, old, old);
    }
    mkdirSync(join(staging, names.root, "fresh"), { recursive: true });
    for (let f = 0; f < FRESH; f++) writeFileSync(join(staging, names.root, "fresh", `live-${f}.tmp`), "in use");
    mkdirSync(join(staging, names.locks), { recursive: true });
    writeFileSync(join(staging, names.locks, "gateway.lock"), "lock");
    utimesSync(join(staging, names.locks, "gateway.lock"), old, old);
    for (let i = 0; i < TOP_LEVEL; i++) {
      const p = join(staging, `openclaw-flood-${i}`);
      writeFileSync(p, "y");
      utimesSync(p, old, old);
    }
    const injectAt = Date.now();
    for (const name of readdirSync(staging)) renameSync(join(staging, name), join(tmp, name));
    ctx.log(`flood in place ${Date.now() - injectAt} ms after the first rename (${injectAt - spawned.at} ms after the spawn)`);
    const root = join(tmp, names.root);
    const locks = join(tmp, names.locks);
    const staleDirs = Array.from({ length: DIRS }, (_, d) => join(root, `session-${d}`));

    let firstRemovalAt: number | null = null;
    let sweptAt: number | null = null;
    await until("the stale files to be swept", () => {
      const left = countFiles(staleDirs);
      if (left < STALE && firstRemovalAt === null) firstRemovalAt = Date.now();
      if (left === 0) sweptAt = Date.now();
      return left === 0;
    }, 30_000, 20).catch(() => undefined);
    const freshLeft = countFiles([join(root, "fresh")]);
    const locksLeft = countFiles([locks]);
    const topLeft = topLevel(tmp);
    const staleLeft = countFiles(staleDirs);
    const dirsLeft = readdirSync(root).filter((n) => n.startsWith("session-")).length;

    // The sweep before the next start removes the rest (nothing is running then).
    const killAt = Date.now();
    try {
      process.kill(spawned.pid!, "SIGKILL");
    } catch (err) {
      const seen = eventsSince(s.site, spawned.at).map(describeEvent).join(", ");
      const starts = standInRecords(s.dir, "starts.log").map((r) => r.text).join(", ");
      throw new Error(`the stand-in spawned as pid ${spawned.pid} was gone before the kill (${(err as Error).message}); gateway events since: ${seen}; stand-in starts: ${starts}`);
    }
    let topGoneAt: number | null = null;
    await until("the pre-start sweep", () => topLevel(tmp) === 0 && (topGoneAt = Date.now()), 30_000, 20).catch(() => undefined);

    const sweeps = logRecords(s.daemon.logs).filter((r) => r.msg.includes("swept stale gateway scratch files"));
    const removed = sweeps.reduce((n, r) => n + Number(r.fields.removedFiles ?? 0), 0);
    return {
      injectAt,
      detectedAt: firstRemovalAt,
      queued: turns,
      notes: [
        firstRemovalAt === null ? "nothing was swept within 30 s" : `first stale file gone after ${ms(firstRemovalAt - injectAt)} ms`,
        sweptAt === null ? `${staleLeft} of ${STALE} stale files left after 30 s` : `all ${STALE} gone after ${ms(sweptAt - injectAt)} ms`,
        `daemon logged ${sweeps.length} stale sweep(s) removing ${removed} files; ${dirsLeft} of ${DIRS} emptied stale folders left`,
        `kept while running: ${freshLeft}/${FRESH} fresh files, ${locksLeft}/1 state lock, ${topLeft}/${TOP_LEVEL} top-level files (top-level entries are left to the pre-start sweep)`,
        topGoneAt === null ? "top-level files NOT removed after a gateway SIGKILL + restart" : `top-level files removed by the pre-start sweep ${ms(topGoneAt - killAt)} ms after a gateway SIGKILL`,
        "serving: n/a (the sweep runs beside a running gateway; no restart)",
      ],
    };
  },
});
