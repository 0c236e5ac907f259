/**
 * Failed turns piling up (issue 12, mode 8): the provider answers 503 to a share of the turns
 * (the mock model's `fail=503`). `/health` `turns:error-rate` must warn naming the dominant
 * class and the status report be degraded, while every other turn is still delivered once; once
 * the failures leave the window the check passes again. Nothing is restarted.
 */
import { eventsSince, healthCheck, submit, turnRows, verifyDone, type SubmittedTurn } from "./observe.ts";
import { ERROR_RATE } from "./real-session.ts";
import { sharedRealCase } from "./runner.ts";
import { until, waitTurn } from "../../test/e2e/harness.ts";

export const errorRate = sharedRealCase({
  id: "error-rate",
  fault: "Provider answers 503 to a share of turns",
  how:
    `4 turns with \`fail=503\` (the mock answers HTTP 503), then 8 good ones. ERROR_RATE_WINDOW_MS=${ERROR_RATE.ERROR_RATE_WINDOW_MS}, ERROR_RATE_MIN_TURNS=${ERROR_RATE.ERROR_RATE_MIN_TURNS}, ERROR_RATE_PERCENT=5. ` +
    "Injected at the first failing submit; detected when `turns:error-rate` warns; serving again when it passes once the failures left the window (no repair: a restart does not cure a provider).",
  async measure(s) {
    const site = s.site;
    // The failing turns first: the gateway retries a 503 inside the run for a while, and the good
    // turns must still be inside the window when the failures land.
    const injectAt = Date.now();
    const bad: SubmittedTurn[] = [];
    for (let i = 0; i < 4; i++) bad.push(await submit(site, `rate-bad-${i}`, "rate-bad", " fail=503"));
    for (const t of bad) await waitTurn(site, t.id, 300_000);
    const good: SubmittedTurn[] = [];
    for (let i = 0; i < 8; i++) good.push(await submit(site, `rate-good-${i}`, "rate-good"));
    for (const t of good) await waitTurn(site, t.id, 120_000);
    const warned = await until("turns:error-rate to warn", async () => {
      const c = await healthCheck(site, "turns:error-rate");
      return c?.status === "warn" ? { at: Date.now(), c } : undefined;
    }, 60_000, 200);
    const cleared = await until("turns:error-rate to pass again", async () => ((await healthCheck(site, "turns:error-rate"))?.status === "pass" ? Date.now() : undefined), 180_000, 1000);
    const rows = turnRows(site, bad.map((t) => t.id));
    const badFailedOnce = bad.filter((t) => rows.get(t.id)?.state === "failed" && rows.get(t.id)?.attempts === 1).length;
    const verdict = await verifyDone(site, good);
    const calls = bad.map((t) => s.model.requests.filter((r) => r.prompt.includes(t.marker)).length);
    const restarts = eventsSince(site, injectAt).filter((e) => e.state === "stopping" || e.state === "exited");
    return {
      injectAt,
      detectedAt: warned.at,
      servingAt: cleared,
      verdict,
      notes: [
        `turns:error-rate: "${warned.c.output}"`,
        `${badFailedOnce} of 4 failing turns failed once (${rows.get(bad[0]!.id)?.error_code}); model calls per failing turn: ${calls.join(", ")} (the gateway's own retries)`,
        restarts.length === 0 ? "no gateway restart" : `${restarts.length} gateway restart event(s)`,
      ],
    };
  },
});
