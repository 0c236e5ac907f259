/**
 * A gateway that exits 78 (EX_CONFIG): the daemon must run `openclaw doctor --fix` once, retry
 * once, then hold in `failed` with a config reason instead of looping, keeping the queued turns.
 */
import { getJson } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, ms, post, sleep, submit, waitEvent } from "./observe.ts";
import { standInCase } from "./runner.ts";
import { standInRecords } from "./stand-in.ts";

/** How long the hold is watched for a further start that should not come (ms). */
const HOLD_WATCH_MS = 3000;

export const exit78 = standInCase({
  id: "exit-78",
  fault: "Gateway exits 78 (EX_CONFIG)",
  how:
    `Stand-in that exits 78 at once on every start; its \`doctor\` records the call and exits 0. ` +
    `Injected at the stand-in's first exit; detected at the daemon's decision to run doctor (a 'starting' event "config (exit 78 ..."). ` +
    `The hold is then watched for ${HOLD_WATCH_MS / 1000} s; two turns are submitted before the hold and one during it.`,
  behaviour: { exitCode: 78 },
  settings: {},
  async measure(s) {
    const turns = [await submit(s.site, "exit78-1", "ex78"), await submit(s.site, "exit78-2", "ex78")];
    const doctorDecision = await waitEvent(s.site, 0, "the doctor decision", (e) => e.state === "starting" && (e.reason ?? "").startsWith("config (exit 78"), 20_000);
    const held = await waitEvent(s.site, doctorDecision.at, "the config hold", (e) => e.state === "failed", 20_000);
    const injectAt = standInRecords(s.dir, "exits.log")[0]?.at ?? doctorDecision.at;
    const startsAtHold = standInRecords(s.dir, "starts.log").length;
    // A turn submitted while held: is it refused, or accepted to wait for a fix?
    const held2 = await post(s.site, "exit78-held", "ex78-held");
    if (held2.turn) turns.push(held2.turn);
    await sleep(HOLD_WATCH_MS);
    const startsAfter = standInRecords(s.dir, "starts.log").length;
    const doctorRuns = standInRecords(s.dir, "doctor.log").length;
    const health = (await getJson(s.site, "/health")).body;
    const ready = (await getJson(s.site, "/readyz")).status;
    const later = eventsSince(s.site, held.at + 1);
    return {
      injectAt,
      detectedAt: doctorDecision.at,
      queued: turns,
      notes: [
        `${describeEvent(doctorDecision)} ${ms(doctorDecision.at - injectAt)} ms after the exit`,
        `doctor ran ${doctorRuns}x (${standInRecords(s.dir, "doctor.log")[0]?.text ?? "never"})`,
        `held ${ms(held.at - injectAt)} ms after the first exit: ${describeEvent(held)}`,
        `gateway starts: ${startsAtHold} before the hold, ${startsAfter - startsAtHold} in the ${HOLD_WATCH_MS / 1000} s after; ${later.length} later events`,
        `/health ${health.status} (gateway:process ${health.checks["gateway:process"][0].status}), /readyz ${ready}`,
        `a turn submitted while held: ${held2.status}${held2.code ? ` ${held2.code}` : ""}`,
        `serving: n/a (held until the configuration changes); all ${turns.length} turns stayed queued`,
      ],
    };
  },
});
