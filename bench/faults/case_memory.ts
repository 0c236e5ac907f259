/**
 * A gateway memory balloon, in the real gateway: OpenClaw loads its agent runtime lazily on the
 * first turn, and its process tree's RSS jumps by a few hundred MiB. The daemon is started with
 * MEMORY_LIMIT_MB between the RSS after boot and the RSS after a first turn (both measured when
 * the shared session booted), so the first turn balloons the gateway past the limit. The watchdog
 * must drain and restart it (cause memory) after MEMORY_SUSTAIN_MS, losing no turn.
 */
import { describeEvent, eventsSince, finishAll, maybeEvent, ms, submit, verifyDone, withDb } from "./observe.ts";
import { BOOT_MS, RealSession, type RssCalibration } from "./real-session.ts";
import { faultCase, recover } from "./runner.ts";

const SUSTAIN_MS = 5000;
const SAMPLE_MS = 1000;

/** The limit (MiB) between the booted and the ballooned RSS; `loop` when they are too close to separate. */
export function memoryLimitFor(c: RssCalibration): { limitMb: number; loop: boolean } {
  const low = Math.max(c.bootPeakMb, c.idleMb);
  if (c.afterFirstTurnMb - low >= 100) return { limitMb: Math.round((low + c.afterFirstTurnMb) / 2), loop: false };
  // Not separable: below the booted RSS, so every generation is restarted (reported as such).
  return { limitMb: Math.max(64, Math.round(low * 0.8)), loop: true };
}

export const memoryBalloon = faultCase({
  id: "memory",
  fault: "Gateway memory balloon",
  fast: false,
  realGateway: true,
  how:
    "Real gateway, its own daemon with MEMORY_LIMIT_MB halfway between the process tree's RSS after boot and after a first turn (measured when the shared session booted), " +
    `MEMORY_SUSTAIN_MS=${SUSTAIN_MS}, MEMORY_SAMPLE_MS=${SAMPLE_MS}. Injected by submitting the first turn (the gateway loads its agent runtime and its RSS jumps); ` +
    "detected at the memory restart ('stopping' \"restart requested (memory)\").",
  async measure(ctx) {
    const shared = await ctx.real.shared();
    const cal = shared.calibration ?? ctx.real.calibration;
    if (!cal) throw new Error("no RSS calibration from the shared session");
    await ctx.real.release();
    const { limitMb, loop } = memoryLimitFor(cal);
    ctx.log(`memory case: limit ${limitMb} MiB from ${JSON.stringify(cal)}`);
    const s = await RealSession.boot(ctx.real.dirFor("memory"), ctx.real.runtimeDir, {
      controlPlane: false,
      settings: { MEMORY_LIMIT_MB: String(limitMb), MEMORY_SUSTAIN_MS: String(SUSTAIN_MS), MEMORY_SAMPLE_MS: String(SAMPLE_MS) },
      log: ctx.log,
      warmUp: false,
    });
    try {
      const site = s.site;
      const injectAt = Date.now();
      const balloon = await submit(site, "memory-balloon", "mem-a");
      const restart = await maybeEvent(site, injectAt, (e) => (e.reason ?? "").includes("memory"), 120_000);
      const overAt = withDb(site, (db) => (db.prepare("SELECT MIN(at) AS t FROM rss_samples WHERE at >= ? AND bytes > ?").get(injectAt, limitMb * 1024 * 1024) as { t: number | null }).t);
      const peak = withDb(site, (db) => (db.prepare("SELECT MAX(bytes) AS b FROM rss_samples WHERE at >= ?").get(injectAt) as { b: number | null }).b);
      if (!restart) {
        await finishAll(site, [balloon], BOOT_MS);
        const v = await verifyDone(site, [balloon]);
        // The problems stand inside this one phrase, after "; " even when there are none, as this row has always read.
        return {
          injectAt,
          detectedAt: null,
          verdict: { ...v, problems: [] },
          notes: [`NO memory restart within 120 s: limit ${limitMb} MiB, peak RSS ${Math.round((peak ?? 0) / 1048576)} MiB; ${v.problems.join("; ")}`],
        };
      }
      const { again, rows, verdict } = await recover(site, "memory-fresh", [balloon]);
      // The fresh turn loads the agent runtime into the new gateway as well: does it go over again?
      const second = await maybeEvent(site, again.readyAt, (e) => (e.reason ?? "").includes("memory") && e.at > restart.at, SUSTAIN_MS + 10_000);
      const ready = eventsSince(site, restart.at).find((e) => e.state === "ready");
      const backoff = eventsSince(site, restart.at).find((e) => e.state === "backoff" || e.state === "failed");
      const balloonDoneAt = rows.get(balloon.id)?.finished_at ?? null;
      return {
        injectAt,
        detectedAt: restart.at,
        servingAt: again.doneAt,
        verdict,
        notes: [
          `limit ${limitMb} MiB (RSS after boot ${Math.max(cal.bootPeakMb, cal.idleMb)} MiB, after a first turn ${cal.afterFirstTurnMb} MiB)${loop ? " — NOT separable, so every generation is over the limit" : ""}`,
          overAt === null ? "no sample over the limit recorded" : `first sample over the limit (gateway:memory warn) ${ms(overAt - injectAt)} ms after the turn, peak ${Math.round((peak ?? 0) / 1048576)} MiB`,
          `${describeEvent(restart)}${backoff ? `, ${describeEvent(backoff)}` : ""}`,
          balloonDoneAt !== null ? `ballooning turn done ${ms(balloonDoneAt - injectAt)} ms after submission (${balloonDoneAt <= restart.at ? "before" : "after"} the restart, ${rows.get(balloon.id)?.attempts} attempt(s))` : "",
          ready ? `hello-ok again after ${ms(ready.at - injectAt)} ms` : "",
          second
            ? `the fresh turn ballooned the new gateway too: second memory restart ${ms(second.at - again.doneAt)} ms after it finished (a restart per first turn while the limit sits below that RSS)`
            : `no second memory restart within ${(SUSTAIN_MS + 10_000) / 1000} s of the fresh turn`,
        ],
      };
    } finally {
      await s.stop();
    }
  },
});
