/**
 * The daemon SIGKILLed in the middle of a scheduled memory-decay pass. The next daemon must take
 * the journaled run over and finish it so that the workspace ends exactly as after an
 * uninterrupted pass: every daily note held once in a roll-up, none lost, none twice.
 */
import { createHash } from "node:crypto";
import { cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runDecay } from "../../src/workspace/decay-apply.ts";
import { DEFAULT_DECAY_POLICY } from "../../src/workspace/decay-plan.ts";
import { rollupNoteContent, rollupNoteNames } from "../../src/workspace/decay-rollup.ts";
import { openDb } from "../../src/store/db.ts";
import { getJson, startDaemon, until } from "../../test/e2e/harness.ts";
import { ms, withDb } from "./observe.ts";
import { faultCase, withStandIn } from "./runner.ts";
import { saveLogs } from "./stand-in.ts";

const DAYS = 150;
const NOTES_PER_DAY = 12;
/** Share of the journaled steps done when the daemon is killed. */
const KILL_AT = 0.3;
const DAY = 86_400_000;

/** `YYYY-MM-DD` of epoch ms (UTC, the policy's time zone). */
const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Write the daily notes; returns name → bytes. */
function writeNotes(memoryDir: string, nowMs: number): Map<string, Buffer> {
  mkdirSync(memoryDir, { recursive: true });
  const notes = new Map<string, Buffer>();
  for (let d = 10; d < 10 + DAYS; d++) {
    const day = isoDay(nowMs - d * DAY);
    for (let k = 0; k < NOTES_PER_DAY; k++) {
      const name = `${day}-note-${k}.md`;
      const bytes = Buffer.from(`# ${day} note ${k}\n\n- ${createHash("sha256").update(name).digest("hex")}\n- ünïcödé ${k}\n`);
      writeFileSync(join(memoryDir, name), bytes);
      notes.set(name, bytes);
    }
  }
  return notes;
}

/** path → content hash (or "dir") of everything under the decay folders of `ws`. */
function snapshot(ws: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(ws, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(ws, r));
      if (st.isDirectory()) {
        out.set(r, "dir");
        walk(r);
      } else out.set(r, createHash("sha256").update(readFileSync(join(ws, r))).digest("hex"));
    }
  };
  for (const top of ["memory", "memory-archive", ".trash"]) {
    try {
      lstatSync(join(ws, top));
    } catch {
      continue;
    }
    out.set(top, "dir");
    walk(top);
  }
  return out;
}

/** For each note: how many roll-ups hold its exact bytes (0 lost, more than 1 duplicated). */
function holdings(ws: string, notes: Map<string, Buffer>): { lost: number; duplicated: number } {
  const held = new Map<string, number>();
  for (const [path, kind] of snapshot(ws)) {
    if (kind === "dir" || !/\d{4}-W\d{2}\.md$/.test(path) || path.startsWith(".trash/")) continue;
    const buf = readFileSync(join(ws, path));
    for (const name of rollupNoteNames(buf)) {
      if (rollupNoteContent(buf, name)?.equals(notes.get(name) ?? Buffer.alloc(0))) held.set(name, (held.get(name) ?? 0) + 1);
      else held.set(name, (held.get(name) ?? 0) + 100); // held with other bytes: count as a defect
    }
  }
  let lost = 0;
  let duplicated = 0;
  for (const name of notes.keys()) {
    const n = held.get(name) ?? 0;
    if (n === 0) lost++;
    else if (n > 1) duplicated++;
  }
  return { lost, duplicated };
}

type RunState = { id: number; state: string; plan_now_ms: number; owner_pid: number; total: number; finished: number };

function decayRun(site: Parameters<typeof withDb>[0]): RunState | undefined {
  return withDb(site, (db) =>
    db
      .prepare(
        `SELECT r.id, r.state, r.plan_now_ms, r.owner_pid, COUNT(s.idx) AS total, SUM(s.state != 'pending') AS finished
           FROM decay_runs r JOIN decay_steps s ON s.run_id = r.id GROUP BY r.id ORDER BY r.id DESC LIMIT 1`,
      )
      .get() as RunState | undefined,
  );
}

