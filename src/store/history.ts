/**
 * Bounded history (issue 10): deleting finished turns once nobody needs them, so the database
 * stops growing with every turn.
 *
 * A turn may go only when it is finished (`done`/`failed`) and its result is acknowledged: a
 * local turn as soon as it finished, a central one once the control plane took its report or it
 * was dropped (reported_at set, or lease_lost_at; see {@link OUTBOX}). Accepted, delivering and
 * unreported turns are never touched. Among those, a turn goes when it finished more than
 * `maxAgeMs` ago, or when more than `maxCount` finished turns are kept (oldest first); never
 * one finished less than `minAgeMs` ago, so a client polling it or retrying its submit (same
 * idempotency key) within that time still finds it. Its `kv` entries (the reason of a dropped
 * report) go with it. Deleting is done in small batches, each one short transaction, oldest first.
 */
import { DROPPED_REPORT_KEY, OUTBOX } from "./central.ts";
import type { Db } from "./db.ts";
import { observeWrite, type WriteObserver } from "./write-faults.ts";

/** How long finished turns are kept (the TURN_RETENTION_* settings). Times are ms. */
export type RetentionPolicy = {
  /** A finished, acknowledged turn older than this (since finished_at) is deleted. */
  maxAgeMs: number;
  /** Beyond this many finished turns, the oldest acknowledged ones are deleted. */
  maxCount: number;
  /** No turn is deleted sooner than this after it finished, whatever the count. */
  minAgeMs: number;
};

/** One selection of a batch: acknowledged finished turns that finished before `before` (epoch ms), oldest first, at most `limit`. */
export type PruneSelection = { rule: "count" | "age"; before: number; limit: number };

/**
 * What the next batch may delete (pure). The count rule first: the oldest `finished - maxCount`
 * turns, if old enough; then the age rule. Each selection holds at most `batch` turns.
 * @param finished number of finished turns kept now (TurnStore.counts: done + failed)
 */
export function planPruneBatch(nowMs: number, finished: number, policy: RetentionPolicy, batch: number): PruneSelection[] {
  const plan: PruneSelection[] = [];
  const excess = finished - policy.maxCount;
  if (excess > 0) plan.push({ rule: "count", before: nowMs - policy.minAgeMs, limit: Math.min(batch, excess) });
  plan.push({ rule: "age", before: nowMs - Math.max(policy.maxAgeMs, policy.minAgeMs), limit: batch });
  return plan;
}

/** What one batch deleted. */
export type PruneResult = { turns: number; kv: number };

/**
 * Exported so a test can read its plan: it must walk `turns_finished` from the oldest, never
 * scan the table. Left to itself the planner prefers `turns_state_created (state=?)` and sorts
 * every finished turn in a temp B-tree on each batch, hence INDEXED BY. Finished rows always
 * have finished_at (delivery, leases and claims set it).
 */
export const PRUNE_CANDIDATES_SQL = `SELECT id FROM turns INDEXED BY turns_finished
  WHERE state IN ('done', 'failed') AND finished_at < @before AND NOT (${OUTBOX})
  ORDER BY finished_at LIMIT @limit`;

/** Deletes of the history pruner. Synchronous; one transaction per batch. */
export class HistoryStore {
  readonly #db: Db;
  readonly #s;
  readonly #w: WriteObserver | undefined;

  /** @param writes told the outcome of every write, under the site `history.pruneBatch` (write-faults.ts) */
  constructor(db: Db, writes?: WriteObserver) {
    this.#db = db;
    this.#w = writes;
    this.#s = {
      candidates: db.prepare(PRUNE_CANDIDATES_SQL).pluck(),
      deleteTurn: db.prepare(`DELETE FROM turns WHERE id = ? AND state IN ('done', 'failed') AND NOT (${OUTBOX})`),
      deleteKv: db.prepare(`DELETE FROM kv WHERE key = ?`),
      finished: db.prepare(`SELECT COALESCE(SUM(n), 0) FROM turn_counts WHERE state IN ('done', 'failed')`).pluck(),
    };
  }

  /** Finished turns kept now (O(1): the counters of db.ts migration 5). */
  finishedCount(): number {
    return this.#s.finished.get() as number;
  }

  /**
   * Delete the turns the selections name (in order, in one transaction) with their kv entries.
   * @throws SqliteError (e.g. SQLITE_BUSY); then nothing was deleted
   */
  pruneBatch(selections: readonly PruneSelection[]): PruneResult {
    return observeWrite(this.#w, "history.pruneBatch", this.#db.transaction((): PruneResult => {
      const out = { turns: 0, kv: 0 };
      for (const sel of selections) {
        if (sel.limit <= 0) continue;
        for (const id of this.#s.candidates.all({ before: sel.before, limit: sel.limit }) as string[]) {
          out.turns += this.#s.deleteTurn.run(id).changes;
          out.kv += this.#s.deleteKv.run(DROPPED_REPORT_KEY + id).changes;
        }
      }
      return out;
    }));
  }
}
