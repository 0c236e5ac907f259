/**
 * Reconciling one turn of a delivery job (delivery.ts) against the gateway: `agent.wait` while the
 * gateway process that accepted its run still runs, else the session transcript (transcript.ts),
 * which says whether the gateway answered it, still runs it, failed it, or never had it.
 */
import type { Turn } from "../store/turns.ts";
import type { DeliveryDeps } from "./delivery-ports.ts";
import type { TranscriptOutcome } from "./transcript.ts";
import type { Verdicts } from "./verdicts.ts";

type AgentWait = { status?: string; error?: string; terminalReply?: { text?: string } };

/** What {@link reconcileTurn} needs: the delivery's collaborators and the job state it shares. */
export type ReconcileDeps = Pick<DeliveryDeps, "gateway" | "turns" | "clock" | "log"> & {
  verdicts: Verdicts;
  /** Turns aborted for making no progress, with why (delivery.ts stopStuck); an entry is consumed here. */
  stuck: Map<string, string>;
  /** Turns claimed again after a lost lease whose earlier run this daemon stopped. */
  resumed: Set<string>;
  /** The transcript's verdict on a turn, with whether a run is active in its session. */
  lookUp(t: Turn, signal: AbortSignal): Promise<TranscriptOutcome & { activeRun: boolean | undefined }>;
  /** Abort the turn's run in the gateway, now or once reachable. */
  stopRun(t: Turn): void;
};

/**
 * Look the turn up in its session transcript.
 * @returns true when finished (recorded), false while still running, undefined if absent
 */
export async function reconcileTurn(d: ReconcileDeps, t: Turn, remaining: number, signal: AbortSignal): Promise<boolean | undefined> {
  const { gateway } = d;
  if (t.runId && t.gatewayGeneration === gateway.generation && !d.stuck.has(t.id)) {
    // Same gateway process: the run still exists, so agent.wait is exact and cheap.
    const waitMs = Math.min(remaining, 30_000);
    const w = await gateway.request<AgentWait>("agent.wait", { runId: t.runId, timeoutMs: waitMs }, { timeoutMs: waitMs + 5_000, signal });
    if (w?.status === "ok") {
      await d.verdicts.complete(t, w.terminalReply?.text ?? "", signal);
      return true;
    }
    if (w?.status === "error") {
      await d.verdicts.fail(t, "GATEWAY_RUN_FAILED", w.error ?? "run failed", signal);
      return true;
    }
  }
  const outcome = await d.lookUp(t, signal);
  const stuck = d.stuck.get(t.id);
  d.stuck.delete(t.id); // one verdict per abort: a turn sent again (absent, abandoned) is a new run
  if (stuck !== undefined && (outcome.kind === "pending" || outcome.kind === "errored")) {
    // Aborted for making no progress, no reply: it ends here, never as a second run (nor a restart recovery).
    if (outcome.activeRun !== false) d.stopRun(t);
    await d.verdicts.fail(t, "RUN_STUCK", `${stuck}; aborted, no reply${outcome.kind === "errored" ? ` (${outcome.reason})` : ""}`, signal);
    return true;
  }
  switch (outcome.kind) {
    case "replied":
      await d.verdicts.complete(t, outcome.reply, signal, outcome.usage);
      return true;
    case "errored":
      await d.verdicts.fail(t, "GATEWAY_RUN_FAILED", outcome.reason, signal);
      return true;
    case "pending":
      // A turn claimed again after a lost lease whose run we stopped: its message is in the
      // session, no answer came and nothing runs there now. Running it again would be a second
      // run of the same turn, so it ends here.
      if (d.resumed.has(t.id) && outcome.activeRun === false) {
        await d.verdicts.fail(t, "RUN_STOPPED", "its run was stopped when its lease was lost, before it answered; it is not run a second time", signal);
        return true;
      }
      return false;
    case "absent":
      return undefined;
    case "abandoned": {
      // The gateway dropped custody of the request without running it and refuses its key.
      const key = `${t.id}~${t.attempts + 1}`;
      d.log.info({ turnId: t.id, state: outcome.state, key }, "gateway abandoned the input; sending again under a new key");
      const rekeyed = await d.verdicts.write("turns.rekey", t.id, () => d.turns.rekey(t.id, key, d.clock.now()), signal);
      return rekeyed ? undefined : false;
    }
  }
}
