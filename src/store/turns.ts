/**
 * The durable turn queue.
 *
 * States: `accepted` → `delivering` → `done`, or `failed` (from either). A turn leaves
 * `delivering` only through {@link TurnStore.complete} or {@link TurnStore.fail}, each a single
 * conditional UPDATE, so a result is recorded at most once even if two paths race.
 * Turns of one gateway session are delivered one at a time, oldest first: concurrent runs on
 * one session conflict upstream, and a transcript with two turns interleaved could hand one turn
 * the other's reply. Usually a session is one conversation; central turns may name a session
 * (`sessionKey`) that several conversations share.
 */
import { commitWithoutFsync, type Db } from "./db.ts";
import { usageOf, type TurnUsage, type UsageColumns } from "./usage.ts";
import { observeWrite, type WriteObserver } from "./write-faults.ts";

/** Lifecycle state of a turn. */
export type TurnState = "accepted" | "delivering" | "done" | "failed";

/** Where a turn came from. */
export type TurnSource = "local" | "central";

/** A turn row. Times are Unix epoch milliseconds. */
export type Turn = {
  id: string;
  source: TurnSource;
  clientKey: string | null;
  conversationId: string;
  sessionKey: string;
  message: string;
  state: TurnState;
  attempts: number;
  /** Key of the current gateway run request: the turn id, or `<id>~<n>` after the gateway ended custody of an earlier one. */
  idempotencyKey: string | null;
  runId: string | null;
  gatewayGeneration: number | null;
  reply: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: number;
  updatedAt: number;
  firstDeliveredAt: number | null;
  deadlineAt: number | null;
  finishedAt: number | null;
  /** Token usage as the gateway reported it (store/usage.ts); null when unknown (not finished, or not reported). */
  usage: TurnUsage | null;
};

/** Input for {@link TurnStore.insert}. */
export type NewTurn = {
  id: string;
  source: TurnSource;
  clientKey?: string | undefined;
  conversationId: string;
  sessionKey: string;
  message: string;
  now: number;
};

/**
 * Ask {@link TurnStore.insert} to commit the new turn straight into `delivering`, its first
 * delivery attempt counted, in the same transaction as the insert (one fsync instead of two on
 * the local API's path). `timeoutMs` fixes its deadline (`now + timeoutMs`), as startDelivery does.
 */
export type StartAtInsert = { timeoutMs: number };

/** Count of turns per state. */
export type TurnCounts = Record<TurnState, number>;

type Row = {
  id: string;
  source: TurnSource;
  client_key: string | null;
  conversation_id: string;
  session_key: string;
  message: string;
  state: TurnState;
  attempts: number;
  idempotency_key: string | null;
  run_id: string | null;
  gateway_generation: number | null;
  reply: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: number;
  updated_at: number;
  first_delivered_at: number | null;
  deadline_at: number | null;
  finished_at: number | null;
} & UsageColumns;

/** Named parameters of a usage for the UPDATEs of complete and fail (all NULL without usage). */
function usageParams(u: TurnUsage | undefined) {
  return {
    uInput: u?.input ?? null,
    uOutput: u?.output ?? null,
    uCacheRead: u?.cacheRead ?? null,
    uCacheWrite: u?.cacheWrite ?? null,
    uProvider: u?.provider ?? null,
    uModel: u?.model ?? null,
  };
}

const SET_USAGE = `usage_input = @uInput, usage_output = @uOutput, usage_cache_read = @uCacheRead,
                usage_cache_write = @uCacheWrite, usage_provider = @uProvider, usage_model = @uModel`;

function toTurn(r: Row): Turn {
  return {
    id: r.id,
    source: r.source,
    clientKey: r.client_key,
    conversationId: r.conversation_id,
    sessionKey: r.session_key,
    message: r.message,
    state: r.state,
    attempts: r.attempts,
    idempotencyKey: r.idempotency_key,
    runId: r.run_id,
    gatewayGeneration: r.gateway_generation,
    reply: r.reply,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    firstDeliveredAt: r.first_delivered_at,
    deadlineAt: r.deadline_at,
    finishedAt: r.finished_at,
    usage: usageOf(r),
  };
}

/**
 * The query behind {@link TurnStore.counts}: the per-state counters that triggers keep (db.ts,
 * migration 5), four rows whatever the size of the history. Exported so a test reads its plan.
 */
export const TURN_COUNTS_SQL = `SELECT state, n FROM turn_counts`;

/** Queries over the `turns` table. All methods are synchronous and each is one transaction. */
export class TurnStore {
  readonly #db: Db;
  readonly #stmts;
  readonly #w: WriteObserver | undefined;

