/** PauseHolds and pausePorts (turns/delivery-pause.ts): counted, idempotent holds on delivery. No timers, no disk. */
import { describe, expect, it } from "vitest";
import { PauseHolds, pausePorts, type DeliveryPause } from "../../src/turns/delivery-pause.ts";

describe("PauseHolds", () => {
  it("counts every hold; a release frees only its own, once, and the count never goes below zero", () => {
    let released = 0;
    const holds = new PauseHolds(() => released++);
    const a = holds.take();
    const b = holds.take();
    expect(holds.count).toBe(2);
    a();
    a();
    expect(holds.count).toBe(1);
    expect(released).toBe(1);
    b();
    b();
    expect(holds.count).toBe(0);
    expect(released).toBe(2);
  });
});

describe("pausePorts", () => {
  /** A delivery whose pauses are PauseHolds, as TurnDelivery's are. */
  function fakeDelivery() {
    const holds = new PauseHolds(() => {});
    return { holds, pause: async (): Promise<DeliveryPause> => ({ left: 3, release: holds.take() }) };
  }

  it("drain holds one pause and reports what was left in flight; resume gives it back; a second resume does nothing", async () => {
    const d = fakeDelivery();
    const other = d.holds.take(); // e.g. a rotation's
    const ports = pausePorts(d, 1_000);
    expect(await ports.drain()).toBe(3);
    expect(d.holds.count).toBe(2);
    ports.resume();
    ports.resume();
    expect(d.holds.count).toBe(1);
    other();
    expect(d.holds.count).toBe(0);
  });

  it("a second drain without a resume keeps a single hold", async () => {
    const d = fakeDelivery();
    const ports = pausePorts(d, 1_000);
    await ports.drain();
    await ports.drain();
    expect(d.holds.count).toBe(1);
    ports.resume();
    expect(d.holds.count).toBe(0);
  });
});
