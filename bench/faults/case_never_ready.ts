/**
 * A gateway that never becomes ready: the stand-in listens on the gateway port and accepts
 * connections but never answers (no hello-ok), and it ignores SIGTERM. The daemon must give up
 * after GATEWAY_STARTUP_TIMEOUT_MS, SIGKILL it after the grace, and start another (cause
 * startup-timeout), keeping the queued turns.
 */
import { alive } from "../../test/e2e/harness.ts";
import { describeEvent, maybeEvent, ms, submit, waitEvent } from "./observe.ts";
import { standInCase, standInSpawned } from "./runner.ts";
import { standInRecords } from "./stand-in.ts";

const STARTUP_TIMEOUT_MS = 2000;
const GRACE_MS = 1000;

export const neverReady = standInCase({
  id: "never-ready",
  fault: "Gateway never becomes ready",
  how:
    `Stand-in that listens on the gateway port, accepts connections and never answers (no hello-ok), and ignores SIGTERM. ` +
    `GATEWAY_STARTUP_TIMEOUT_MS=${STARTUP_TIMEOUT_MS}, GATEWAY_STOP_GRACE_MS=${GRACE_MS}, RESTART_BACKOFF_INITIAL_MS=500. ` +
    `Injected at the spawn; detected at the 'stopping' event "not ready within ..."; two turns are queued meanwhile.`,
  behaviour: { ignoreSigterm: true },
  settings: { GATEWAY_STARTUP_TIMEOUT_MS: String(STARTUP_TIMEOUT_MS), GATEWAY_STOP_GRACE_MS: String(GRACE_MS) },
  async measure(s) {
    const spawned = await standInSpawned(s.site);
    const injectAt = spawned.at;
    const turns = [await submit(s.site, "never-ready-1", "nr"), await submit(s.site, "never-ready-2", "nr")];
    const stopping = await waitEvent(s.site, injectAt, "the startup timeout", (e) => e.state === "stopping", 30_000);
    const stopped = await waitEvent(s.site, stopping.at, "the stand-in stopped", (e) => e.state === "stopped", 30_000);
    const backoff = await waitEvent(s.site, stopping.at, "the restart decision", (e) => e.state === "backoff" || e.state === "failed", 30_000);
    const respawn = await maybeEvent(s.site, backoff.at, (e) => e.state === "starting" && e.pid !== null && e.pid !== spawned.pid, 15_000);
    const firstGone = !alive(spawned.pid!);
    const sigterms = standInRecords(s.dir, "sigterm.log").length;
    return {
      injectAt,
      detectedAt: stopping.at,
      queued: turns,
      notes: [
        `${describeEvent(stopping)} after ${ms(stopping.at - injectAt)} ms`,
        `stand-in ignored SIGTERM ${sigterms}x and ended with ${stopped.signal ?? `code ${stopped.exit_code}`} ${ms(stopped.at - stopping.at)} ms later`,
        `then ${describeEvent(backoff)}`,
        respawn ? `next stand-in spawned ${ms(respawn.at - injectAt)} ms after the first` : "no respawn within 15 s",
        firstGone ? "first stand-in gone" : "FIRST STAND-IN STILL ALIVE",
        `serving: n/a (a stand-in that never answers cannot serve); ${turns.length} turns stayed queued (accepted, 0 attempts)`,
      ],
    };
  },
});
