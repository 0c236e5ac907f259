/**
 * The model stops answering the end-to-end probe turn (issue 12, failure mode 7), in the real
 * gateway: the gateway and its RPCs stay healthy, user turns are still answered, but the probe's
 * message gets no reply (the mock model holds it). Three misses must restart the gateway (cause
 * `probe`) once; a user turn in flight across the restart and one submitted during the misses must
 * each complete exactly once; probes must pass again once the model answers.
 *
 * Its own daemon (the probe turn is off in the shared session: its model calls would count in
 * every other case).
 */
import { PROBE_SESSION_KEY } from "../../src/watchdogs/probe-turn.ts";
import { until } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, healthCheck, maybeEvent, ms, readTranscript, submit, withDb } from "./observe.ts";
import { RealSession } from "./real-session.ts";
import { faultCase, recover } from "./runner.ts";

const PROBE = "ping: reply with pong";
const SETTINGS = {
  PROBE_TURN_INTERVAL_MS: "2000",
  // Well above the first turn of a fresh gateway (3.5-7.7 s, more while a user turn loads it too).
  PROBE_TURN_TIMEOUT_MS: "15000",
  PROBE_TURN_MISSES: "3",
  PROBE_TURN_PRUNE_EVERY: "5",
  PROBE_TURN_MESSAGE: PROBE,
} as const;

async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

export const probeTurnMisses = faultCase({
  id: "probe-turn-misses",
  fault: "Probe turn gets no reply (model holds it)",
  fast: false,
  realGateway: true,
  how:
    `Real gateway, its own daemon with ${Object.entries(SETTINGS).filter(([k]) => k !== "PROBE_TURN_MESSAGE").map(([k, v]) => `${k}=${v}`).join(", ")}. ` +
    "Injected, after two passed probes, by the mock model holding every request whose prompt is the probe's message (`stall`); user turns are still answered. " +
    "A turn is submitted at the injection, another (`delay=25000`) after the second miss so that it is in flight at the restart (one interval and one timeout later). " +
    "Detected at the first miss (/health `gateway:probe-turn` warn); repaired at the restart ('stopping' \"restart requested (probe)\"); the model answers the probe again right after it.",
  async measure(ctx) {
    await ctx.real.release();
    const s = await RealSession.boot(ctx.real.dirFor("probe-turn"), ctx.real.runtimeDir, { controlPlane: false, settings: { ...SETTINGS }, log: ctx.log });
    try {
      const site = s.site;
      const m = (series: string) => metric(site.httpPort, series);
      await until("two passed probes", async () => (await m('agent_supervisor_probe_turns_total{result="pass"}')) >= 2, 120_000, 250);
      const passedBefore = await m('agent_supervisor_probe_turns_total{result="pass"}');
      const probeCallsBefore = s.model.requests.filter((r) => r.prompt.includes(PROBE)).length;

      const injectAt = Date.now();
      s.model.stall(PROBE);
      const during = await submit(site, "probe-during", "probe-a");
      const firstMiss = await until("the first miss in /health", async () => {
        const c = await healthCheck(site, "gateway:probe-turn");
        return c?.status === "warn" ? { at: Date.now(), output: c.output } : undefined;
      }, 60_000, 100);
      await until("the second miss", async () => (await m('agent_supervisor_probe_turns_total{result="miss"}')) >= 2, 60_000, 100);
      const inflight = await submit(site, "probe-inflight", "probe-b", " delay=25000");
      const restart = await maybeEvent(site, injectAt, (e) => e.reason === "restart requested (probe)", 60_000);
      s.model.stall(null);
      const missesAtRestart = await m('agent_supervisor_probe_turns_total{result="miss"}');
      const callsToRestart = s.model.requests.filter((r) => r.prompt.includes(PROBE) && r.at <= (restart?.at ?? Date.now())).length - probeCallsBefore;
      if (!restart) return { injectAt, detectedAt: firstMiss.at, notes: [`NO restart within 60 s of the second miss; /health said: ${firstMiss.output}`] };

      // Watched while the turns are recovered: recover() waits for the slow turn.
      const passedAgain = until("a probe to pass on the new gateway", async () => ((await m('agent_supervisor_probe_turns_total{result="pass"}')) > passedBefore ? Date.now() : undefined), 180_000, 100);
      const { again, rows, verdict } = await recover(site, "probe-fresh", [during, inflight]);
      const passedAgainAt = await passedAgain;
      const misses = await m('agent_supervisor_probe_turns_total{result="miss"}');
      const restarts = await m('agent_supervisor_gateway_restarts_total{cause="probe"}');
      const backoff = eventsSince(site, restart.at).find((e) => e.state === "backoff" || e.state === "failed");
      const ready = eventsSince(site, restart.at).find((e) => e.state === "ready");
      const probeRows = withDb(site, (db) => (db.prepare("SELECT COUNT(*) AS n FROM turns WHERE session_key = ?").get(PROBE_SESSION_KEY) as { n: number }).n);
      const history = await readTranscript(site, PROBE_SESSION_KEY).catch(() => undefined);
      return {
        injectAt,
        detectedAt: firstMiss.at,
        servingAt: again.doneAt,
        verdict,
        notes: [
          `first miss in /health after ${ms(firstMiss.at - injectAt)} ms ("${firstMiss.output}")`,
          `${describeEvent(restart)} after ${ms(restart.at - injectAt)} ms${backoff ? `, ${describeEvent(backoff)}` : ""}`,
          ready ? `hello-ok again after ${ms(ready.at - injectAt)} ms` : "",
          `a probe passed again after ${ms(passedAgainAt - injectAt)} ms`,
          `${missesAtRestart} misses up to the restart, ${misses - missesAtRestart} after it; restarts{cause=probe} ${restarts}; ${callsToRestart} probe model calls from the injection to the restart`,
          `turn submitted at the injection done after ${rows.get(during.id)?.attempts} attempt(s); turn submitted after the second miss done ${(rows.get(inflight.id)?.finished_at ?? 0) > restart.at ? "after" : "BEFORE"} the restart, after ${rows.get(inflight.id)?.attempts} attempt(s)`,
          `turn rows in the probe session: ${probeRows}; probe session holds ${(history?.messages ?? []).length} messages`,
        ],
      };
    } finally {
      s.model.stall(null);
      await s.stop();
    }
  },
});
