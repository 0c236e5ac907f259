/**
 * A turn as the local API shows it, and the port through which the API submits and reads turns
 * (implemented by the turn service).
 */
import type { Turn, TurnState } from "../store/turns.ts";
import type { TurnUsage } from "../store/usage.ts";

/** A turn as the local API shows it. Times are ISO 8601 strings. */
export type TurnView = {
  turnId: string;
  conversationId: string;
  state: TurnState;
  reply: string | null;
  error: { code: string; message: string } | null;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
  /**
   * Tokens the turn used, as the gateway reported them, and the provider and model that answered
   * (after a failover, the fallback). Absent while unknown: not finished yet, or not reported.
   */
  usage?: TurnUsage;
};

/** Submitting and reading turns. */
export interface TurnsPort {
  /**
   * Accept a turn into the durable queue (it is committed to SQLite before this returns).
   * Idempotent on `idempotencyKey`: a repeat returns the first turn's id with `created: false`.
   * @throws QueueFullError (ERR_QUEUE_FULL), BudgetExceededError (ERR_BUDGET_EXCEEDED), DrainingError (ERR_DRAINING), StorageFullError (ERR_STORAGE_FULL),
   *   StorageUnavailableError (ERR_STORAGE_UNAVAILABLE: any other SQLite error; nothing was stored)
   */
  submit(input: { conversationId: string; message: string; idempotencyKey?: string | undefined }): {
    turnId: string;
    created: boolean;
  };
  /** The turn, or undefined if unknown. */
  get(turnId: string): TurnView | undefined;
  /**
   * Resolve with the turn once it is `done` or `failed`, or with its current view after
   * `timeoutMs` (ms), or, with `endOnStop`, earlier when the daemon stops; undefined if unknown.
   * Once waiting it never rejects (a failed read resolves with the last view).
   * @throws SqliteError from the first read of the turn, before any wait
   */
  waitFinished(turnId: string, timeoutMs: number, endOnStop?: boolean): Promise<TurnView | undefined>;
}

/** API view of a stored turn. */
export function toTurnView(t: Turn): TurnView {
  return {
    turnId: t.id,
    conversationId: t.conversationId,
    state: t.state,
    reply: t.reply,
    error: t.errorCode ? { code: t.errorCode, message: t.errorMessage ?? "" } : null,
    attempts: t.attempts,
    createdAt: new Date(t.createdAt).toISOString(),
    finishedAt: t.finishedAt === null ? null : new Date(t.finishedAt).toISOString(),
    ...(t.usage ? { usage: t.usage } : {}),
  };
}
