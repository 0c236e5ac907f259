/**
 * Stuck runs (issue 12, failure mode 4), in the real gateway: the mock model accepts a turn's
 * completion request and never answers (`stall=headers`: 200 and SSE headers, then nothing; the
 * provider's own timeout is 120 s, so the gateway does not give up first). The run shows no
 * progress; after RUN_STUCK_MS the daemon aborts it through the gateway (`sessions.abort` of its run) and the
 * turn fails RUN_STUCK after exactly one model call, a turn of another conversation submitted
 * during the stall is answered, and the next turn of the same conversation is answered. Then a
 * lane held by another client's silent run (`chat.send` from an outside connection, which then
 * goes away): our turn is accepted but never starts, the daemon aborts the session's work
 * (`sessions.abort`) and our turn runs, once. Its own daemon (RUN_STUCK_MS differs from the
 * shared session's), after a warm-up turn.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GatewayClient } from "@openclaw/gateway-client";
import { until, waitTurn } from "../../test/e2e/harness.ts";
import { describeEvent, eventsSince, maybeEvent, ms, rowsWithMessage, submit, turnRows, type SubmittedTurn, type Verdict } from "./observe.ts";
import { RealSession } from "./real-session.ts";
import { faultCase } from "./runner.ts";

const STUCK_MS = 20_000;
const GRACE_MS = 20_000;

/** Model calls whose newest paragraph carries `marker` (2026.9.6 merges an unanswered message into the next prompt). */
function callsFor(s: RealSession, marker: string): number {
  return s.model.requests.filter((r) => (r.prompt.split("\n\n").at(-1) ?? "").includes(marker)).length;
}

/** A turn that must end `want` (done with its marker in the reply, or failed with RUN_STUCK), in one row, after one model call. */
function judge(s: RealSession, t: SubmittedTurn, want: "done" | "RUN_STUCK", v: Verdict): void {
  const row = turnRows(s.site, [t.id]).get(t.id);
  const ok = want === "done" ? row?.state === "done" && (row.reply ?? "").includes(t.marker) : row?.state === "failed" && row.error_code === "RUN_STUCK";
  if (!ok) {
    v.lost++;
    v.problems.push(`${t.marker}: ${row ? `${row.state} ${row.error_code ?? ""} reply ${JSON.stringify(row.reply)}` : "no row"} (wanted ${want})`);
  }
  const calls = callsFor(s, t.marker);
  if (calls > 1 || rowsWithMessage(s.site, t.message) > 1) {
    v.duplicated++;
    v.problems.push(`${t.marker}: ${calls} model calls, ${rowsWithMessage(s.site, t.message)} rows`);
  }
}