  /** @param writes told the outcome of every write, under sites `turns.<method>` (write-faults.ts) */
  constructor(db: Db, writes?: WriteObserver) {
    this.#db = db;
    this.#w = writes;
    this.#stmts = {
      insert: db.prepare(
        `INSERT INTO turns (id, source, client_key, conversation_id, session_key, message, state, created_at, updated_at)
         VALUES (@id, @source, @clientKey, @conversationId, @sessionKey, @message, 'accepted', @now, @now)
         ON CONFLICT DO NOTHING`,
      ),
      insertDelivering: db.prepare(
        `INSERT INTO turns (id, source, client_key, conversation_id, session_key, message, state, attempts, idempotency_key,
                            created_at, updated_at, first_delivered_at, deadline_at)
         VALUES (@id, @source, @clientKey, @conversationId, @sessionKey, @message, 'delivering', 1, @id,
                 @now, @now, @now, @now + @timeoutMs)
         ON CONFLICT DO NOTHING`,
      ),
      sessionBusy: db.prepare(`SELECT 1 FROM turns WHERE session_key = ? AND state IN ('accepted', 'delivering') LIMIT 1`),
      get: db.prepare(`SELECT * FROM turns WHERE id = ?`),
      getByClientKey: db.prepare(`SELECT * FROM turns WHERE client_key = ?`),
      deliverable: db.prepare(
        `SELECT * FROM turns t
          WHERE t.state = 'accepted'
            AND NOT EXISTS (SELECT 1 FROM turns d WHERE d.session_key = t.session_key AND d.state = 'delivering')
            AND NOT EXISTS (SELECT 1 FROM turns o WHERE o.session_key = t.session_key AND o.state = 'accepted'
                              AND (o.created_at < t.created_at OR (o.created_at = t.created_at AND o.rowid < t.rowid)))
          ORDER BY t.created_at, t.rowid LIMIT ?`,
      ),
      startDelivery: db.prepare(
        `UPDATE turns SET state = 'delivering', attempts = attempts + 1, updated_at = @now,
                idempotency_key = COALESCE(idempotency_key, id),
                first_delivered_at = COALESCE(first_delivered_at, @now),
                deadline_at = COALESCE(deadline_at, @now + @timeoutMs)
          WHERE id = @id AND state IN ('accepted', 'delivering')
          RETURNING *`,
      ),
      resumeDelivery: db.prepare(
        `UPDATE turns SET state = 'delivering', updated_at = @now, deadline_at = COALESCE(deadline_at, @now + @timeoutMs)
          WHERE id = @id AND state = 'accepted' AND first_delivered_at IS NOT NULL
          RETURNING *`,
      ),
      setRun: db.prepare(
        `UPDATE turns SET run_id = @runId, gateway_generation = @generation, updated_at = @now
          WHERE id = @id AND state = 'delivering'`,
      ),
      rekey: db.prepare(
        `UPDATE turns SET idempotency_key = @key, run_id = NULL, gateway_generation = NULL, updated_at = @now
          WHERE id = @id AND state = 'delivering'`,
      ),
      complete: db.prepare(
        `UPDATE turns SET state = 'done', reply = @reply, finished_at = @now, updated_at = @now, ${SET_USAGE}
          WHERE id = @id AND state = 'delivering'`,
      ),
      fail: db.prepare(
        `UPDATE turns SET state = 'failed', error_code = @code, error_message = @message, finished_at = @now, updated_at = @now, ${SET_USAGE}
          WHERE id = @id AND state IN ('accepted', 'delivering')`,
      ),
      delivering: db.prepare(`SELECT * FROM turns WHERE state = 'delivering' ORDER BY created_at, rowid`),
      counts: db.prepare(TURN_COUNTS_SQL),
    };
  }

  /**
   * Insert a new turn in state `accepted`. Idempotent on `id` and on `clientKey`: a repeat
   * returns the existing row with `created: false`. With `start`, a turn whose gateway session has
   * no turn accepted or delivering is committed straight into `delivering` (attempt 1, idempotency
   * key = id, deadline `now + start.timeoutMs`) and `started` is true: the caller must then run its
   * delivery (after a crash it is reconciled like any turn left `delivering`). Otherwise it waits
   * its session's turn in `accepted`, as without `start`.
   * @returns `{ turn, created, started }`
   * @throws SqliteError (code `SQLITE_FULL` when the disk is full); nothing is half-written
   */
  insert(t: NewTurn, start?: StartAtInsert): { turn: Turn; created: boolean; started: boolean } {
    return observeWrite(this.#w, "turns.insert", this.#db.transaction(() => {
      if (t.clientKey !== undefined) {
        const prior = this.#stmts.getByClientKey.get(t.clientKey) as Row | undefined;
        if (prior) return { turn: toTurn(prior), created: false, started: false };
      }
      const row = { ...t, clientKey: t.clientKey ?? null };
      const startNow = start !== undefined && this.#stmts.sessionBusy.get(t.sessionKey) === undefined;
      const info = startNow ? this.#stmts.insertDelivering.run({ ...row, timeoutMs: start.timeoutMs }) : this.#stmts.insert.run(row);
      const created = info.changes === 1;
      return { turn: toTurn(this.#stmts.get.get(t.id) as Row), created, started: created && startNow };
    }));
  }

  /** The turn with this id, or undefined. */
  get(id: string): Turn | undefined {
    const row = this.#stmts.get.get(id) as Row | undefined;
    return row ? toTurn(row) : undefined;
  }

  /** The turn submitted with this client key (`<source>:<key>`), or undefined. */
  getByClientKey(clientKey: string): Turn | undefined {
    const row = this.#stmts.getByClientKey.get(clientKey) as Row | undefined;
    return row ? toTurn(row) : undefined;
  }

  /** Up to `limit` accepted turns that may start now: the oldest of each gateway session with none delivering. */
  deliverable(limit: number): Turn[] {
    return (this.#stmts.deliverable.all(limit) as Row[]).map(toTurn);
  }

  /**
   * Move a turn to `delivering` and count one delivery attempt. The deadline is fixed at the
   * first delivery (`now + timeoutMs`) and kept on retries.
   * @returns the updated turn, or undefined if it is already done or failed
   */
  startDelivery(id: string, now: number, timeoutMs: number): Turn | undefined {
    // One statement (RETURNING): no read after the write that could fail on its own.
    const row = observeWrite(this.#w, "turns.startDelivery", () => this.#stmts.startDelivery.get({ id, now, timeoutMs })) as Row | undefined;
    return row ? toTurn(row) : undefined;
  }

  /**
   * Move a turn that was sent before (first_delivered_at set; e.g. a central turn claimed again
   * after its lease was lost) back to `delivering` without counting an attempt: it is to be
   * reconciled against the transcript, and counts an attempt only if it is sent again. Its
   * deadline is kept, or set to `now + timeoutMs` if it was cleared.
   * @returns the updated turn, or undefined if it is not an accepted turn sent before
   */
  resumeDelivery(id: string, now: number, timeoutMs: number): Turn | undefined {
    const row = observeWrite(this.#w, "turns.resumeDelivery", () => this.#stmts.resumeDelivery.get({ id, now, timeoutMs })) as Row | undefined;
    return row ? toTurn(row) : undefined;
  }

  /**
   * Remember the gateway run id (and the gateway generation that accepted it) of a delivering
   * turn. Committed without an fsync (db.ts commitWithoutFsync): it is a hint for reconciling
   * within the same gateway process (`agent.wait`), and the gateway is running the turn meanwhile,
   * so the event loop should not wait for the disk. A power cut may lose it; the transcript then
   * decides, as it does after any gateway or daemon restart.
   */
  setRun(id: string, runId: string, generation: number, now: number): void {
    observeWrite(this.#w, "turns.setRun", () => commitWithoutFsync(this.#db, () => this.#stmts.setRun.run({ id, runId, generation, now })));
  }

  /**
   * Use a new idempotency key for the next send (the gateway ended custody of the previous
   * request without running it). Clears the run id.
   */
  rekey(id: string, key: string, now: number): void {
    observeWrite(this.#w, "turns.rekey", () => this.#stmts.rekey.run({ id, key, now }));
  }

  /**
   * Record the reply and, when known, the turn's token usage (a trigger adds it to the day's
   * totals in the same transaction, db.ts migration 7).
   * @returns false if the turn was not delivering (already finished): nothing changed.
   */
  complete(id: string, reply: string, now: number, usage?: TurnUsage): boolean {
    return observeWrite(this.#w, "turns.complete", () => this.#stmts.complete.run({ id, reply, now, ...usageParams(usage) })).changes === 1;
  }

  /**
   * Record a failure with a stable code, and the tokens the failed run spent when the gateway
   * reported them (as {@link complete}). @returns false if the turn had already finished.
   */
  fail(id: string, code: string, message: string, now: number, usage?: TurnUsage): boolean {
    return observeWrite(this.#w, "turns.fail", () => this.#stmts.fail.run({ id, code, message, now, ...usageParams(usage) })).changes === 1;
  }

  /** Every turn in `delivering`, oldest first (after a restart: the ones to reconcile). */
  delivering(): Turn[] {
    return (this.#stmts.delivering.all() as Row[]).map(toTurn);
  }

  /** Number of turns in each state (finished ones: those still kept, see store/history.ts). O(1). */
  counts(): TurnCounts {
    const out: TurnCounts = { accepted: 0, delivering: 0, done: 0, failed: 0 };
    for (const r of this.#stmts.counts.all() as { state: TurnState; n: number }[]) out[r.state] = r.n;
    return out;
  }
}
