/**
 * The gateway restarts itself in process (issue 12, mode 10): a `gateway.*` change in
 * openclaw.json (here `gateway.controlUi.basePath`, written by the suite as anyone who can write
 * the file could, the agent included) makes openclaw 2026.9.6 announce `shutdown {reason,
 * restartExpectedMs: 1500}`, drain, and restart in the same process. The daemon's fast liveness
 * probe (3 × 2 s) must not take the ~7 s restart for a hang; the turn in flight and one submitted
 * during the restart are each delivered once.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayPid, until } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, isReady, submit, waitEvent } from "./observe.ts";
import { LIVENESS } from "./real-session.ts";
import { inflightTurn, recover, sharedRealCase } from "./runner.ts";

export const announcedRestart = sharedRealCase({
  id: "announced-restart",
  fault: "Gateway restarts itself in process (config change)",
  how:
    "A turn in flight (`delay=3000`), then `gateway.controlUi.basePath` changed in the gateway's openclaw.json; another turn submitted while the gateway restarts. " +
    `LIVENESS_INTERVAL_MS=${LIVENESS.LIVENESS_INTERVAL_MS}, LIVENESS_FAILURES=${LIVENESS.LIVENESS_FAILURES}, STARTUP_GRACE_MS=5000. ` +
    "Detected at the `announced` event; serving again when a fresh turn is done.",
  async measure(s) {
    const site = s.site;
    const pid = await gatewayPid(site);
    const inflight = await inflightTurn(s, "announce-inflight", "announce-a", 3000);
    const cfgPath = join(site.dataDir, "gateway", "state", "openclaw.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
    cfg.gateway.controlUi = { ...(cfg.gateway.controlUi ?? {}), basePath: `/restart-${Date.now()}` };
    const injectAt = Date.now();
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    const announced = await waitEvent(site, injectAt, "the gateway's announcement", (e) => e.state === "announced", 60_000);
    await until("the gateway to leave /readyz for its restart", async () => !(await isReady(site)), 30_000, 50).catch(() => undefined);
    const during = await submit(site, "announce-during", "announce-b");
    const { again, rows, verdict } = await recover(site, "announce-fresh", [inflight, during]);
    await new Promise((r) => setTimeout(r, 8000)); // the probe resumes after the window: no hang found
    const after = eventsSince(site, injectAt);
    const killed = after.filter((e) => e.state === "stopping" || e.state === "exited");
    const pidNow = await gatewayPid(site);
    return {
      injectAt,
      detectedAt: announced.at,
      servingAt: again.doneAt,
      verdict,
      notes: [
        describeEvent(announced),
        killed.length === 0 ? "no restart by the daemon" : `RESTARTED BY THE DAEMON: ${killed.map(describeEvent).join(", ")}`,
        pidNow === pid ? "same gateway pid (in-process restart)" : `gateway pid changed ${pid} → ${pidNow}`,
        `in-flight turn done after ${rows.get(inflight.id)?.attempts} attempt(s), turn submitted during the restart after ${rows.get(during.id)?.attempts}`,
        `model calls: in-flight ${s.model.requests.filter((r) => r.prompt.includes(inflight.marker)).length}, during ${s.model.requests.filter((r) => r.prompt.includes(during.marker)).length}`,
      ],
    };
  },
});
