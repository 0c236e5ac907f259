/**
 * Delivery paused by two sequences at once (issue 14): a key rotation (daemon/rotation.ts
 * `drainAndRestart`) while an OpenClaw version change holds delivery paused between its drain and
 * its health gate (the drain/resume ports of daemon/upgrade-wiring.ts). Each pause is a hold of
 * its own: delivery starts again only once the last is released. Real SQLite TurnStore, the
 * in-process fake gateway connection (delivery-harness.ts), the real rotation sequence.
 */
import { describe, expect, it } from "vitest";
import { drainAndRestart } from "../../src/daemon/rotation.ts";
import type { RestartCause } from "../../src/supervisor/state.ts";
import { pausePorts } from "../../src/turns/delivery-pause.ts";
import { okReply } from "./fake-gateway.ts";
import { db, delivery, gw, setup, start, submit, useDeliveryHarness, whenFinished } from "./delivery-harness.ts";

useDeliveryHarness();

/** The version change's drain/resume ports over delivery, as daemon/upgrade-wiring.ts builds them. */
const upgradePorts = () => pausePorts(delivery, 1_000);

/** Give the dispatcher a chance to start what it may (it starts nothing while paused). */
async function letDispatch(): Promise<void> {
  delivery.notify();
  await new Promise((r) => setTimeout(r, 100));
}

describe("delivery paused by a version change and a rotation at once", () => {
  it("stays paused until both are released; a turn submitted meanwhile is delivered once, after the last release", async () => {
    setup();
    gw.handlers.agent = async (p) => okReply(`re: ${p.message}`);
    start();
    const upgrade = upgradePorts();
    expect(await upgrade.drain()).toBe(0); // the version change: drained, the gateway about to be switched
    const restarts: RestartCause[] = [];
    const left = await drainAndRestart({ delivery, supervisor: { requestRestart: (c) => void restarts.push(c) } }, "rotation", 1_000);
    expect(left).toBe(0);
    expect(restarts).toEqual(["rotation"]);

    const id = submit("c", "while switching");
    await letDispatch();
    expect(gw.callsOf("agent"), "no turn goes to a gateway being switched").toHaveLength(0);
    expect(db.turns.get(id)?.state).toBe("accepted");

    upgrade.resume(); // the health gate passed
    expect(await whenFinished(id)).toMatchObject({ state: "done", reply: "re: while switching" });
    expect(gw.callsOf("agent")).toHaveLength(1);

    // A release given twice counts once: the next pause still holds delivery.
    upgrade.resume();
    const again = upgradePorts();
    await again.drain();
    const later = submit("c", "later");
    await letDispatch();
    expect(db.turns.get(later)?.state).toBe("accepted");
    again.resume();
    expect(await whenFinished(later)).toMatchObject({ state: "done" });
    expect(gw.callsOf("agent").map((c) => c.params.message)).toEqual(["while switching", "later"]);
  });
});
