/**
 * The real gateway SIGKILLed with a turn in flight (the model is answering it). The daemon must
 * record the exit, restart the gateway and finish the in-flight turn exactly once (reconciled
 * from the transcript), plus a turn submitted while the gateway was down.
 */
import { describeEvent, ms, submit, waitEvent } from "./observe.ts";
import { BOOT_MS } from "./real-session.ts";
import { inflightTurn, recover, sharedRealCase, signalGateway } from "./runner.ts";

export const gatewaySigkill = sharedRealCase({
  id: "gateway-sigkill",
  fault: "Gateway SIGKILL",
  how:
    "`kill -KILL` of the real gateway's pid while the mock model is answering a turn (`delay=3000`); " +
    "a second turn is submitted while it is down. RESTART_BACKOFF_INITIAL_MS=1000 (default). Detected at the 'exited' event.",
  async measure(s) {
    const site = s.site;
    const inflight = await inflightTurn(s, "sigkill-inflight", "sigkill-a", 3000);
    const { injectAt } = await signalGateway(site, "SIGKILL");
    const first = await waitEvent(site, injectAt, "the exit", () => true, 30_000);
    const during = await submit(site, "sigkill-during", "sigkill-b");
    const backoff = await waitEvent(site, injectAt, "the restart decision", (e) => e.state === "backoff" || e.state === "failed", 30_000);
    const ready = await waitEvent(site, injectAt, "ready again", (e) => e.state === "ready", BOOT_MS);
    const { again, rows, verdict } = await recover(site, "sigkill-fresh", [inflight, during]);
    const modelCalls = s.model.requests.filter((r) => r.prompt.includes(inflight.marker)).length;
    return {
      injectAt,
      detectedAt: first.at,
      servingAt: again.doneAt,
      verdict,
      notes: [
        `${describeEvent(first)}, then ${describeEvent(backoff)}`,
        `hello-ok again after ${ms(ready.at - injectAt)} ms`,
        `in-flight turn done after ${rows.get(inflight.id)?.attempts} attempt(s), the model asked ${modelCalls}x${rows.get(inflight.id)?.attempts === 1 && modelCalls > 1 ? " (the repeat by the gateway's own restart recovery)" : ""}; turn submitted while down done after ${rows.get(during.id)?.attempts}`,
      ],
    };
  },
});
