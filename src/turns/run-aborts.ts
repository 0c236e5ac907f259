/**
 * Runs to stop in the gateway (`sessions.abort {key, runId}`, docs/gateway/protocol/
 * rpc-session-control.md): a turn whose control-plane lease was lost (someone else may run it
 * now, so ours must not finish and act), or one still running at its deadline. An abort waits
 * while the gateway is unreachable and is sent once it is ready again, since a gateway that
 * restarts resumes interrupted runs on its own.
 *
 * Why `sessions.abort` and not `chat.abort`: only the former "waits for the cancellation's session
 * write before acknowledging success. Restarting immediately after that acknowledgment preserves
 * the terminal outcome" (docs/gateway/restart-recovery.md, openclaw 2026.9.6). `chat.abort`
 * answers once the run is signalled, before its session is written as cancelled; a gateway that
 * dies in between still has the session marked running, and its restart recovery runs the turn
 * again. Measured here: a gateway SIGKILLed right after `chat.abort` answered called the model a
 * second time in 2 of 9 tries, after `sessions.abort` in 0 of 5 (the lease-abort e2e failed once
 * so in CI). The runId keeps the abort scoped to that run.
 */
import type { Logger } from "pino";
import type { Turn } from "../store/turns.ts";

/** The gateway requests this needs. */
export type AbortPort = {
  readonly ready: boolean;
  request<T>(method: string, params: unknown, opts?: { timeoutMs?: number | null }): Promise<T>;
};

/**
 * Timeout of one `sessions.abort` request (ms). It answers after the session write, so a busy
 * gateway may take a while; a timeout keeps the abort pending and it is sent again (it is idempotent).
 */
export const ABORT_TIMEOUT_MS = 10_000;

/** Pending aborts, keyed by turn id. */
export class RunAborts {
  readonly #pending = new Map<string, { sessionKey: string; runId: string }>();
  readonly #gateway: AbortPort;
  readonly #log: Logger;

  readonly #onRetry: () => void;

  /** `onRetry`: an abort failed to go out and is kept; the caller flushes again later (not at once). */
  constructor(gateway: AbortPort, log: Logger, onRetry: () => void = () => {}) {
    this.#gateway = gateway;
    this.#log = log;
    this.#onRetry = onRetry;
  }

  /** Stop run `runId` of `sessionKey` for turn `turnId`, now or once the gateway is ready. */
  add(turnId: string, sessionKey: string, runId: string): void {
    this.#pending.set(turnId, { sessionKey, runId });
    this.flush();
  }

  /** Send the pending aborts if the gateway is ready; a transport failure keeps one pending. Never throws. */
  flush(): void {
    if (!this.#gateway.ready) return;
    for (const [turnId, a] of [...this.#pending]) {
      this.#pending.delete(turnId);
      this.#gateway.request<{ status?: unknown }>("sessions.abort", { key: a.sessionKey, runId: a.runId }, { timeoutMs: ABORT_TIMEOUT_MS }).then(
        (res) => this.#log.info({ turnId, runId: a.runId, status: typeof res?.status === "string" ? res.status : undefined }, "stopped the turn's run in the gateway"),
        (err: unknown) => {
          const answered = !!err && typeof err === "object" && "gatewayCode" in err;
          if (!answered && !this.#pending.has(turnId)) this.#pending.set(turnId, a);
          this.#log.warn({ turnId, runId: a.runId, err: (err as Error)?.message, retry: !answered }, "could not stop the turn's run in the gateway");
          if (!answered) this.#onRetry();
        },
      );
    }
  }

  /** Turns whose abort is still to be sent. */
  get size(): number {
    return this.#pending.size;
  }
}

/** The id to abort a turn's run by: its run id, else the key it was sent under. Pure. */
export function runToStop(t: Pick<Turn, "id" | "runId" | "idempotencyKey">): string {
  return t.runId ?? t.idempotencyKey ?? t.id;
}
