/**
 * A gateway that hangs inside its startup window (issue 12, failure mode 9; upstream
 * openclaw/openclaw#74281, where an outside health check killed a gateway still booting, forever).
 * The real gateway is SIGKILLed so it boots again, and frozen with SIGSTOP as soon as its hello-ok
 * is recorded. No watchdog may restart it before STARTUP_GRACE_MS has passed since that hello-ok;
 * after it, liveness declares the hang as usual, and a turn submitted during the freeze completes
 * exactly once on the next gateway.
 */
import { describeEvent, logRecords, maybeEvent, ms, submit, waitEvent } from "./observe.ts";
import { BOOT_MS, LIVENESS, SESSION_SETTINGS } from "./real-session.ts";
import { recover, sharedRealCase, signalGateway } from "./runner.ts";

const GRACE_MS = Number(SESSION_SETTINGS.STARTUP_GRACE_MS);

export const startupGrace = sharedRealCase({
  id: "startup-grace",
  fault: "Gateway hangs inside its startup window",
  how:
    "`kill -KILL` of the real gateway, then `kill -STOP` of the next one as soon as its hello-ok is recorded (the 'ready' event); a turn is submitted during the freeze. " +
    `STARTUP_GRACE_MS=${GRACE_MS}, LIVENESS_INTERVAL_MS=${LIVENESS.LIVENESS_INTERVAL_MS}, LIVENESS_TIMEOUT_MS=${LIVENESS.LIVENESS_TIMEOUT_MS}, LIVENESS_FAILURES=${LIVENESS.LIVENESS_FAILURES}. ` +
    "Injected at the SIGSTOP; detected at the first event after it (expected: 'stopping' \"restart requested (hang)\", no earlier than the window's end). A restart inside the window fails the case.",
  async measure(s) {
    const site = s.site;
    const killed = await signalGateway(site, "SIGKILL");
    const ready = await waitEvent(site, killed.injectAt, "hello-ok of the next gateway", (e) => e.state === "ready", BOOT_MS);
    const { pid, injectAt } = await signalGateway(site, "SIGSTOP");
    try {
      const during = await submit(site, "grace-during", "grace-b");
      const first = await maybeEvent(site, injectAt, () => true, 120_000);
      if (!first) {
        return { injectAt, detectedAt: null, notes: ["NOT DETECTED within 120 s: no gateway event after the freeze (the gateway was continued afterwards)"] };
      }
      const afterReadyMs = first.at - ready.at;
      const probes = logRecords(s.daemon.logs).filter((r) => r.at >= injectAt && r.at <= first.at && r.msg.includes("gateway liveness probe failed")).length;
      const notes = [
        `frozen ${ms(injectAt - ready.at)} ms after hello-ok; ${describeEvent(first)} ${ms(afterReadyMs)} ms after hello-ok (window ${GRACE_MS} ms), after ${probes} failed probes`,
      ];
      if (afterReadyMs < GRACE_MS) {
        return { injectAt, detectedAt: null, notes: [...notes, `RESTARTED INSIDE THE STARTUP WINDOW (${ms(afterReadyMs)} ms < ${GRACE_MS} ms)`] };
      }
      const { again, rows, verdict } = await recover(site, "grace-fresh", [during]);
      return {
        injectAt,
        detectedAt: first.at,
        servingAt: again.doneAt,
        verdict,
        notes: [...notes, `turn submitted during the freeze done after ${rows.get(during.id)?.attempts} attempt(s)`],
      };
    } finally {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // gone, as it should be
      }
    }
  },
});
