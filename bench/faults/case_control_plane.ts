/**
 * The control plane unreachable: the reference control plane is closed (connections refused)
 * while claimed turns are still running in the real gateway, then started again on the same port
 * and database 10 s later. Results must wait in the daemon's outbox and arrive exactly once.
 */
import type { RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { chatHistory, getJson, until } from "../../test/e2e/harness.ts";
import { countInTranscript, healthCheck, marker, ms, sleep, type Verdict } from "./observe.ts";
import { ACC, BOOT_MS } from "./real-session.ts";
import { modelReceived, sharedRealCase } from "./runner.ts";

const OUTAGE_MS = 10_000;
const TURNS = 3;

type CpTurn = { id: string; conversationId: string; marker: string };

/** Accepted reports of a turn, and when the first arrived (epoch ms). */
function accepted(cp: RunningControlPlane, id: string): { n: number; firstAt: number | null; duplicates: number; state: string } {
  const t = cp.getTurn(id);
  if (!t) return { n: 0, firstAt: null, duplicates: 0, state: "missing" };
  const acc = t.reports.filter((r) => r.outcome === "accept");
  return { n: acc.length, firstAt: acc[0] ? Date.parse(acc[0].receivedAt) : null, duplicates: t.reports.filter((r) => r.outcome === "duplicate").length, state: t.state };
}

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
    const turns: CpTurn[] = [];
    for (let i = 0; i < TURNS; i++) {
      const m = marker(`cp-outage-${i}`);
      turns.push({ id: cp.enqueueTurn({ accountId: ACC, conversationId: `cp-outage-${i}`, message: `${m} delay=3000` }).turnId, conversationId: `cp-outage-${i}`, marker: m });
    }
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
    await until("every result reported", () => turns.every((t) => accepted(cp, t.id).n > 0), BOOT_MS, 100);
    const reportedAt = Math.max(...turns.map((t) => accepted(cp, t.id).firstAt ?? 0));
    const fresh: CpTurn = { id: "", conversationId: "cp-fresh", marker: marker("cp-fresh") };
    fresh.id = cp.enqueueTurn({ accountId: ACC, conversationId: fresh.conversationId, message: fresh.marker }).turnId;
    await until("the fresh turn reported", () => accepted(cp, fresh.id).n > 0, BOOT_MS, 100);
    const freshAt = accepted(cp, fresh.id).firstAt!;
    await until("/health control-plane:sync pass", async () => (await healthCheck(site, "control-plane:sync"))?.status === "pass", 60_000, 200).catch(() => undefined);
    // Let late duplicates (a retried report) arrive before counting.
    await sleep(3000);

    let duplicateReports = 0;
    const verdict: Verdict = { lost: 0, duplicated: 0, problems: [] };
    for (const t of [...turns, fresh]) {
      const a = accepted(cp, t.id);
      const c = countInTranscript(await chatHistory(site, `agent:main:${t.conversationId}`), t.marker);
      duplicateReports += a.duplicates;
      const isLost = a.n === 0 || a.state !== "done" || c.user === 0 || c.assistant === 0;
      const isDup = a.n > 1 || c.user > 1 || c.assistant > 1;
      if (isLost || isDup) verdict.problems.push(`${t.marker}: ${a.state}, ${a.n} accepted reports, transcript ${c.user} user / ${c.assistant} assistant`);
      if (isLost) verdict.lost++;
      if (isDup) verdict.duplicated++;
    }
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
