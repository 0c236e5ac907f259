/** Table-driven: the delivery slots the sync worker may claim for (src/daemon/control-plane.ts, freeSlots). */
import { expect, it } from "vitest";
import { freeSlots } from "../../src/daemon/control-plane.ts";

const base = { draining: false, gatewayState: "ready" as const, concurrency: 4, inFlight: 1, accepted: 1 };

it.each([
  { name: "ready: concurrency less delivering and queued", o: base, want: 2 },
  { name: "never negative", o: { ...base, accepted: 9 }, want: 0 },
  { name: "draining", o: { ...base, draining: true }, want: 0 },
  ...(["stopped", "starting", "backoff", "stopping", "failed"] as const).map((gatewayState) => ({ name: `gateway ${gatewayState}: claim nothing`, o: { ...base, gatewayState }, want: 0 })),
])("$name", ({ o, want }) => {
  expect(freeSlots(o)).toBe(want);
});
