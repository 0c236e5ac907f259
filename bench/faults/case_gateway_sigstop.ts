/**
 * The real gateway frozen with SIGSTOP: its port stays open and its socket connected, but nothing
 * answers (a hang). The liveness probe must declare it hung and the supervisor restart it
 * (SIGTERM + SIGCONT, SIGKILL after the grace); the turn in flight and one submitted during the
 * hang must each complete exactly once.
 */
import { gatewayPid, until } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, finishAll, logRecords, maybeEvent, ms, servingAgain, submit, turnRows, verifyDone, watchReadyz } from "./observe.ts";
import { BOOT_MS, LIVENESS } from "./real-session.ts";
import type { FaultCase } from "./types.ts";

export const gatewaySigstop: FaultCase = {
  id: "gateway-sigstop",
  fault: "Gateway SIGSTOP (hang, port open)",
  fast: false,
  realGateway: true,
  how:
    "`kill -STOP` of the real gateway's pid while the model is answering a turn (`delay=3000`); another turn is submitted during the hang. " +
    `LIVENESS_INTERVAL_MS=${LIVENESS.LIVENESS_INTERVAL_MS}, LIVENESS_TIMEOUT_MS=${LIVENESS.LIVENESS_TIMEOUT_MS}, LIVENESS_FAILURES=${LIVENESS.LIVENESS_FAILURES}, GATEWAY_STOP_GRACE_MS=5000. ` +
    "Detected at the first event after the freeze (expected: 'stopping' \"restart requested (hang)\").",
  async run(ctx) {
    const s = await ctx.real.shared();
    const site = s.site;
    const inflight = await submit(site, "sigstop-inflight", "sigstop-a", " delay=3000");
    await until("the model to receive the turn", () => s.model.requests.some((r) => r.prompt.includes(inflight.marker)), 60_000, 20);
    const pid = await gatewayPid(site);
    const injectAt = Date.now();
    process.kill(pid, "SIGSTOP");
    const readyz = watchReadyz(site);
    try {
      const during = await submit(site, "sigstop-during", "sigstop-b");
      const first = await maybeEvent(site, injectAt, () => true, 120_000);
      if (!first) {
        return {
          fault: gatewaySigstop.fault,
          realGateway: true,
          detectedMs: null,
          servingAgainMs: null,
          lost: 0,
          duplicated: 0,
          notes: "NOT DETECTED within 120 s: no gateway event after the freeze (the gateway was continued afterwards)",
        };
      }
      const stopped = await maybeEvent(site, injectAt, (e) => e.state === "stopped", 60_000);
      const backoff = await maybeEvent(site, injectAt, (e) => e.state === "backoff" || e.state === "failed", 60_000);
      const again = await servingAgain(site, "sigstop-fresh", BOOT_MS);
      await finishAll(site, [inflight, during], BOOT_MS);
      const rows = turnRows(site, [inflight.id, during.id]);
      const v = await verifyDone(site, [inflight, during, again.turn]);
      const probeFailures = logRecords(s.daemon.logs).filter((r) => r.at >= injectAt && r.at <= first.at && r.msg.includes("gateway liveness probe failed")).length;
      const ready = eventsSince(site, injectAt).find((e) => e.state === "ready");
      return {
        fault: gatewaySigstop.fault,
        realGateway: true,
        detectedMs: ms(first.at - injectAt),
        servingAgainMs: ms(again.doneAt - injectAt),
        lost: v.lost,
        duplicated: v.duplicated,
        notes: [
          `${describeEvent(first)} after ${probeFailures} failed probes`,
          readyz.firstNotReadyAt() === null ? "/readyz never left 200" : `/readyz stayed 200 for ${ms(readyz.firstNotReadyAt()! - injectAt)} ms of the hang`,
          stopped ? `frozen gateway ended with ${stopped.signal ?? `code ${stopped.exit_code}`} ${ms(stopped.at - first.at)} ms later` : "no 'stopped' event",
          backoff ? describeEvent(backoff) : "no restart decision",
          ready ? `hello-ok again after ${ms(ready.at - injectAt)} ms` : "",
          `in-flight turn done after ${rows.get(inflight.id)?.attempts} attempt(s), turn submitted during the hang after ${rows.get(during.id)?.attempts}`,
          ...v.problems,
        ].filter((x) => x !== "").join("; "),
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
};
