/**
 * Reading what the daemon did, from the outside: its SQLite file (read-only connections beside the
 * running daemon; WAL allows it), its HTTP endpoints and the gateway's own transcripts.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { apiToken, chatHistory, getJson, postTurn, until, waitTurn, type Site } from "../../test/e2e/harness.ts";

/** A gateway_events row. `at` is epoch ms. */
export type EventRow = { id: number; at: number; generation: number; state: string; reason: string | null; pid: number | null; exit_code: number | null; signal: string | null };

/** A turns row (the columns the suite reads). Times are epoch ms. */
export type TurnRow = { id: string; state: string; attempts: number; reply: string | null; message: string; session_key: string; error_code: string | null; finished_at: number | null };

/** Run `fn` on a fresh read-only connection to the site's database. */
export function withDb<T>(site: Site, fn: (db: Database.Database) => T): T {
  const db = new Database(join(site.dataDir, "agent-supervisor.db"), { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 2000");
    return fn(db);
  } finally {
    db.close();
  }
}

/** Gateway events at or after `sinceMs`, oldest first. */
export function eventsSince(site: Site, sinceMs: number): EventRow[] {
  return withDb(site, (db) => db.prepare("SELECT * FROM gateway_events WHERE at >= ? ORDER BY id").all(sinceMs) as EventRow[]);
}

/** Wait for the first event at or after `sinceMs` that `match` accepts. */
export function waitEvent(site: Site, sinceMs: number, what: string, match: (e: EventRow) => boolean, timeoutMs: number): Promise<EventRow> {
  return until(what, () => eventsSince(site, sinceMs).find(match), timeoutMs, 50);
}

/** Same as {@link waitEvent} but resolves undefined instead of throwing on timeout. */
export async function maybeEvent(site: Site, sinceMs: number, match: (e: EventRow) => boolean, timeoutMs: number): Promise<EventRow | undefined> {
  return waitEvent(site, sinceMs, "event", match, timeoutMs).catch(() => undefined);
}

/** The turns rows with these ids. */
export function turnRows(site: Site, ids: readonly string[]): Map<string, TurnRow> {
  return withDb(site, (db) => {
    const get = db.prepare("SELECT id, state, attempts, reply, message, session_key, error_code, finished_at FROM turns WHERE id = ?");
    const out = new Map<string, TurnRow>();
    for (const id of ids) {
      const row = get.get(id) as TurnRow | undefined;
      if (row) out.set(id, row);
    }
    return out;
  });
}

/** How many turns rows carry exactly this message (a second row would be a duplicate). */
export function rowsWithMessage(site: Site, message: string): number {
  return withDb(site, (db) => (db.prepare("SELECT COUNT(*) AS n FROM turns WHERE message = ?").get(message) as { n: number }).n);
}

/** One `event` as a short phrase: `stopping "restart requested (hang)"`. */
export function describeEvent(e: EventRow): string {
  const exit = e.exit_code !== null ? ` code ${e.exit_code}` : e.signal ? ` ${e.signal}` : "";
  return `${e.state}${exit} "${e.reason ?? ""}"`;
}

/** A unique marker for a turn's message (fixed length, so no marker is a prefix of another). */
export function marker(tag: string): string {
  return `${tag}-${randomBytes(5).toString("hex")}`;
}

/** A turn the suite submitted through the local API. */
export type SubmittedTurn = { id: string; conversationId: string; message: string; marker: string };

/** POST a turn whose message is `marker` plus `suffix` (e.g. " delay=4000" for the mock model). */
export async function submit(site: Site, conversationId: string, tag: string, suffix = ""): Promise<SubmittedTurn> {
  const m = marker(tag);
  const message = `${m}${suffix}`;
  const id = await postTurn(site, conversationId, message);
  return { id, conversationId, message, marker: m };
}

/** POST a turn; returns the HTTP status and, on 202, the submitted turn. */
export async function post(site: Site, conversationId: string, tag: string): Promise<{ status: number; code?: string; turn?: SubmittedTurn; message: string }> {
  const m = marker(tag);
  const res = await fetch(`http://127.0.0.1:${site.httpPort}/v1/turns`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken(site)}`, "content-type": "application/json" },
    body: JSON.stringify({ conversationId, message: m }),
  });
  const body = (await res.json().catch(() => ({}))) as { turnId?: string; error?: { code?: string } };
  return res.status === 202 && body.turnId
    ? { status: 202, turn: { id: body.turnId, conversationId, message: m, marker: m }, message: m }
    : { status: res.status, ...(body.error?.code ? { code: body.error.code } : {}), message: m };
}

/** User and assistant messages of a transcript that carry `marker` (OpenClaw's `[System]` notes excluded). */
export function countInTranscript(history: any, m: string): { user: number; assistant: number } {
  const text = (msg: any): string =>
    typeof msg.content === "string" ? msg.content : (msg.content ?? []).map((p: any) => p?.text ?? "").join("");
  const msgs: any[] = history?.messages ?? [];
  return {
    user: msgs.filter((msg) => msg.role === "user" && !text(msg).startsWith("[System]") && text(msg).includes(m)).length,
    assistant: msgs.filter((msg) => msg.role === "assistant" && text(msg).includes(`echo: ${m}`)).length,
  };
}

/**
 * A session transcript straight from the gateway, retried for up to 60 s: a gateway restarting
 * (after a memory restart, say) refuses connections for a while ("websocket admission closed").
 */
export function readTranscript(site: Site, sessionKey: string): Promise<any> {
  return until(`the transcript of ${sessionKey}`, () => chatHistory(site, sessionKey), 60_000, 500);
}

/** Lost and duplicated counts with one line per problem. */
export type Verdict = { lost: number; duplicated: number; problems: string[] };

/**
 * Turns run by the real gateway: each must be `done` with the echo reply in the daemon's database,
 * once, and its message and answer must be in the session transcript exactly once each.
 */
export async function verifyDone(site: Site, turns: readonly SubmittedTurn[]): Promise<Verdict> {
  const v: Verdict = { lost: 0, duplicated: 0, problems: [] };
  const rows = turnRows(site, turns.map((t) => t.id));
  for (const t of turns) {
    const row = rows.get(t.id);
    let lost = false;
    let dup = false;
    if (!row) {
      lost = true;
      v.problems.push(`${t.marker}: no row`);
    } else if (row.state !== "done" || row.reply !== `echo: ${t.message}`) {
      lost = true;
      v.problems.push(`${t.marker}: ${row.state} ${row.error_code ?? ""} reply ${JSON.stringify(row.reply)}`);
    }
    if (rowsWithMessage(site, t.message) > 1) {
      dup = true;
      v.problems.push(`${t.marker}: more than one row`);
    }
    const c = countInTranscript(await readTranscript(site, `agent:main:${t.conversationId}`), t.marker);
    if (c.user === 0 || c.assistant === 0) {
      lost = true;
      v.problems.push(`${t.marker}: transcript has ${c.user} user / ${c.assistant} assistant messages`);
    }
    if (c.user > 1 || c.assistant > 1) {
      dup = true;
      v.problems.push(`${t.marker}: transcript has ${c.user} user / ${c.assistant} assistant messages`);
    }
    if (lost) v.lost++;
    if (dup) v.duplicated++;
  }
  return v;
}

/**
 * Turns a stand-in gateway cannot run: each must still be queued (`accepted`, never delivered),
 * in exactly one row. A missing or failed turn counts as lost.
 */
export function verifyQueued(site: Site, turns: readonly SubmittedTurn[]): Verdict {
  const v: Verdict = { lost: 0, duplicated: 0, problems: [] };
  const rows = turnRows(site, turns.map((t) => t.id));
  for (const t of turns) {
    const row = rows.get(t.id);
    if (!row || row.state === "failed") {
      v.lost++;
      v.problems.push(`${t.marker}: ${row ? `failed ${row.error_code}` : "no row"}`);
    } else if (row.state !== "accepted") v.problems.push(`${t.marker}: ${row.state} after ${row.attempts} attempt(s)`);
    if (rowsWithMessage(site, t.message) > 1) {
      v.duplicated++;
      v.problems.push(`${t.marker}: more than one row`);
    }
  }
  return v;
}

/** Wait for turns to finish (done or failed). */
export async function finishAll(site: Site, turns: readonly SubmittedTurn[], timeoutMs: number): Promise<void> {
  for (const t of turns) await waitTurn(site, t.id, timeoutMs);
}

/** True while /readyz answers 200. */
export async function isReady(site: Site): Promise<boolean> {
  return (await getJson(site, "/readyz").catch(() => ({ status: 0 }))).status === 200;
}

/**
 * Poll /readyz every 50 ms in the background; `firstNotReadyAt()` is when it first answered other
 * than 200 (epoch ms), or null. Call `stop()` when done.
 */
export function watchReadyz(site: Site): { firstNotReadyAt: () => number | null; stop: () => void } {
  let first: number | null = null;
  let stopped = false;
  void (async () => {
    while (!stopped && first === null) {
      if (!(await isReady(site))) first = Date.now();
      await sleep(50);
    }
  })();
  return { firstNotReadyAt: () => first, stop: () => void (stopped = true) };
}

/** When the gateway served again: /readyz 200 at `readyAt`, then a fresh turn done at `doneAt` (epoch ms). */
export type ServingAgain = { readyAt: number; doneAt: number; turn: SubmittedTurn };

/**
 * Wait for /readyz 200, then submit a fresh turn and wait for it. Call only once the daemon has
 * reacted to the fault (before that /readyz may still say 200 from before the fault).
 * `doneAt` is the turn's finished_at from the daemon's database.
 */
export async function servingAgain(site: Site, conversationId: string, timeoutMs: number): Promise<ServingAgain> {
  await until("/readyz 200 again", () => isReady(site), timeoutMs, 100);
  const readyAt = Date.now();
  const turn = await submit(site, conversationId, "fresh");
  const view = await waitTurn(site, turn.id, timeoutMs);
  if (view.state !== "done") throw new Error(`the fresh turn ended ${view.state}: ${JSON.stringify(view.error)}`);
  const doneAt = turnRows(site, [turn.id]).get(turn.id)?.finished_at ?? Date.now();
  return { readyAt, doneAt, turn };
}

/** The /health check `name` (first entry), or undefined. */
export async function healthCheck(site: Site, name: string): Promise<{ status: string; output?: string; [k: string]: unknown } | undefined> {
  const doc = (await getJson(site, "/health")).body;
  return doc?.checks?.[name]?.[0];
}

/** One line of the daemon's JSON log (pino, level as a label, ISO time); `at` is epoch ms. */
export type LogRecord = { at: number; level: string; msg: string; fields: Record<string, unknown> };

/** Parse the daemon's log lines (non-JSON lines are skipped). */
export function logRecords(logs: readonly string[]): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of logs) {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const { level, time, msg, service, subsystem, ...fields } = rec;
    out.push({ at: Date.parse(String(time)), level: String(level), msg: `${subsystem ? `[${String(subsystem)}] ` : ""}${String(msg ?? "")}`, fields });
  }
  return out;
}

/** Log records at warn or worse since `sinceMs`, as short `msg {fields}` strings. */
export function warnings(logs: readonly string[], limit = 12, sinceMs = 0): string[] {
  return logRecords(logs)
    .filter((r) => r.at >= sinceMs && (r.level === "warn" || r.level === "error" || r.level === "fatal"))
    .map((r) => `${r.level}: ${r.msg} ${JSON.stringify(r.fields)}`.slice(0, 300))
    .slice(0, limit);
}

/** Round to whole milliseconds, or null. */
export const ms = (v: number | null | undefined): number | null => (v === null || v === undefined ? null : Math.round(v));

/** Sleep `msDelay` milliseconds. */
export const sleep = (msDelay: number): Promise<void> => new Promise((r) => setTimeout(r, msDelay));
