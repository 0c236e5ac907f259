/**
 * A key rotation during a gateway start: the real gateway is SIGKILLed with a turn in flight, and
 * as soon as the daemon records the new start the control plane serves a new provider key (the
 * daemon is sent SIGHUP to poll at once). The rotation lands in prepare or during the ~13 s boot;
 * either way the gateway must end on the newest key, with no turn lost or run twice.
 */
import { until } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, isReady, ms, waitEvent } from "./observe.ts";
import { BOOT_MS, RT } from "./real-session.ts";
import { inflightTurn, recover, sharedRealCase, signalGateway } from "./runner.ts";

/** OpenClaw's startup lease TTL (openclaw 2026.9.6 STARTUP_MIGRATION_LEASE_TTL_MS). */
const LEASE_TTL_MS = 300_000;

export const rotationDuringStart = sharedRealCase({
  id: "rotation-start",
  fault: "Key rotation during a gateway start",
  how:
    "`kill -KILL` of the real gateway with a turn in flight (`delay=3000`); at the daemon's next 'starting' event (before spawn) " +
    "the reference control plane serves a new compat key and the daemon gets SIGHUP. Injected at that SIGHUP; detected at the " +
    "first restart after it (cause rotation); serving again = a fresh turn done, which must reach the model with the new key. " +
    "A gateway killed mid-start can leave OpenClaw's maintenance lease held for up to 5 minutes (openclaw/openclaw#103145); starts refused meanwhile are retried, so serving again may take that long.",
  async measure(s) {
    const site = s.site;
    // The case before may have restarted the gateway (a skills change, or a hang under load).
    await until("/readyz 200", () => isReady(site), BOOT_MS, 200);
    const inflight = await inflightTurn(s, "rotstart-inflight", "rotstart-a", 3000);
    const { injectAt: killAt } = await signalGateway(site, "SIGKILL");
    // After the restart backoff, or the crash-loop breaker's 60 s retry: the cases before restart the gateway often
    // (observed: "crash loop: 6 restarts within 600 s; retrying every 60 s" once the startup-grace case ran before this one).
    const starting = await waitEvent(site, killAt, "the new start", (e) => e.state === "starting" && e.pid === null, 90_000);
    const key = `sk-faults-rotated-${Date.now()}`;
    s.cp!.setSecrets(RT, { compat: { baseUrl: s.model.url, apiKey: key, model: "echo-1" } });
    const injectAt = Date.now();
    s.daemon.proc.kill("SIGHUP");
    const spawned = await waitEvent(site, starting.at, "the spawn", (e) => e.state === "starting" && e.pid !== null, BOOT_MS);
    const restart = await waitEvent(site, injectAt, "the restart for the rotation", (e) => e.state === "stopping" || e.state === "backoff", BOOT_MS).catch(() => undefined);
    const { again, rows, verdict } = await recover(site, "rotstart-fresh", [inflight], LEASE_TTL_MS + BOOT_MS);
    const refused = eventsSince(site, killAt).filter((e) => e.reason?.startsWith("startup refused")).length;
    const freshCall = s.model.requests.filter((r) => r.prompt.includes(again.turn.marker)).at(-1);
    const onNewKey = freshCall?.authorization === `Bearer ${key}`;
    if (!onNewKey) verdict.problems.push(`the fresh turn reached the model with ${freshCall?.authorization === undefined ? "no request" : "an OLD key"}`);
    const starts = eventsSince(site, killAt).filter((e) => e.state === "starting" && e.pid !== null).length;
    return {
      injectAt,
      detectedAt: restart?.at ?? null,
      servingAt: again.doneAt,
      verdict,
      notes: [
        `rotation ${ms(injectAt - starting.at)} ms after the start began, ${injectAt < spawned.at ? "before the spawn (in prepare)" : `${ms(injectAt - spawned.at)} ms into the boot`}`,
        restart ? `then ${describeEvent(restart)}` : "NO restart after the rotation",
        `${starts} gateway spawns after the kill; in-flight turn done after ${rows.get(inflight.id)?.attempts} attempt(s)`,
        `fresh turn on the ${onNewKey ? "new" : "OLD"} key`,
        refused > 0 ? `${refused} start(s) refused while a killed gateway's maintenance lease was held, retried` : "",
      ],
    };
  },
});