export const stuckRun = faultCase({
  id: "stuck-run",
  fault: "Stuck run (model never answers; session lane held)",
  fast: false,
  realGateway: true,
  how:
    `Real gateway, its own daemon with RUN_STUCK_MS=${STUCK_MS}, RUN_STUCK_ABORT_GRACE_MS=${GRACE_MS} (provider timeout 120 s). ` +
    "Injected when the mock model has received a turn marked `stall=headers` (it answers 200 and SSE headers, then nothing); a turn of another conversation is submitted then. " +
    "Detected at the daemon's `stuck` event (abort-run); serving again = the next turn of the same conversation done. " +
    "Then a lane: another connection's `chat.send` whose model call stalls holds the session, our turn is submitted there (notes).",
  async measure(ctx) {
    await ctx.real.release();
    const s = await RealSession.boot(ctx.real.dirFor("stuck-run"), ctx.real.runtimeDir, {
      controlPlane: false,
      settings: { RUN_STUCK_MS: String(STUCK_MS), RUN_STUCK_ABORT_GRACE_MS: String(GRACE_MS) },
      log: ctx.log,
    });
    const v: Verdict = { lost: 0, duplicated: 0, problems: [] };
    try {
      const site = s.site;
      const stuck = await submit(site, "stuck-run", "stuck", " stall=headers");
      await until("the model to get the stuck turn", () => callsFor(s, stuck.marker) > 0, 60_000, 20);
      const injectAt = Date.now();
      const other = await submit(site, "stuck-other", "stuck-other", " delay=1000");
      const event = await maybeEvent(site, injectAt, (e) => e.state === "stuck", STUCK_MS + 60_000);
      if (!event) return { injectAt, detectedAt: null, notes: [`NOT DETECTED within ${STUCK_MS + 60_000} ms`] };
      const stuckView = await waitTurn(site, stuck.id, 60_000);
      const failedAt = turnRows(site, [stuck.id]).get(stuck.id)?.finished_at ?? null;
      await waitTurn(site, other.id, 60_000);
      const next = await submit(site, "stuck-run", "stuck-next");
      await waitTurn(site, next.id, 60_000);
      const servingAt = turnRows(site, [next.id]).get(next.id)?.finished_at ?? null;
      for (const [t, want] of [[stuck, "RUN_STUCK"], [other, "done"], [next, "done"]] as const) judge(s, t, want, v);
      const restarts = eventsSince(site, injectAt).filter((e) => (e.reason ?? "").includes("(stuck)")).length;

      // The lane: another connection's silent run holds the session; ours is queued behind it.
      const token = readFileSync(join(site.dataDir, "gateway.token"), "utf8").trim();
      const ready = Promise.withResolvers<void>();
      const outsider = new GatewayClient({ url: `ws://127.0.0.1:${site.gatewayPort}`, token, minProtocol: 4, maxProtocol: 4, deviceIdentity: null, onHelloOk: () => ready.resolve(), onConnectError: (e) => ready.reject(e) });
      outsider.start();
      await ready.promise;
      const holder = `lane-holder-${Date.now()}`;
      await outsider.request("chat.send", { sessionKey: "agent:main:stuck-lane", message: `${holder} stall=headers`, idempotencyKey: holder });
      await until("the model to get the holder's run", () => callsFor(s, holder) > 0, 60_000, 20);
      outsider.stop();
      const laneAt = Date.now();
      const ours = await submit(site, "stuck-lane", "lane-ours");
      const laneEvent = await maybeEvent(site, laneAt, (e) => e.state === "stuck", STUCK_MS + 60_000);
      await waitTurn(site, ours.id, STUCK_MS + GRACE_MS + 90_000);
      const oursDoneAt = turnRows(site, [ours.id]).get(ours.id)?.finished_at ?? null;
      judge(s, ours, "done", v);
      const laneRestarts = eventsSince(site, laneAt).filter((e) => (e.reason ?? "").includes("(stuck)")).length;
      return {
        injectAt,
        detectedAt: event.at,
        servingAt,
        verdict: v,
        notes: [
          describeEvent(event),
          `stuck turn ${stuckView.state} ${stuckView.error?.code ?? ""} ${failedAt !== null ? `${ms(failedAt - injectAt)} ms after the stall` : ""}, ${callsFor(s, stuck.marker)} model call(s)`,
          `turn of another conversation during the stall: ${turnRows(site, [other.id]).get(other.id)?.state}`,
          restarts === 0 ? "no gateway restart" : `${restarts} gateway restart(s) (cause stuck)`,
          laneEvent ? `lane: ${describeEvent(laneEvent)} ${ms(laneEvent.at - laneAt)} ms after our turn was submitted` : "lane: NO stuck event",
          `lane: our turn ${turnRows(site, [ours.id]).get(ours.id)?.state}${oursDoneAt !== null ? ` ${ms(oursDoneAt - laneAt)} ms after submission` : ""}, ${callsFor(s, ours.marker)} model call(s), ${laneRestarts === 0 ? "no restart" : `${laneRestarts} restart(s)`}`,
        ],
      };
    } finally {
      await s.stop();
    }
  },
});
