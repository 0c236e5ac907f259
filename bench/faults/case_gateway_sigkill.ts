/**
 * The real gateway SIGKILLed with a turn in flight (the model is answering it). The daemon must
 * record the exit, restart the gateway and finish the in-flight turn exactly once (reconciled
 * from the transcript), plus a turn submitted while the gateway was down.
 */
import { gatewayPid, until } from "../../test/e2e/harness.ts";
import { describeEvent, finishAll, ms, servingAgain, submit, turnRows, verifyDone, waitEvent } from "./observe.ts";
import { BOOT_MS } from "./real-session.ts";
import type { FaultCase } from "./types.ts";

export const gatewaySigkill: FaultCase = {
  id: "gateway-sigkill",
  fault: "Gateway SIGKILL",
  fast: false,
  realGateway: true,
  how:
    "`kill -KILL` of the real gateway's pid while the mock model is answering a turn (`delay=3000`); " +
    "a second turn is submitted while it is down. RESTART_BACKOFF_INITIAL_MS=1000 (default). Detected at the 'exited' event.",
  async run(ctx) {
    const s = await ctx.real.shared();
    const site = s.site;
    const inflight = await submit(site, "sigkill-inflight", "sigkill-a", " delay=3000");
    await until("the model to receive the turn", () => s.model.requests.some((r) => r.prompt.includes(inflight.marker)), 60_000, 20);
    const pid = await gatewayPid(site);
    const injectAt = Date.now();
    process.kill(pid, "SIGKILL");
    const first = await waitEvent(site, injectAt, "the exit", () => true, 30_000);
    const during = await submit(site, "sigkill-during", "sigkill-b");
    const backoff = await waitEvent(site, injectAt, "the restart decision", (e) => e.state === "backoff" || e.state === "failed", 30_000);
    const ready = await waitEvent(site, injectAt, "ready again", (e) => e.state === "ready", BOOT_MS);
    const again = await servingAgain(site, "sigkill-fresh", BOOT_MS);
    await finishAll(site, [inflight, during], BOOT_MS);
    const modelCalls = s.model.requests.filter((r) => r.prompt.includes(inflight.marker)).length;
    const rows = turnRows(site, [inflight.id, during.id]);
    const v = await verifyDone(site, [inflight, during, again.turn]);
    return {
      fault: gatewaySigkill.fault,
      realGateway: true,
      detectedMs: ms(first.at - injectAt),
      servingAgainMs: ms(again.doneAt - injectAt),
      lost: v.lost,
      duplicated: v.duplicated,
      notes: [
        `${describeEvent(first)}, then ${describeEvent(backoff)}`,
        `hello-ok again after ${ms(ready.at - injectAt)} ms`,
        `in-flight turn done after ${rows.get(inflight.id)?.attempts} attempt(s), the model asked ${modelCalls}x${rows.get(inflight.id)?.attempts === 1 && modelCalls > 1 ? " (the repeat by the gateway's own restart recovery)" : ""}; turn submitted while down done after ${rows.get(during.id)?.attempts}`,
        ...v.problems,
      ].join("; "),
    };
  },
};
