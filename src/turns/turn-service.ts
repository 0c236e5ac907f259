/**
 * The one entry point for new turns, whoever submits them: the local API (`submit`: validates
 * queue limits, commits the turn to SQLite, wakes delivery) and the control plane's claims
 * (`acceptClaim`: commits the claimed turn under its lease; the sync worker wakes delivery once
 * per claim batch). Callers can wait for a result.
 */
import { randomUUID } from "node:crypto";
import { BudgetExceededError, DrainingError, QueueFullError, StorageFullError, StorageUnavailableError } from "../core/errors.ts";
import { sessionKeyFor } from "../gateway/session-key.ts";
import { secondsUntilReset, type TokenBudget } from "./budget.ts";
import { toTurnView, type TurnsPort, type TurnView } from "./turn-view.ts";
import type { AcceptOutcome, CentralTurnStore, ClaimedTurnInput } from "../store/central.ts";
import type { TurnSource, TurnStore } from "../store/turns.ts";
import type { DeliverySlot } from "./delivery-ports.ts";
import { isStoreError, writeErrorCode } from "../store/write-faults.ts";

function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "SQLITE_FULL" || code === "ENOSPC";
}

/** Options for {@link TurnService}. */
export type TurnServiceOptions = {
  turns: TurnStore;
  now: () => number;
  /** Most turns accepted or delivering at once. */
  queueLimit: number;
  /** Called after a local turn is committed (wakes delivery). */
  onSubmitted: () => void;
  /**
   * A delivery slot for a new local turn of gateway session `sessionKey`, when delivery would
   * start it at once (delivery.ts `reserve`): the turn is then committed straight into
   * `delivering` and launched, one commit instead of two. Without it, or when it returns
   * undefined, the turn is committed `accepted` and waits for the dispatcher.
   */
  startNow?: ((sessionKey: string) => DeliverySlot | undefined) | undefined;
  /** Leases of central turns; only needed with a control plane. */
  central?: CentralTurnStore | undefined;
  /** The daily token budget (budget.ts); with action `refuse` and the limit reached, new local turns are refused. */
  budget?: Pick<TokenBudget, "verdict" | "refusing"> | undefined;
};

/** Implements {@link TurnsPort} over the durable store. */
export class TurnService implements TurnsPort {
  readonly #o: TurnServiceOptions;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** The waits asked to end when the daemon stops (waitFinished's `endOnStop`): see {@link endWaits}. */
  readonly #endOnStop = new Set<() => void>();
  #draining = false;

  constructor(opts: TurnServiceOptions) {
    this.#o = opts;
  }

  /** Refuse new turns from now on (shutdown). */
  startDraining(): void {
    this.#draining = true;
  }

  /** True once {@link startDraining} was called. */
  get draining(): boolean {
    return this.#draining;
  }

