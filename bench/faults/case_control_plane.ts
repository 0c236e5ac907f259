/**
 * The control plane unreachable: the reference control plane is closed (connections refused)
 * while claimed turns are still running in the real gateway, then started again on the same port
 * and database 10 s later. Results must wait in the daemon's outbox and arrive exactly once.
 */
import { getJson, until } from "../../test/e2e/harness.ts";
import { allReported, cpVerdict, enqueueCpTurns } from "./cp-turns.ts";
import { healthCheck, ms, sleep } from "./observe.ts";
import { modelReceived, sharedRealCase } from "./runner.ts";

const OUTAGE_MS = 10_000;
const TURNS = 3;

export const controlPlaneOutage = sharedRealCase({
  id: "control-plane",
  fault: "Control plane unreachable",
  how:
    `${TURNS} turns enqueued at the reference control plane are claimed and running in the real gateway (\`delay=3000\`) when the control plane is closed ` +
    `(connections refused) for ${OUTAGE_MS / 1000} s, then started again on the same port and database. CLAIM_WAIT_MS=5000, HEARTBEAT_INTERVAL_MS=2000, SYNC_BACKOFF_MAX_MS=2000, leases 60 s. ` +
    "Detected at /health control-plane:sync leaving pass; serving again = a turn enqueued after the return is completed and reported.",
  async measure(s) {
    const site = s.site;
    let cp = s.cp!;
    const turns = enqueueCpTurns(cp, Array.from({ length: TURNS }, (_, i) => `cp-outage-${i}`), " delay=3000");
    await modelReceived(s, turns.map((t) => t.marker));
    const injectAt = Date.now();
    await cp.close();
    const closedAt = Date.now();
    let detectedAt: number | null = null;
    let output = "";
    let outboxPeak = 0;
    while (Date.now() - injectAt < OUTAGE_MS) {
      const c = await healthCheck(site, "control-plane:sync").catch(() => undefined);
      if (c && c.status !== "pass" && detectedAt === null) {
        detectedAt = Date.now();
        output = String(c.output ?? "");
      }
      outboxPeak = Math.max(outboxPeak, Number(c?.outboxDepth ?? 0));
      await sleep(50);
    }
    const doneInDaemon = (await Promise.all(turns.map((t) => getJson(site, `/v1/turns/${t.id}`, true).catch(() => ({ body: {} }))))).filter((r: any) => r.body?.state === "done").length;
    cp = await s.restartControlPlane();
    const backAt = Date.now();
    const reportedAt = await allReported(cp, turns);
    const [fresh] = enqueueCpTurns(cp, ["cp-fresh"]);
    const freshAt = await allReported(cp, [fresh!]);
    await until("/health control-plane:sync pass", async () => (await healthCheck(site, "control-plane:sync"))?.status === "pass", 60_000, 200).catch(() => undefined);
    // Let late duplicates (a retried report) arrive before counting.
    await sleep(3000);

    const { verdict, duplicateReports } = await cpVerdict(site, cp, [...turns, fresh!]);
    return {
      injectAt,
      detectedAt,
      servingAt: freshAt,
      verdict,
      notes: [
        `control plane down for ${ms(backAt - injectAt)} ms (close took ${ms(closedAt - injectAt)} ms)`,
        detectedAt === null ? "/health did NOT leave pass during the outage" : `/health: "${output}"`,
        `${doneInDaemon}/${TURNS} turns finished during the outage, outbox peak ${outboxPeak}`,
        `all results accepted ${ms(reportedAt - backAt)} ms after the return, a new turn ${ms(freshAt - backAt)} ms after it`,
        `${duplicateReports} duplicate reports acknowledged`,
      ],
    };
  },
});
