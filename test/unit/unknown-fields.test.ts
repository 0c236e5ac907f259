/** Table-driven: which keys of a response a lenient schema dropped (src/sync/unknown-fields.ts). */
import { expect, it } from "vitest";
import { claimResponseSchema, heartbeatResponseSchema } from "../../src/sync/contract.ts";
import { MAX_UNKNOWN_FIELDS, unknownFields } from "../../src/sync/unknown-fields.ts";

const id = { accountId: "a", runtimeId: "r" };
const turn = { turnId: "t", conversationId: "c", message: "m", leaseId: "l", leaseExpiresAt: "2026-01-01T00:00:00.000Z", attempt: 1 };

it.each([
  { name: "nothing extra", raw: { ...id, turns: [turn] }, want: [] },
  { name: "top level", raw: { ...id, turns: [], v2: { deep: 1 } }, want: ["v2"] },
  { name: "in a list element", raw: { ...id, turns: [turn, { ...turn, priority: 3 }] }, want: ["turns.1.priority"] },
  { name: "a long key is cut", raw: { ...id, turns: [], ["k".repeat(100)]: 1 }, want: ["k".repeat(64)] },
])("claim response: $name", ({ raw, want }) => {
  expect(unknownFields(raw, claimResponseSchema.parse(raw))).toEqual(want);
});

it("inside a discriminated union member", () => {
  const raw = { ...id, leases: [{ turnId: "t", leaseId: "l", status: "lost", reason: "x", lostAt: "now" }] };
  expect(unknownFields(raw, heartbeatResponseSchema.parse(raw))).toEqual(["leases.0.lostAt"]);
});

it("names at most MAX_UNKNOWN_FIELDS", () => {
  const raw: Record<string, unknown> = { ...id, turns: [] };
  for (let i = 0; i < 40; i++) raw[`f${i}`] = i;
  expect(unknownFields(raw, claimResponseSchema.parse(raw))).toHaveLength(MAX_UNKNOWN_FIELDS);
});