export const decayKill = faultCase({
  id: "decay-kill",
  fault: "Daemon SIGKILL mid-decay",
  fast: true,
  realGateway: false,
  how:
    `${DAYS * NOTES_PER_DAY} daily notes (${NOTES_PER_DAY} a day, 10-${10 + DAYS} days old) in the workspace; DECAY_SCHEDULE every second starts a pass; ` +
    `the daemon is SIGKILLed once ${KILL_AT * 100} % of the journaled steps are recorded and relaunched at once (schedule off, so only the resume runs). ` +
    `Detected at the first step the new daemon records; the workspace is compared with an uninterrupted pass over a copy (same plan time).`,
  async measure(ctx) {
    const nowMs = Date.now();
    const ws = join(ctx.workDir, "data", "gateway", "workspace");
    const notes = writeNotes(join(ws, "memory"), nowMs);
    const reference = join(ctx.workDir, "reference-workspace");
    cpSync(ws, reference, { recursive: true });
    const settings = { GATEWAY_STARTUP_TIMEOUT_MS: "600000", DECAY_ENABLED: "true", DECAY_SCHEDULE: "* * * * * *", DECAY_TIME_ZONE: "UTC" };
    return withStandIn(ctx.workDir, ctx.runtimeDir, {}, settings, async (s) => {
      const atKill = await until("the decay pass to be under way", () => {
        const r = decayRun(s.site);
        return r && r.state === "running" && r.total > 0 && r.finished >= r.total * KILL_AT ? r : undefined;
      }, 60_000, 5);
      const killAt = Date.now();
      s.daemon.proc.kill("SIGKILL");
      await s.daemon.exited;
      saveLogs(s.site, s.daemon.logs);
      const atDeath = decayRun(s.site)!;
      // As systemd would with Restart=always; the schedule is moved far away so only the resume runs.
      // The runner stops this daemon afterwards.
      s.daemon = startDaemon(s.site, { DECAY_SCHEDULE: "0 0 1 1 *" });
      const done = await until("the resumed run to finish", () => {
        const r = decayRun(s.site);
        return r && r.id === atDeath.id && r.state !== "running" ? r : undefined;
      }, 60_000, 20);
      const doneAt = withDb(s.site, (db) => (db.prepare("SELECT finished_at FROM decay_runs WHERE id = ?").get(done.id) as { finished_at: number }).finished_at);
      const firstResumed = withDb(s.site, (db) => (db.prepare("SELECT MIN(finished_at) AS t FROM decay_steps WHERE run_id = ? AND finished_at > ?").get(done.id, killAt) as { t: number | null }).t);
      const runs = withDb(s.site, (db) => (db.prepare("SELECT COUNT(*) AS n FROM decay_runs").get() as { n: number }).n);
      const livez = (await getJson(s.site, "/livez")).status;

      const refDb = openDb(join(ctx.workDir, "reference.db"));
      try {
        await runDecay({ workspaceDir: reference, db: refDb, now: () => done.plan_now_ms, policy: DEFAULT_DECAY_POLICY });
      } finally {
        refDb.close();
      }
      const got = snapshot(ws);
      const want = snapshot(reference);
      const differing = [...new Set([...got.keys(), ...want.keys()])].filter((k) => got.get(k) !== want.get(k));
      const h = holdings(ws, notes);
      return {
        injectAt: killAt,
        detectedAt: firstResumed,
        verdict: { ...h, problems: [] },
        notes: [
          `killed with ${atDeath.finished} of ${atDeath.total} steps recorded (${atKill.finished} when the kill was decided)`,
          firstResumed === null ? "NO step recorded after the kill" : `relaunched daemon recorded its first step ${ms(firstResumed - killAt)} ms after the kill`,
          `run ${done.id} ${done.state} ${ms(doneAt - killAt)} ms after the kill; ${runs} run(s) in the journal; /livez ${livez}`,
          differing.length === 0 ? `workspace identical to an uninterrupted pass (${got.size} entries)` : `${differing.length} entries DIFFER from an uninterrupted pass, e.g. ${differing.slice(0, 3).join(", ")}`,
          `each of ${notes.size} notes held in exactly one roll-up: ${h.lost === 0 && h.duplicated === 0 ? "yes" : "NO"}`,
          "serving: n/a (stand-in gateway; decay does not stop it)",
        ],
      };
    });
  },
});
