/**
 * A lease lost mid-run, then the same turn claimed again after a gateway restart (issue 10,
 * item 2). The control plane takes the lease of a turn the real gateway is answering and hands out
 * nothing for a while; the daemon must stop the run in the gateway and report nothing under the
 * old lease. The gateway is then SIGKILLed (its idempotency map is in memory) and the turn offered
 * again: the model must not be asked a second time, and the turn gets exactly one report.
 */
import { until } from "../../test/e2e/harness.ts";
import { ms } from "./observe.ts";
import { ACC, BOOT_MS } from "./real-session.ts";
import { modelReceived, sharedRealCase, signalGateway } from "./runner.ts";

export const leaseAbort = sharedRealCase({
  id: "lease-abort",
  fault: "Lease lost mid-run, turn claimed again",
  how:
    "A turn enqueued at the reference control plane is running in the real gateway (`delay=8000`) when its lease is expired at the control plane, " +
    "with claims answered 503 meanwhile. Detected when the daemon stops the run (`sessions.abort`); then the gateway is SIGKILLed and claims resume. " +
    "Verdict: one model call for the turn, no report under the lost lease, exactly one report in all.",
  async measure(s) {
    const cp = s.cp!;
    const marker = `lease-abort-${Date.now()}`;
    const { turnId } = cp.enqueueTurn({ accountId: ACC, conversationId: "lease-abort", message: `${marker} delay=8000` });
    await modelReceived(s, [marker]);
    const firstLease = cp.getTurn(turnId)!.leases[0]!.leaseId;
    const noClaims = cp.faults.add({ operation: "claim", action: { kind: "status", status: 503, retryAfter: 1 } });
    await until("a claim to meet the fault", () => noClaims.hits > 0, 30_000, 20);
    const injectAt = Date.now();
    cp.expireLease(turnId);
    const stoppedLine = "stopped the turn's run in the gateway";
    await until("the daemon to stop the run", () => s.daemon.logs.some((l) => l.includes(stoppedLine)), 60_000, 20);
    const detectedAt = Date.now();
    await signalGateway(s.site, "SIGKILL");
    cp.faults.clear(noClaims.id);
    const t = await until("the turn's one report", () => {
      const v = cp.getTurn(turnId);
      return v && (v.state === "done" || v.state === "failed") ? v : undefined;
    }, BOOT_MS, 100);
    const servingAt = Date.now();
    const calls = s.model.requests.filter((r) => r.prompt.includes(marker)).length;
    const problems: string[] = [];
    if (calls !== 1) problems.push(`the model was asked ${calls}x for the turn`);
    if (t.reports.some((r) => r.leaseId === firstLease)) problems.push("a result was reported under the lost lease");
    if (t.reports.length !== 1) problems.push(`${t.reports.length} reports`);
    return {
      injectAt,
      detectedAt,
      servingAt,
      verdict: { lost: 0, duplicated: calls > 1 || t.reports.length > 1 ? 1 : 0, problems },
      notes: [`run stopped ${ms(detectedAt - injectAt)} ms after the lease was taken; claimed again and ended '${t.state}'${t.error ? ` (${t.error.code})` : ""} with ${calls} model call(s)`],
    };
  },
});
