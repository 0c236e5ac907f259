/**
 * Provider credentials that stop working (issue 12, failure mode 3): the mock model starts
 * refusing the provider key in use with 401 "API key revoked", as a provider does for a revoked
 * key (and a proxy with 403). The daemon must name it in /health (`provider:auth`) and the status
 * report; the gateway itself disables the key for 10 minutes after the refusal. The repair is a
 * key rotation at the control plane: the daemon restarts the gateway on the new key and clears the
 * gateway's stale cooldown, so the turns queued meanwhile and a fresh one complete at once.
 */
import { apiToken, until } from "../../test/e2e/harness.ts";
import { healthCheck, isReady, logRecords, ms, submit, turnRows, waitEvent, type Verdict } from "./observe.ts";
import { BOOT_MS, RT } from "./real-session.ts";
import { recover, sharedRealCase } from "./runner.ts";

export const providerAuth = sharedRealCase({
  id: "provider-auth",
  fault: "Provider refuses the key (401)",
  how:
    "The mock model answers the compat key in use with 401 `API key revoked` (on `/v1/models` and completions); a turn is submitted, then another " +
    "during the gateway's own cooldown. Detected when /health `provider:auth` fails. Repaired by a rotation: the reference control plane serves a new " +
    "key and the daemon gets SIGHUP; a turn submitted once the old gateway stops must complete once on the new key; serving again = a fresh turn done. " +
    "The gateway disables a revoked key for 10 minutes (a plain 401: 30 s), keyed by provider, so without the daemon clearing it the new key would be refused too.",
  async measure(s) {
    const site = s.site;
    await until("/readyz 200", () => isReady(site), BOOT_MS, 200);
    const oldKey = /^Bearer (.+)$/.exec(s.model.requests.filter((r) => r.refused === undefined).at(-1)?.authorization ?? "")?.[1];
    if (!oldKey) return { injectAt: Date.now(), detectedAt: null, notes: ["no model call yet to learn the key in use from"] };
    const calls = (marker: string) => s.model.requests.filter((r) => r.prompt.includes(marker)).length;
    const injectAt = Date.now();
    s.model.refusals.set(oldKey, { status: 401, message: "API key revoked" });
    try {
      const refused = await submit(site, "provider-auth-a", "auth-refused");
      const check = await until("provider:auth to fail", async () => {
        const c = await healthCheck(site, "provider:auth");
        return c?.status === "fail" ? { at: Date.now(), output: c.output } : undefined;
      }, 120_000, 50);
      const named = await until("provider:auth to name the provider's status", async () => ((await healthCheck(site, "provider:auth"))?.output?.includes("401 invalid key") ? Date.now() : undefined), 60_000, 50).catch(() => null);
      const report = await until("a degraded status report naming the provider", () => {
        const r = s.cp?.latestStatus(RT);
        return r?.report.status === "degraded" && r.report.reason?.includes("provider compat") ? { at: Date.now(), reason: r.report.reason } : undefined;
      }, 60_000, 100).catch(() => undefined);
      const refusedView = await until("the refused turn to fail", async () => {
        const row = turnRows(site, [refused.id]).get(refused.id);
        return row && row.state !== "accepted" && row.state !== "delivering" ? row : undefined;
      }, 120_000, 100);
      const cooled = await submit(site, "provider-auth-b", "auth-cooldown");
      const cooledRow = await until("the turn during the cooldown to finish", async () => {
        const row = turnRows(site, [cooled.id]).get(cooled.id);
        return row && row.state !== "accepted" && row.state !== "delivering" ? row : undefined;
      }, 120_000, 100);
      const cooledView = (await (await fetch(`http://127.0.0.1:${site.httpPort}/v1/turns/${cooled.id}`, { headers: { authorization: `Bearer ${apiToken(site)}` } })).json()) as { error?: { message?: string } };

      // The repair: a rotation at the control plane, polled at once.
      const newKey = `sk-faults-auth-${Date.now()}`;
      const rotateAt = Date.now();
      s.cp!.setSecrets(RT, { compat: { baseUrl: s.model.url, apiKey: newKey, model: "echo-1" } });
      s.daemon.proc.kill("SIGHUP");
      // Watched from now on, beside the restart: the new key is checked at once.
      const passAgain = until("provider:auth to pass again", async () => ((await healthCheck(site, "provider:auth"))?.status === "pass" ? Date.now() : undefined), BOOT_MS, 50).catch(() => null);
      const restart = await waitEvent(site, rotateAt, "the restart for the rotation", (e) => e.state === "stopping" || e.state === "backoff", BOOT_MS).catch(() => undefined);
      // Submitted once the old gateway is going: it waits for the new one (before, it could still reach the old key).
      const queued = await submit(site, "provider-auth-c", "auth-queued");
      const { again, verdict } = await recover(site, "provider-auth-fresh", [queued]);
      const cleared = logRecords(s.daemon.logs).find((r) => r.at >= rotateAt && r.msg.includes("cleared the gateway's stale auth cooldown"));
      const passedAt = await passAgain;
      const freshCall = s.model.requests.filter((r) => r.prompt.includes(again.turn.marker)).at(-1);
      const problems: Verdict = { lost: 0, duplicated: 0, problems: [] };
      if (freshCall?.authorization !== `Bearer ${newKey}`) problems.problems.push("the fresh turn did not reach the model on the new key");
      if (refusedView.state !== "failed") problems.problems.push(`the refused turn ended ${refusedView.state}`);
      if (calls(refused.marker) > 1) problems.duplicated++, problems.problems.push(`the refused turn reached the model ${calls(refused.marker)} times`);
      if (calls(cooled.marker) > 0) problems.problems.push(`the turn during the cooldown reached the model ${calls(cooled.marker)} time(s)`);
      return {
        injectAt,
        detectedAt: check.at,
        servingAt: again.doneAt,
        verdict: { lost: verdict.lost, duplicated: verdict.duplicated + problems.duplicated, problems: [...verdict.problems, ...problems.problems] },
        notes: [
          `/health provider:auth failed after ${ms(check.at - injectAt)} ms: "${String(check.output).slice(0, 140)}"`,
          named ? `its own check said "401 invalid key (API key revoked)" after ${ms(named - injectAt)} ms` : "the check never named the 401",
          report ? `status report degraded after ${ms(report.at - injectAt)} ms` : "NO degraded status report naming the provider",
          `the turn sent meanwhile failed (${refusedView.error_code}, ${calls(refused.marker)} model call: the provider's refusal is its result, not a loss)`,
          `the next one failed with ${calls(cooled.marker)} model calls (${cooledRow.state}: "${String(cooledView.error?.message ?? "").slice(0, 90)}")`,
          `rotation ${ms(rotateAt - injectAt)} ms after the fault${restart ? `, gateway restarted ${ms(restart.at - rotateAt)} ms later` : ", NO restart"}`,
          cleared ? `stale cooldown cleared before the new start (${ms(cleared.at - rotateAt)} ms after the rotation)` : "NO cooldown cleared",
          `a turn queued during the rotation and a fresh one done on the new key; provider:auth ${passedAt ? `passed again ${ms(passedAt - rotateAt)} ms after the rotation` : "did NOT pass again"}`,
        ],
      };
    } finally {
      s.model.refusals.delete(oldKey);
    }
  },
});
