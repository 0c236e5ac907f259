/**
 * Control-plane answers the daemon must read past: every answer carrying a field the contract does
 * not know (a newer control plane), and a bare 404 from a proxy in front of the result endpoint.
 * Both on the shared real session; each turn must still be done and reported exactly once.
 */
import type { FaultSpec } from "../../src/dev/control-plane/faults.ts";
import { allReported, cpVerdict, enqueueCpTurns } from "./cp-turns.ts";
import { ms, sleep } from "./observe.ts";
import type { RealSession } from "./real-session.ts";
import { sharedRealCase, type Outcome } from "./runner.ts";

const TURNS = 2;

/** Enqueue TURNS turns under the fault `add` installed, wait until all are reported, clear it and judge. */
async function throughFault(s: RealSession, tag: string, spec: FaultSpec, noteOf: (hits: number) => string): Promise<Outcome> {
  const cp = s.cp!;
  const injectAt = Date.now();
  // The table counts hits on this very object, also after a fault with `times` has left it.
  const fault = cp.faults.add(spec);
  const turns = enqueueCpTurns(cp, Array.from({ length: TURNS }, (_, i) => `${tag}-${i}`));
  const reportedAt = await allReported(cp, turns);
  const hits = fault.hits;
  cp.faults.clear();
  await sleep(2000); // late duplicates, if any, arrive before counting
  const { verdict, duplicateReports } = await cpVerdict(s.site, cp, turns);
  return {
    injectAt,
    // No reaction is wanted: the turns simply flow. Reported = the daemon read past the fault.
    detectedAt: reportedAt,
    servingAt: reportedAt,
    verdict,
    notes: [noteOf(hits), `all ${TURNS} results accepted ${ms(reportedAt - injectAt)} ms after the fault was set`, `${duplicateReports} duplicate reports acknowledged`],
  };
}

export const cpUnknownFields = sharedRealCase({
  id: "cp-unknown-fields",
  fault: "Control plane adds response fields",
  how:
    `Every answer of the reference control plane (claims, heartbeats, results, status, secrets, skills) carries fields the contract does not name ` +
    `(fault \`mutate: unknownField\` on "*": one at the top, one in each turn and lease). ${TURNS} turns are enqueued. Detected = served: the results arrive.`,
  measure: (s) =>
    throughFault(s, "cp-fields", { operation: "*", action: { kind: "mutate", mutation: "unknownField" } }, (hits) => `${hits} answers carried unknown fields`),
});

export const cpProxy404 = sharedRealCase({
  id: "cp-proxy-404",
  fault: "Bare 404 from a proxy",
  how:
    `The first 3 result reports get a proxy's HTML 404 page (no contract error body) instead of reaching the control plane. ${TURNS} turns are enqueued. ` +
    "The results must be retried with backoff (SYNC_BACKOFF_MAX_MS=2000), not dropped. Detected = served: the results arrive.",
  measure: (s) =>
    throughFault(
      s,
      "cp-404",
      { operation: "complete", times: 3, action: { kind: "raw", status: 404, body: "<html><body><h1>404 Not Found</h1></body></html>", contentType: "text/html" } },
      (hits) => `${hits} reports answered by the proxy's 404`,
    ),
});
