/**
 * Retention of the audit trail (pure): which entries the next prune batch may delete. Settings:
 * AUDIT_RETENTION_DAYS (age), AUDIT_MAX_ROWS (size), AUDIT_UNSHIPPED_MAX_ROWS (hard cap).
 *
 * With a control plane configured (`shipping`), only entries it has acknowledged are pruned by age
 * and size; entries not yet shipped are kept, bounded by the hard cap: beyond it the oldest
 * unshipped ones go (rule `overflow`), and the caller records how many as an `audit.overflow`
 * entry. Without a control plane, age and size apply to every entry. Oldest first, in batches.
 */

/** The AUDIT_* settings as the pruner uses them. Times are ms. */
export type AuditRetentionPolicy = {
  /** An entry older than this (by `at`) is deleted (once shipped, when shipping). */
  maxAgeMs: number;
  /** Beyond this many entries, the oldest (shipped, when shipping) are deleted. */
  maxRows: number;
  /** Hard cap on entries not yet shipped (only when shipping). */
  unshippedMaxRows: number;
  /** A control plane is configured: unshipped entries are kept until shipped or past the hard cap. */
  shipping: boolean;
};

/**
 * One selection of a batch: entries of `scope` with `at` before `before` (epoch ms), oldest first
 * (by seq), at most `limit`. `shipped`: shipped_at set; `unshipped`: not set; `any`: all.
 */
export type AuditPruneSelection = { rule: "age" | "count" | "overflow"; scope: "shipped" | "unshipped" | "any"; before: number; limit: number };

/** No time bound. */
const ANY_TIME = Number.MAX_SAFE_INTEGER;

/**
 * What the next batch may delete: the size rule, then the age rule, then (shipping) the hard cap.
 * @param counts entries kept now (`total`) and those not yet shipped (`unshipped`)
 * @param batch most entries one selection holds
 */
export function planAuditPrune(nowMs: number, counts: { total: number; unshipped: number }, policy: AuditRetentionPolicy, batch: number): AuditPruneSelection[] {
  const scope = policy.shipping ? "shipped" : "any";
  const eligible = policy.shipping ? counts.total - counts.unshipped : counts.total;
  const plan: AuditPruneSelection[] = [];
  const excess = counts.total - policy.maxRows;
  if (excess > 0 && eligible > 0) plan.push({ rule: "count", scope, before: ANY_TIME, limit: Math.min(batch, excess, eligible) });
  plan.push({ rule: "age", scope, before: nowMs - policy.maxAgeMs, limit: batch });
  const overflow = counts.unshipped - policy.unshippedMaxRows;
  if (policy.shipping && overflow > 0) plan.push({ rule: "overflow", scope: "unshipped", before: ANY_TIME, limit: Math.min(batch, overflow) });
  return plan;
}
