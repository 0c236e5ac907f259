/**
 * A turn past its deadline (`TURN_TIMEOUT_MS` from its first delivery): the last look at its
 * transcript before it fails with TURN_TIMEOUT. Taken out of delivery.ts, which runs it.
 */
import type { Turn } from "../store/turns.ts";
import { EXPIRY_CHECK_MS, type DeliveryDeps } from "./delivery-ports.ts";
import type { TranscriptOutcome } from "./transcript.ts";
import type { Verdicts } from "./verdicts.ts";

/** What {@link expireTurn} needs from delivery. */
export type ExpiryDeps = Pick<DeliveryDeps, "gateway" | "clock" | "log" | "policy"> & {
  verdicts: Verdicts;
  /** The transcript's verdict on the turn (transcript-read.ts); throws on transport errors. */
  lookUp: (t: Turn, signal: AbortSignal) => Promise<TranscriptOutcome & { activeRun: boolean | undefined }>;
  /** Abort the turn's run in the gateway, now or once reachable. */
  stopRun: (t: Turn) => void;
};

/**
 * The deadline passed. A reply already in the transcript still completes the turn (the deadline
 * may have passed while the gateway restarted), so the transcript is read first, waiting up to
 * `policy.expiryCheckMs` (default {@link EXPIRY_CHECK_MS}) for the gateway; a run still going is
 * aborted in the gateway. Then TURN_TIMEOUT. Returns without a verdict if `signal` aborts (the
 * turn is reconciled on the next start). Never rejects on gateway errors.
 */
export async function expireTurn(d: ExpiryDeps, t: Turn, signal: AbortSignal): Promise<void> {
  const { gateway, clock, log, policy, verdicts } = d;
  const until = clock.now() + (policy.expiryCheckMs ?? EXPIRY_CHECK_MS);
  while (!signal.aborted && clock.now() < until) {
    if (!gateway.ready) {
      await gateway.waitReady(AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, until - clock.now()))]));
      continue;
    }
    try {
      const outcome = await d.lookUp(t, signal);
      if (outcome.kind === "replied") return await verdicts.complete(t, outcome.reply, signal, outcome.usage);
      if (outcome.kind === "errored") return await verdicts.fail(t, "GATEWAY_RUN_FAILED", outcome.reason, signal);
      if (outcome.kind === "pending") d.stopRun(t);
      break;
    } catch (err) {
      if (signal.aborted) return;
      log.warn({ turnId: t.id, err: (err as Error).message }, "cannot read the transcript of an expired turn yet");
      await clock.sleep(policy.reconcilePollMs, signal);
    }
  }
  if (signal.aborted) return;
  await verdicts.fail(t, "TURN_TIMEOUT", `no reply within ${policy.turnTimeoutMs} ms`, signal);
}
