/**
 * Event-loop lag, then stalls, in the real gateway: its process is frozen and thawed in bursts
 * (SIGSTOP/SIGCONT), so its own event-loop sampler records the frozen time as loop delay and its
 * /readyz reports it, while it keeps answering in between (the liveness probe, at its defaults,
 * passes: that is the failure upstream reports, #96622, #99681, #144460). First short bursts
 * (lag: p99 above EVENT_LOOP_WARN_MS, blocks below EVENT_LOOP_STALL_MS) must turn /health
 * `gateway:event-loop` to warn without a restart; then long bursts (stalls) must restart the
 * gateway once, cause `stall`, losing and duplicating no turn.
 *
 * Its own daemon (the shared session keeps the suite's short liveness settings, which would race
 * this row): booted after the memory case, which also releases the shared session.
 */
import { describeEvent, eventsSince, healthCheck, logRecords, maybeEvent, ms, sleep, submit, type EventRow } from "./observe.ts";
import { RealSession } from "./real-session.ts";
import { faultCase, inflightTurn, recover } from "./runner.ts";
import type { Site } from "../../test/e2e/harness.ts";

const SETTINGS = {
  EVENT_LOOP_SAMPLE_MS: "1000",
  EVENT_LOOP_WARN_MS: "1000",
  EVENT_LOOP_STALL_MS: "2000",
  EVENT_LOOP_SUSTAIN_MS: "8000",
  // The defaults: the liveness probe is what a host runs, and it must not be what catches this.
  LIVENESS_INTERVAL_MS: "15000",
  LIVENESS_TIMEOUT_MS: "10000",
  LIVENESS_FAILURES: "3",
};
/** How long the mock model takes to answer the two turns of the stall phase (ms). */
const TURN_DELAY_MS = 20_000;
/** Lag phase: frozen 1.2 s, thawed 0.3 s (blocks of ~1.2 s: above the warn threshold, below a stall). */
const LAG = { stopMs: 1200, contMs: 300, forMs: 14_000 };
/** Stall phase: frozen 3 s, thawed 0.5 s (blocks of ~3 s: stalls), until the daemon restarts it (60 s at most). */
const STALL = { stopMs: 3000, contMs: 500, forMs: 60_000 };

/**
 * Freeze and thaw `pid` in bursts until `forMs` passes or `done()` says so; always leaves it thawed.
 * @returns how many bursts ran
 */
async function bursts(pid: number, b: { stopMs: number; contMs: number; forMs: number }, done: () => boolean): Promise<number> {
  const until = Date.now() + b.forMs;
  let n = 0;
  try {
    while (Date.now() < until && !done()) {
      process.kill(pid, "SIGSTOP");
      await sleep(b.stopMs);
      process.kill(pid, "SIGCONT");
      n++;
      await sleep(b.contMs);
    }
  } catch {
    // the gateway is gone (restarted)
  } finally {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // gone
    }
  }
  return n;
}

/** The first event after `since` that the supervisor records when it begins a restart. */
function restartEvent(site: Site, since: number): EventRow | undefined {
  return eventsSince(site, since).find((e) => e.state === "stopping");
}

