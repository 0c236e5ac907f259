/**
 * Turns enqueued at the shared session's reference control plane, and their verdict: each must be
 * accepted there exactly once (`done`, one accepted report) and appear once in the transcript.
 * Shared by the control-plane cases (outage, response fields, proxy 404, clock skew).
 */
import type { RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { until, type Site } from "../../test/e2e/harness.ts";
import { countInTranscript, marker, readTranscript, type Verdict } from "./observe.ts";
import { ACC, BOOT_MS } from "./real-session.ts";

/** A turn enqueued at the control plane, with the marker its message carries. */
export type CpTurn = { id: string; conversationId: string; marker: string };

/** Accepted reports of a turn, and when the first arrived (epoch ms). */
export function accepted(cp: RunningControlPlane, id: string): { n: number; firstAt: number | null; duplicates: number; state: string } {
  const t = cp.getTurn(id);
  if (!t) return { n: 0, firstAt: null, duplicates: 0, state: "missing" };
  const acc = t.reports.filter((r) => r.outcome === "accept");
  return { n: acc.length, firstAt: acc[0] ? Date.parse(acc[0].receivedAt) : null, duplicates: t.reports.filter((r) => r.outcome === "duplicate").length, state: t.state };
}

/** Enqueue one turn per tag at the control plane; `suffix` is appended to each message (e.g. ` delay=3000`). */
export function enqueueCpTurns(cp: RunningControlPlane, tags: readonly string[], suffix = ""): CpTurn[] {
  return tags.map((tag) => {
    const m = marker(tag);
    return { id: cp.enqueueTurn({ accountId: ACC, conversationId: tag, message: `${m}${suffix}` }).turnId, conversationId: tag, marker: m };
  });
}

/** Wait until every turn has an accepted report (BOOT_MS at most). @returns when the last one arrived (epoch ms) */
export async function allReported(cp: RunningControlPlane, turns: readonly CpTurn[]): Promise<number> {
  await until("every result reported", () => turns.every((t) => accepted(cp, t.id).n > 0), BOOT_MS, 100);
  return Math.max(...turns.map((t) => accepted(cp, t.id).firstAt ?? 0));
}

/** Each turn done exactly once at the control plane and in the transcript; duplicate reports counted apart. */
export async function cpVerdict(site: Site, cp: RunningControlPlane, turns: readonly CpTurn[]): Promise<{ verdict: Verdict; duplicateReports: number }> {
  let duplicateReports = 0;
  const verdict: Verdict = { lost: 0, duplicated: 0, problems: [] };
  for (const t of turns) {
    const a = accepted(cp, t.id);
    const c = countInTranscript(await readTranscript(site, `agent:main:${t.conversationId}`), t.marker);
    duplicateReports += a.duplicates;
    const isLost = a.n === 0 || a.state !== "done" || c.user === 0 || c.assistant === 0;
    const isDup = a.n > 1 || c.user > 1 || c.assistant > 1;
    if (isLost || isDup) verdict.problems.push(`${t.marker}: ${a.state}, ${a.n} accepted reports, transcript ${c.user} user / ${c.assistant} assistant`);
    if (isLost) verdict.lost++;
    if (isDup) verdict.duplicated++;
  }
  return { verdict, duplicateReports };
}
