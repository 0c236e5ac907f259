/**
 * The history pruner: every {@link HISTORY_PRUNE_INTERVAL_MS}, delete finished turns whose result
 * is acknowledged and whose retention has passed (store/history.ts says which), so the database
 * stops growing with every turn (issue 10). It works in batches of {@link HISTORY_PRUNE_BATCH}
 * rows, one short transaction each, and pauses between them so delivery and the local API get
 * the database and the event loop in between. A failed pass is logged and tried again after
 * {@link HISTORY_PRUNE_RETRY_MS}; it never stops the daemon. Reports nothing to /health.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import { planPruneBatch, type PruneResult, type PruneSelection, type RetentionPolicy } from "../store/history.ts";
import type { Watchdog } from "./watchdog.ts";

/** Time between pruning passes (ms): retention is counted in hours and days, so a pass every 10 minutes is plenty. */
export const HISTORY_PRUNE_INTERVAL_MS = 600_000;
/** Next try after a failed pass (ms). */
export const HISTORY_PRUNE_RETRY_MS = 60_000;
/**
 * Most turns one batch (one transaction) deletes per rule. With 1,000,000 turns in a 937 MiB
 * file a deleted turn cost about 190 µs of CPU (random pages of six indexes; 25 µs at 50,000
 * turns), so a batch holds the event loop for about 10 ms (bench/store-history.ts, BENCHMARKS.md).
 */
export const HISTORY_PRUNE_BATCH = 50;
/** Pause between two batches (ms), so a large backlog never holds the database or the event loop for long. */
export const HISTORY_PRUNE_PAUSE_MS = 20;

/** The store side (store/history.ts HistoryStore). */
export type HistoryPort = {
  finishedCount(): number;
  pruneBatch(selections: readonly PruneSelection[]): PruneResult;
};

/** Options of {@link HistoryPruneWatchdog}; the *Ms and batch fields default to the constants above. */
export type HistoryPruneOptions = {
  history: HistoryPort;
  policy: RetentionPolicy;
  clock: Clock;
  log: Logger;
  intervalMs?: number | undefined;
  retryMs?: number | undefined;
  batch?: number | undefined;
  pauseMs?: number | undefined;
};

/** Periodic pruning of the turn history (see the module comment). */
export class HistoryPruneWatchdog implements Watchdog {
  readonly name = "history-prune";
  readonly #o: HistoryPruneOptions;

  constructor(opts: HistoryPruneOptions) {
    this.#o = opts;
  }

  /** @inheritdoc */
  check(): undefined {
    return undefined;
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    await prunePeriodically({ clock: o.clock, log: o.log, what: "the turn history", intervalMs: o.intervalMs ?? HISTORY_PRUNE_INTERVAL_MS, retryMs: o.retryMs ?? HISTORY_PRUNE_RETRY_MS }, (sig) => this.pruneOnce(sig), signal);
  }

  /**
   * One pass: batches until one deletes nothing (or `signal` aborts). Logs what it deleted.
   * @returns the turns and kv entries deleted
   * @throws SqliteError from the store (what earlier batches deleted stays deleted)
   */
  async pruneOnce(signal?: AbortSignal): Promise<PruneResult & { batches: number }> {
    const { history, policy, clock, log } = this.#o;
    const batch = this.#o.batch ?? HISTORY_PRUNE_BATCH;
    const total = { turns: 0, kv: 0, batches: 0 };
    while (!signal?.aborted) {
      const r = history.pruneBatch(planPruneBatch(clock.now(), history.finishedCount(), policy, batch));
      if (r.turns === 0) break;
      total.turns += r.turns;
      total.kv += r.kv;
      total.batches += 1;
      await clock.sleep(this.#o.pauseMs ?? HISTORY_PRUNE_PAUSE_MS, signal);
    }
    if (total.turns > 0) log.info({ ...total, kept: history.finishedCount() }, "pruned finished turns past their retention");
    return total;
  }
}

/**
 * Run `pass` every `intervalMs` until `signal` aborts; a pass that throws is logged (with `what`)
 * and the next one comes after `retryMs` instead. Never rejects. Shared by the turn-history and
 * audit-trail pruners.
 */
export async function prunePeriodically(
  o: { clock: Clock; log: Logger; what: string; intervalMs: number; retryMs: number },
  pass: (signal: AbortSignal) => Promise<unknown>,
  signal: AbortSignal,
): Promise<void> {
  let waitMs = o.intervalMs;
  while (!signal.aborted) {
    await o.clock.sleep(waitMs, signal);
    if (signal.aborted) break;
    try {
      await pass(signal);
      waitMs = o.intervalMs;
    } catch (err) {
      waitMs = o.retryMs;
      o.log.warn({ err: (err as Error).message, code: (err as { code?: unknown }).code, retryInMs: waitMs }, `pruning ${o.what} failed`);
    }
  }
}
