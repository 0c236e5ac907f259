/**
 * The real gateway frozen with SIGSTOP: its port stays open and its socket connected, but nothing
 * answers (a hang). The liveness probe must declare it hung and the supervisor restart it
 * (SIGTERM + SIGCONT, SIGKILL after the grace); the turn in flight and one submitted during the
 * hang must each complete exactly once.
 */
import { describeEvent, eventsSince, logRecords, maybeEvent, ms, submit, watchReadyz } from "./observe.ts";
import { LIVENESS } from "./real-session.ts";
import { inflightTurn, recover, sharedRealCase, signalGateway } from "./runner.ts";

export const gatewaySigstop = sharedRealCase({
  id: "gateway-sigstop",
  fault: "Gateway SIGSTOP (hang, port open)",
  how:
    "`kill -STOP` of the real gateway's pid while the model is answering a turn (`delay=3000`); another turn is submitted during the hang. " +
    `LIVENESS_INTERVAL_MS=${LIVENESS.LIVENESS_INTERVAL_MS}, LIVENESS_TIMEOUT_MS=${LIVENESS.LIVENESS_TIMEOUT_MS}, LIVENESS_FAILURES=${LIVENESS.LIVENESS_FAILURES}, GATEWAY_STOP_GRACE_MS=5000. ` +
    "Detected at the first event after the freeze (expected: 'stopping' \"restart requested (hang)\").",
  async measure(s) {
    const site = s.site;
    const inflight = await inflightTurn(s, "sigstop-inflight", "sigstop-a", 3000);
    const { pid, injectAt } = await signalGateway(site, "SIGSTOP");
    const readyz = watchReadyz(site);
    try {
      const during = await submit(site, "sigstop-during", "sigstop-b");
      const first = await maybeEvent(site, injectAt, () => true, 120_000);
      if (!first) {
        return { injectAt, detectedAt: null, notes: ["NOT DETECTED within 120 s: no gateway event after the freeze (the gateway was continued afterwards)"] };
      }
      const stopped = await maybeEvent(site, injectAt, (e) => e.state === "stopped", 60_000);
      const backoff = await maybeEvent(site, injectAt, (e) => e.state === "backoff" || e.state === "failed", 60_000);
      const { again, rows, verdict } = await recover(site, "sigstop-fresh", [inflight, during]);
      const probeFailures = logRecords(s.daemon.logs).filter((r) => r.at >= injectAt && r.at <= first.at && r.msg.includes("gateway liveness probe failed")).length;
      const ready = eventsSince(site, injectAt).find((e) => e.state === "ready");
      return {
        injectAt,
        detectedAt: first.at,
        servingAt: again.doneAt,
        verdict,
        notes: [
          `${describeEvent(first)} after ${probeFailures} failed probes`,
          readyz.firstNotReadyAt() === null ? "/readyz never left 200" : `/readyz stayed 200 for ${ms(readyz.firstNotReadyAt()! - injectAt)} ms of the hang`,
          stopped ? `frozen gateway ended with ${stopped.signal ?? `code ${stopped.exit_code}`} ${ms(stopped.at - first.at)} ms later` : "no 'stopped' event",
          backoff ? describeEvent(backoff) : "no restart decision",
          ready ? `hello-ok again after ${ms(ready.at - injectAt)} ms` : "",
          `in-flight turn done after ${rows.get(inflight.id)?.attempts} attempt(s), turn submitted during the hang after ${rows.get(during.id)?.attempts}`,
        ],
      };
    } finally {
      readyz.stop();
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // gone, as it should be
      }
    }
  },
});
