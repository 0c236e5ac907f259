/**
 * The host clock off by 10 minutes, both ways, against a control plane whose clock is right. The
 * daemon's clock cannot be set from outside, so the reference control plane's is moved instead
 * (restarted with `now` 10 minutes behind, then ahead): to the daemon's leases that is the same
 * disagreement. Leases are 5 s, so the turns (3 s at the model) outlive their first lease only
 * through heartbeats. Every turn must be done and reported once, and no lease lost.
 */
import { allReported, cpVerdict, enqueueCpTurns } from "./cp-turns.ts";
import { ms, sleep } from "./observe.ts";
import { modelReceived, sharedRealCase } from "./runner.ts";

const SKEW_MS = 10 * 60_000;
const LEASE_MS = 5_000;

export const clockSkew = sharedRealCase({
  id: "clock-skew",
  fault: "Host clock 10 min off",
  how:
    `The reference control plane is restarted with its clock 10 minutes behind the host (the host 10 minutes fast), then 10 minutes ahead (the host slow), ` +
    `leases ${LEASE_MS / 1000} s, HEARTBEAT_INTERVAL_MS=2000; each time 2 turns of 3 s (\`delay=3000\`) are enqueued. Detected = served: the results arrive.`,
  async measure(s) {
    const injectAt = Date.now();
    const notes: string[] = [];
    const all = [];
    let servedAt = injectAt;
    const lostBefore = s.allLogs().filter((l) => l.includes("lease lost") || l.includes("already expired")).length;
    for (const [name, skew] of [["host fast", -SKEW_MS], ["host slow", SKEW_MS]] as const) {
      await s.cp!.close();
      const cp = await s.restartControlPlane({ now: () => Date.now() + skew, leaseMs: LEASE_MS });
      const at = Date.now();
      const turns = enqueueCpTurns(cp, [`skew-${skew > 0 ? "slow" : "fast"}-0`, `skew-${skew > 0 ? "slow" : "fast"}-1`], " delay=3000");
      await modelReceived(s, turns.map((t) => t.marker));
      // Its report times are on the skewed clock; the wait polls every 100 ms, so take ours.
      await allReported(cp, turns);
      servedAt = Date.now();
      await sleep(2000);
      const v = await cpVerdict(s.site, cp, turns);
      all.push(v);
      notes.push(`${name}: both results accepted ${ms(servedAt - at)} ms after enqueue, ${cp.getTurn(turns[0]!.id)!.leases[0]!.heartbeats} heartbeats on the first lease`);
    }
    await s.cp!.close();
    await s.restartControlPlane();
    const lost = s.allLogs().filter((l) => l.includes("lease lost") || l.includes("already expired")).length - lostBefore;
    notes.push(`${lost} lease-lost or expired-on-arrival log lines`);
    const verdict = { lost: all.reduce((n, v) => n + v.verdict.lost, 0) + (lost > 0 ? 1 : 0), duplicated: all.reduce((n, v) => n + v.verdict.duplicated, 0), problems: all.flatMap((v) => v.verdict.problems) };
    return { injectAt, detectedAt: servedAt, servingAt: servedAt, verdict, notes };
  },
});
