/**
 * Runs to stop in the gateway (`chat.abort {sessionKey, runId}`, docs/gateway/protocol/
 * rpc-session-control.md): a turn whose control-plane lease was lost (someone else may run it
 * now, so ours must not finish and act), or one still running at its deadline. An abort waits
 * while the gateway is unreachable and is sent once it is ready again, since a gateway that
 * restarts resumes interrupted runs on its own.
 */
import type { Logger } from "pino";
import type { Turn } from "../store/turns.ts";

/** The gateway requests this needs. */
export type AbortPort = {
  readonly ready: boolean;
  request<T>(method: string, params: unknown, opts?: { timeoutMs?: number | null }): Promise<T>;
};

/** Timeout of one `chat.abort` request (ms). */
export const ABORT_TIMEOUT_MS = 10_000;

/** Pending aborts, keyed by turn id. */
export class RunAborts {
  readonly #pending = new Map<string, { sessionKey: string; runId: string }>();
  readonly #gateway: AbortPort;
  readonly #log: Logger;

  constructor(gateway: AbortPort, log: Logger) {
    this.#gateway = gateway;
    this.#log = log;
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
      this.#gateway.request("chat.abort", { sessionKey: a.sessionKey, runId: a.runId }, { timeoutMs: ABORT_TIMEOUT_MS }).then(
        () => this.#log.info({ turnId, runId: a.runId }, "stopped the turn's run in the gateway"),
        (err: unknown) => {
          const answered = !!err && typeof err === "object" && "gatewayCode" in err;
          if (!answered && !this.#pending.has(turnId)) this.#pending.set(turnId, a);
          this.#log.warn({ turnId, runId: a.runId, err: (err as Error)?.message, retry: !answered }, "could not stop the turn's run in the gateway");
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