export const eventLoopStall = faultCase({
  id: "event-loop-stall",
  fault: "Gateway event-loop lag, then stalls",
  fast: false,
  realGateway: true,
  how:
    "Real gateway, its own daemon with " +
    Object.entries(SETTINGS).map(([k, v]) => `${k}=${v}`).join(", ") +
    `. Lag: its pid frozen ${LAG.stopMs} ms / thawed ${LAG.contMs} ms for ${LAG.forMs / 1000} s; then stalls: frozen ${STALL.stopMs} ms / thawed ${STALL.contMs} ms ` +
    `until the daemon restarts it, while the model answers a turn (\`delay=${TURN_DELAY_MS}\`) and another one, submitted 1 s into the stalls, is delivered. ` +
    "Injected at the first stall burst; detected at the restart ('stopping' \"restart requested (stall)\").",
  async measure(ctx) {
    await ctx.real.release();
    const s = await RealSession.boot(ctx.real.dirFor("event-loop"), ctx.real.runtimeDir, { controlPlane: false, settings: SETTINGS, log: ctx.log, warmUp: true });
    try {
      const site = s.site;
      const pid = s.gatewayPidFromFile();
      if (pid === null) throw new Error("no gateway pid");
      const calm = await healthCheck(site, "gateway:event-loop");

      // Lag: /health warns, nothing restarts.
      const lagAt = Date.now();
      let lagWarnAt: number | null = null;
      let lagOutput = "";
      const watching = (async () => {
        while (Date.now() < lagAt + LAG.forMs + 2000 && lagWarnAt === null) {
          const c = await healthCheck(site, "gateway:event-loop").catch(() => undefined);
          if (c?.status === "warn") [lagWarnAt, lagOutput] = [Date.now(), String(c.output)];
          await sleep(200);
        }
      })();
      const lagBursts = await bursts(pid, LAG, () => lagWarnAt !== null && Date.now() > lagWarnAt + 2000);
      await watching;
      const restartDuringLag = restartEvent(site, lagAt);
      await sleep(3000);
      const afterLag = await healthCheck(site, "gateway:event-loop");

      // Stalls: restarted once, cause stall.
      // Both turns are still at the model (20 s answers) when the restart comes (~10 s in).
      const inflight = await inflightTurn(s, "stall-inflight", "stall-a", TURN_DELAY_MS);
      const injectAt = Date.now();
      let during: Awaited<ReturnType<typeof submit>> | undefined;
      const submitting = sleep(1000).then(async () => (during = await submit(site, "stall-during", "stall-b", ` delay=${TURN_DELAY_MS}`)));
      const stallBursts = await bursts(pid, STALL, () => restartEvent(site, injectAt) !== undefined);
      await submitting;
      const restart = await maybeEvent(site, injectAt, (e) => e.state === "stopping", 30_000);
      if (!restart) return { injectAt, detectedAt: null, notes: [`NOT DETECTED: no restart within ${STALL.forMs / 1000} s of stall bursts (${stallBursts} bursts)`] };
      const { again, rows, verdict } = await recover(site, "stall-fresh", [inflight, during!]);
      const events = eventsSince(site, injectAt);
      const ready = events.find((e) => e.state === "ready");
      const restarts = events.filter((e) => e.state === "stopping");
      const logs = logRecords(s.daemon.logs);
      const livenessFailures = logs.filter((r) => r.at >= lagAt && r.at <= restart.at && r.msg.includes("gateway liveness probe failed")).length;
      const stallWarn = logs.find((r) => r.at >= injectAt && r.msg.includes("gateway event loop check") && r.fields.verdict === "stalled");
      const metrics = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
      const stallCount = /agent_supervisor_gateway_restarts_total\{cause="stall"\} (\d+)/.exec(metrics)?.[1] ?? "0";
      const calls = (m: string) => s.model.requests.filter((r) => r.prompt.includes(m)).length;
      // OpenClaw re-runs a main session interrupted by a restart itself; the daemon then reads the reply from the transcript.
      const resumed = s.daemon.logs.filter((l) => l.includes("[main-session-restart-recovery] started interrupted main session")).length;
      return {
        injectAt,
        detectedAt: restart.at,
        servingAt: again.doneAt,
        verdict,
        notes: [
          `before: gateway:event-loop ${calm?.status} (p99 ${calm?.observedValue} ms)`,
          lagWarnAt === null
            ? `lag NOT reported within ${LAG.forMs / 1000} s of ${lagBursts} bursts`
            : `lag: /health gateway:event-loop warn ${ms(lagWarnAt - lagAt)} ms after the first burst ("${lagOutput}"), ${restartDuringLag ? `but a RESTART: ${describeEvent(restartDuringLag)}` : "no restart"}; ${afterLag?.status} again 3 s after the bursts`,
          `stalls: ${stallBursts} bursts until ${describeEvent(restart)}${stallWarn ? ` (verdict logged ${ms(stallWarn.at - injectAt)} ms after the first)` : ""}`,
          `${restarts.length} restart(s) since, restarts_total{cause="stall"} ${stallCount}; ${livenessFailures} failed liveness probe(s) at the defaults throughout`,
          ready ? `hello-ok again after ${ms(ready.at - injectAt)} ms` : "",
          `in-flight turn done ${ms((rows.get(inflight.id)?.finished_at ?? 0) - restart.at)} ms after the restart began, after ${rows.get(inflight.id)?.attempts} attempt(s) (${calls(inflight.marker)} model call(s)); the one submitted during the stalls after ${rows.get(during!.id)?.attempts} (${calls(during!.marker)}); ${resumed} interrupted session(s) re-run by the gateway's own restart recovery (a second model call; one reply in each transcript)`,
        ],
      };
    } finally {
      await s.stop();
    }
  },
});
