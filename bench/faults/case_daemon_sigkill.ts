/**
 * The daemon itself SIGKILLed while the gateway is running a turn. Its gateway lives on as an
 * orphan; the next daemon (relaunched at once, as systemd's Restart=always would) must reap it,
 * start its own, and finish the turn exactly once by reconciling it from the transcript.
 */
import { getJson, until } from "../../test/e2e/harness.ts";
import { describeEvent, logRecords, ms, submit, waitEvent } from "./observe.ts";
import { BOOT_MS } from "./real-session.ts";
import { inflightTurn, recover, sharedRealCase } from "./runner.ts";

export const daemonSigkill = sharedRealCase({
  id: "daemon-sigkill",
  fault: "Daemon SIGKILL mid-turn",
  how:
    "`kill -KILL` of the daemon while the real gateway's model call for a turn is under way (`delay=4000`); the daemon is relaunched at once " +
    "and a turn is submitted as soon as its API answers. Detected at the new daemon's first event (expected: reaping the orphaned gateway).",
  async measure(s) {
    const site = s.site;
    const inflight = await inflightTurn(s, "dkill-inflight", "dkill-a", 4000);
    const orphan = s.gatewayPidFromFile();
    const injectAt = Date.now();
    s.daemon.proc.kill("SIGKILL");
    await s.daemon.exited;
    const killedAt = Date.now();
    const daemon = s.relaunch();
    await until("the new daemon's API", async () => (await getJson(site, "/livez")).status === 200, 60_000, 20);
    const apiAt = Date.now();
    const during = await submit(site, "dkill-during", "dkill-b");
    const first = await waitEvent(site, injectAt, "the new daemon's first event", () => true, 60_000);
    const ready = await waitEvent(site, injectAt, "ready again", (e) => e.state === "ready", BOOT_MS);
    const { again, rows, verdict } = await recover(site, "dkill-fresh", [inflight, during]);
    const reaped = logRecords(daemon.logs).some((r) => r.msg.includes("stopping a gateway left running by a previous daemon"));
    return {
      injectAt,
      detectedAt: first.at,
      servingAt: again.doneAt,
      verdict,
      notes: [
        `daemon gone ${ms(killedAt - injectAt)} ms after the signal, new daemon's API up after ${ms(apiAt - injectAt)} ms`,
        `first event ${describeEvent(first)} (orphan gateway pid ${orphan} ${reaped ? "reaped" : "NOT reaped"})`,
        `hello-ok again after ${ms(ready.at - injectAt)} ms`,
        `in-flight turn done after ${rows.get(inflight.id)?.attempts} attempt(s); turn submitted during recovery done`,
      ],
    };
  },
});
