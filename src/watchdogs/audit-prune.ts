/**
 * The audit-trail pruner: every {@link HISTORY_PRUNE_INTERVAL_MS}, delete audit entries past their
 * retention (store/audit-retention.ts says which: AUDIT_RETENTION_DAYS, AUDIT_MAX_ROWS, and with a
 * control plane the hard cap AUDIT_UNSHIPPED_MAX_ROWS on entries not yet shipped), in batches of
 * {@link AUDIT_PRUNE_BATCH}, one short transaction each, pausing between them. Unshipped entries
 * deleted past the hard cap are recorded as one `audit.overflow` entry per pass: never silently lost.
 */
import type { Logger } from "pino";
import type { AuditLog } from "../core/audit.ts";
import type { Clock } from "../core/clock.ts";
import type { AuditPruneResult, AuditStore } from "../store/audit.ts";
import { planAuditPrune, type AuditRetentionPolicy } from "../store/audit-retention.ts";
import { HISTORY_PRUNE_INTERVAL_MS, HISTORY_PRUNE_PAUSE_MS, HISTORY_PRUNE_RETRY_MS, prunePeriodically } from "./history-prune.ts";
import type { Watchdog } from "./watchdog.ts";

/** Most entries one batch deletes per rule (an entry is one row and two small index entries). */
export const AUDIT_PRUNE_BATCH = 500;

/** Options of {@link AuditPruneWatchdog}; the *Ms and batch fields default to the constants above. */
export type AuditPruneOptions = {
  store: Pick<AuditStore, "counts" | "pruneBatch">;
  policy: AuditRetentionPolicy;
  /** Where the overflow is recorded. */
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  intervalMs?: number | undefined;
  batch?: number | undefined;
  pauseMs?: number | undefined;
};

/** Periodic pruning of the audit trail (see the module comment). */
export class AuditPruneWatchdog implements Watchdog {
  readonly name = "audit-prune";
  readonly #o: AuditPruneOptions;

  constructor(o: AuditPruneOptions) {
    this.#o = o;
  }

  /** @inheritdoc */
  check(): undefined {
    return undefined;
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    await prunePeriodically({ clock: o.clock, log: o.log, what: "the audit trail", intervalMs: o.intervalMs ?? HISTORY_PRUNE_INTERVAL_MS, retryMs: HISTORY_PRUNE_RETRY_MS }, (sig) => this.pruneOnce(sig), signal);
  }

  /**
   * One pass: batches until one deletes nothing (or `signal` aborts); records the overflow.
   * @throws SqliteError (what earlier batches deleted stays deleted, and their overflow is recorded)
   */
  async pruneOnce(signal?: AbortSignal): Promise<AuditPruneResult> {
    const { store, policy, clock, log } = this.#o;
    const total = { deleted: 0, overflow: 0 };
    try {
      while (!signal?.aborted) {
        const r = store.pruneBatch(planAuditPrune(clock.now(), store.counts(), policy, this.#o.batch ?? AUDIT_PRUNE_BATCH));
        if (r.deleted === 0) break;
        total.deleted += r.deleted;
        total.overflow += r.overflow;
        await clock.sleep(this.#o.pauseMs ?? HISTORY_PRUNE_PAUSE_MS, signal);
      }
    } finally {
      if (total.overflow > 0) {
        log.error({ overflow: total.overflow, capRows: policy.unshippedMaxRows }, "audit entries the control plane has not acknowledged were deleted past AUDIT_UNSHIPPED_MAX_ROWS");
        this.#o.audit.record({ actor: "daemon", action: "audit.overflow", cause: "unshipped entries past AUDIT_UNSHIPPED_MAX_ROWS", detail: { deleted: total.overflow, capRows: policy.unshippedMaxRows } });
      }
      if (total.deleted > 0) log.info(total, "pruned audit entries past their retention");
    }
    return total;
  }
}