  /** @inheritdoc */
  submit(input: { conversationId: string; message: string; idempotencyKey?: string | undefined }, source: TurnSource = "local") {
    const { turns, now, queueLimit } = this.#o;
    const clientKey = input.idempotencyKey === undefined ? undefined : `${source}:${input.idempotencyKey}`;
    // A repeat of an accepted turn gets that turn even when full or draining: the client is
    // retrying a submit whose answer it lost, and a 503 would tell it the turn was refused.
    const prior = clientKey === undefined ? undefined : turns.getByClientKey(clientKey);
    if (prior) return { turnId: prior.id, created: false };
    if (this.#draining) throw new DrainingError();
    if (source === "local") this.#checkBudget();
    const c = turns.counts();
    if (c.accepted + c.delivering >= queueLimit) throw new QueueFullError(queueLimit);
    const sessionKey = sessionKeyFor(input.conversationId);
    // Ended below before any await: launched with the committed turn, or released.
    const slot = source === "local" ? this.#o.startNow?.(sessionKey) : undefined;
    let result;
    try {
      const turn = { id: randomUUID(), source, clientKey, conversationId: input.conversationId, sessionKey, message: input.message, now: now() };
      result = turns.insert(turn, slot && { timeoutMs: slot.timeoutMs });
    } catch (err) {
      slot?.release();
      if (isDiskFull(err)) throw new StorageFullError(err);
      // Any other SQLite result code (SQLITE_BUSY, SQLITE_IOERR_*, ...): the store, not the request.
      if (isStoreError(err)) throw new StorageUnavailableError(writeErrorCode(err), err);
      throw err;
    }
    if (result.started) slot!.launch(result.turn);
    else slot?.release();
    if (result.created) this.#o.onSubmitted();
    return { turnId: result.turn.id, created: result.created };
  }

  /** @throws BudgetExceededError when the budget refuses new turns now (never for central turns: they do not come here) */
  #checkBudget(): void {
    const b = this.#o.budget;
    if (!b) return;
    const v = b.verdict();
    if (v && b.refusing(v)) throw new BudgetExceededError(v.used, v.limit, secondsUntilReset(v, this.#o.now()));
  }

  /**
   * Take a turn claimed from the control plane into the queue under its lease (idempotent; see
   * {@link AcceptOutcome}). The session key comes from gateway/session-key.ts.
   * @throws Error without a central store; SqliteError (SQLITE_FULL) with nothing half-written
   */
  acceptClaim(claimed: ClaimedTurnInput, nowMs: number): AcceptOutcome {
    return this.#central().acceptClaim(claimed, nowMs);
  }

  /**
   * Record a claimed turn whose lease expired before it arrived: never delivered, never reported.
   * @returns true if a turn in flight here was stopped (delivery must drop it)
   */
  rejectExpiredClaim(claimed: ClaimedTurnInput, nowMs: number, reason: string): boolean {
    return this.#central().rejectExpiredClaim(claimed, nowMs, reason);
  }

  #central(): CentralTurnStore {
    if (!this.#o.central) throw new Error("central turns need a control plane (no central store configured)");
    return this.#o.central;
  }

  /** @inheritdoc */
  get(turnId: string): TurnView | undefined {
    const t = this.#o.turns.get(turnId);
    return t ? toTurnView(t) : undefined;
  }

  /** @inheritdoc */
  waitFinished(turnId: string, timeoutMs: number, endOnStop = false): Promise<TurnView | undefined> {
    const view = this.get(turnId);
    if (!view || view.state === "done" || view.state === "failed" || timeoutMs <= 0) return Promise.resolve(view);
    return new Promise((resolve) => {
      const set = this.#waiters.get(turnId) ?? new Set();
      this.#waiters.set(turnId, set);
      const finish = () => {
        clearTimeout(timer);
        set.delete(finish);
        this.#endOnStop.delete(finish);
        if (set.size === 0) this.#waiters.delete(turnId);
        // Runs from a timer or from finished(): a read error must neither throw there nor leave
        // the request hanging; the client sees the last view it had and asks again.
        let latest = view;
        try {
          latest = this.get(turnId) ?? view;
        } catch {
          // keep `view`
        }
        resolve(latest);
      };
      const timer = setTimeout(finish, timeoutMs);
      set.add(finish);
      if (endOnStop) this.#endOnStop.add(finish);
    });
  }

  /**
   * Answer the pending waits asked to end on stop (`POST /v1/turns?wait=`) now, each with its
   * turn's current view (shutdown, before the local API closes): such a client learns its stored
   * turn's id rather than seeing a cut socket. `GET` long-polls are left to be cut: their client
   * has the id and asks again once the daemon is back (the `turn` CLI does).
   */
  endWaits(): void {
    for (const w of [...this.#endOnStop]) w();
  }

  /** Delivery finished a turn: release its long-pollers. */
  finished(turnId: string): void {
    for (const w of [...(this.#waiters.get(turnId) ?? [])]) w();
  }
}
