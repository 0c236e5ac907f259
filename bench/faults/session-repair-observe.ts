/**
 * What the session-repair cases (case_context_overflow.ts, case_poisoned_session.ts) read: the
 * daemon's session-repair events, its sessions:repair check and counter, the turns the provider
 * refused, and the workspace's memory files.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getJson, waitTurn, type Site } from "../../test/e2e/harness.ts";
import { eventsSince, rowsWithMessage, turnRows, type EventRow, type SubmittedTurn, type Verdict } from "./observe.ts";
import type { RealSession } from "./real-session.ts";

/** The session-repair events (`session-repair`, `session-repair-held`) of `sessionKey` since `sinceMs`. */
export function repairEvents(site: Site, sinceMs: number, sessionKey: string): EventRow[] {
  return eventsSince(site, sinceMs).filter((e) => e.state.startsWith("session-repair") && (e.reason ?? "").includes(` ${sessionKey} `));
}

/**
 * True for a compaction's summary request: openclaw 2026.9.6 sends the transcript to summarize as
 * one user message `<conversation>\n[User]: ...</conversation>` (observed 2026-11-30).
 */
export function isSummaryCall(prompt: string): boolean {
  return prompt.startsWith("<conversation>");
}

/**
 * Model calls of the turn's own runs (prompts carrying its marker, compaction summaries quoting it
 * left out), and how many of them the mock refused.
 */
export function modelCalls(s: RealSession, t: SubmittedTurn): { calls: number; refused: number } {
  const mine = s.model.requests.filter((r) => r.prompt.includes(t.marker) && !isSummaryCall(r.prompt));
  return { calls: mine.length, refused: mine.filter((r) => r.refused).length };
}

/**
 * Turns the provider refused: each must be `failed`, in one row, and sent to the model
 * `expectedCalls` times at most (a tool round makes two calls of one run). A refused turn is a
 * failed turn, not a lost one: it counts as lost only if it has no row; more model calls than
 * expected, or a second row, count as duplicated.
 */
export function verifyRefused(s: RealSession, turns: readonly { turn: SubmittedTurn; expectedCalls: number }[]): Verdict {
  const v: Verdict = { lost: 0, duplicated: 0, problems: [] };
  const rows = turnRows(s.site, turns.map((x) => x.turn.id));
  for (const { turn, expectedCalls } of turns) {
    const row = rows.get(turn.id);
    if (!row) {
      v.lost++;
      v.problems.push(`${turn.marker}: no row`);
    } else if (row.state !== "failed") v.problems.push(`${turn.marker}: ${row.state}, expected failed`);
    const { calls } = modelCalls(s, turn);
    if (rowsWithMessage(s.site, turn.message) > 1 || calls > expectedCalls) {
      v.duplicated++;
      v.problems.push(`${turn.marker}: ${calls} model calls (expected ${expectedCalls})`);
    }
  }
  return v;
}

/** Wait for a turn and return its row's finished_at (epoch ms). */
export async function finishedAt(site: Site, t: SubmittedTurn, timeoutMs: number): Promise<{ state: string; at: number; error: string | null }> {
  const view = await waitTurn(site, t.id, timeoutMs);
  const row = turnRows(site, [t.id]).get(t.id);
  return { state: view.state, at: row?.finished_at ?? Date.now(), error: row ? (view.error?.message ?? null) : null };
}

/** /health `sessions:repair` and the repair counter, in a few words. */
export async function repairReadout(site: Site): Promise<string> {
  const check = (await getJson(site, "/health")).body?.checks?.["sessions:repair"]?.[0];
  const text = await (await fetch(`http://127.0.0.1:${site.httpPort}/metrics`)).text();
  const counters = text
    .split("\n")
    .filter((l) => l.startsWith("agent_supervisor_session_repairs_total{"))
    .map((l) => l.replace("agent_supervisor_session_repairs_total", ""));
  return `/health sessions:repair ${check?.status ?? "absent"} (${check?.repairs ?? 0} repairs); /metrics ${counters.join(", ") || "no repair counted"}`;
}

/** The workspace's memory files (MEMORY.md and memory/*.md) with their text; writes a MEMORY.md first if there is none. */
export function memoryFiles(site: Site): Map<string, string> {
  const ws = join(site.dataDir, "gateway", "workspace");
  if (!existsSync(join(ws, "MEMORY.md"))) writeFileSync(join(ws, "MEMORY.md"), "# Memory\n\n- written by the fault suite, must survive session repairs\n");
  const files = new Map([["MEMORY.md", readFileSync(join(ws, "MEMORY.md"), "utf8")]]);
  if (existsSync(join(ws, "memory"))) for (const f of readdirSync(join(ws, "memory"))) files.set(`memory/${f}`, readFileSync(join(ws, "memory", f), "utf8"));
  return files;
}

/** "workspace memory files unchanged (2)" or what changed. */
export function compareMemory(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string {
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
  return changed.length === 0 ? `workspace memory files unchanged (${before.size})` : `workspace memory files CHANGED: ${changed.join(", ")}`;
}
