import { describe, expect, it } from "vitest";
import { planAuditPrune, type AuditRetentionPolicy } from "../../src/store/audit-retention.ts";

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;
const policy = (o: Partial<AuditRetentionPolicy> = {}): AuditRetentionPolicy => ({ maxAgeMs: 90 * DAY, maxRows: 1000, unshippedMaxRows: 5000, shipping: false, ...o });
const MAX = Number.MAX_SAFE_INTEGER;

describe("planAuditPrune", () => {
  it.each([
    {
      name: "standalone, under the size: only the age rule, over every entry",
      counts: { total: 10, unshipped: 10 },
      p: policy(),
      want: [{ rule: "age", scope: "any", before: NOW - 90 * DAY, limit: 50 }],
    },
    {
      name: "standalone, over the size: the oldest excess first, whatever their shipping",
      counts: { total: 1030, unshipped: 1030 },
      p: policy(),
      want: [
        { rule: "count", scope: "any", before: MAX, limit: 30 },
        { rule: "age", scope: "any", before: NOW - 90 * DAY, limit: 50 },
      ],
    },
    {
      name: "shipping, over the size with few shipped: only shipped ones go, at most as many as there are",
      counts: { total: 1300, unshipped: 1290 },
      p: policy({ shipping: true }),
      want: [
        { rule: "count", scope: "shipped", before: MAX, limit: 10 },
        { rule: "age", scope: "shipped", before: NOW - 90 * DAY, limit: 50 },
      ],
    },
    {
      name: "shipping, over the size with none shipped: nothing by size; unshipped are kept under the cap",
      counts: { total: 3000, unshipped: 3000 },
      p: policy({ shipping: true }),
      want: [{ rule: "age", scope: "shipped", before: NOW - 90 * DAY, limit: 50 }],
    },
    {
      name: "shipping, past the hard cap: the oldest unshipped overflow, one batch at a time",
      counts: { total: 5200, unshipped: 5200 },
      p: policy({ shipping: true }),
      want: [
        { rule: "age", scope: "shipped", before: NOW - 90 * DAY, limit: 50 },
        { rule: "overflow", scope: "unshipped", before: MAX, limit: 50 },
      ],
    },
    {
      name: "standalone ignores the hard cap (everything is subject to age and size)",
      counts: { total: 900, unshipped: 900 },
      p: policy({ unshippedMaxRows: 10 }),
      want: [{ rule: "age", scope: "any", before: NOW - 90 * DAY, limit: 50 }],
    },
  ])("$name", ({ counts, p, want }) => {
    expect(planAuditPrune(NOW, counts, p, 50)).toEqual(want);
  });
});
