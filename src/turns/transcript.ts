/**
 * Pure reading of a gateway session transcript (`chat.history`) to learn what became of a turn
 * whose delivery was interrupted (gateway crash, connection loss, daemon restart).
 *
 * Facts this relies on (observed on openclaw 2026.9.6, see OPENCLAW_FACTS and
 * docs/gateway/restart-recovery.md):
 * - the user message of an `agent` request is stored with `idempotencyKey: "<key>:user"`;
 * - assistant messages carry `__openclaw.runId` and a `stopReason`;
 * - after a crash the gateway itself resumes an interrupted turn: it appends an internal
 *   `[System]` user message (provenance.sourceTool "main_session_restart_recovery") and answers
 *   under a new run id. That answer is the reply to our turn; sending the turn again would run
 *   it twice;
 * - an input admitted but not yet in the transcript is listed in `pendingInputs.items` with its
 *   `runId` (our idempotency key) and a state `queued`, `cancelled` or `interrupted`; cancelled and
 *   interrupted inputs "never run automatically" (docs/concepts/session-tool.md) and the gateway
 *   refuses the old key ("Pending input ownership ended; submit a new turn"), so such a turn is
 *   sent again under a new key.
 *
 * A turn's keys are its id and, after such a refusal, `<id>~<n>` (see {@link turnKeyFamily}).
 */

import { transcriptUsage, type TurnUsage } from "./usage.ts";

/** What the transcript says about a turn. */
export type TranscriptOutcome =
  /** The gateway never stored the message: safe to send it again. */
  | { kind: "absent" }
  /** Admitted, then interrupted or cancelled before it ran; the gateway will not run it. Send under a new key. */
  | { kind: "abandoned"; state: string }
  /** Stored, no final answer yet (still running or being recovered). */
  | { kind: "pending" }
  /**
   * Answered: `reply` is the final assistant text, `runId` the run that produced it, `usage` the
   * tokens of the turn's assistant messages (usage.ts; undefined when they carry none).
   */
  | { kind: "replied"; reply: string; runId: string | null; usage?: TurnUsage | undefined }
  /** The run ended in an error or was aborted. */
  | { kind: "errored"; reason: string };

type Msg = Record<string, unknown>;

const TERMINAL_ERROR = new Set(["error", "aborted"]);
const NOT_FINAL = new Set(["toolUse", "tool_use", "tool_calls"]);

function meta(m: Msg): Msg {
  const v = m.__openclaw;
  return v && typeof v === "object" ? (v as Msg) : {};
}

function isInternal(m: Msg): boolean {
  const p = m.provenance;
  return !!p && typeof p === "object" && (p as Msg).kind === "internal_system";
}

/** Plain text of a message's content (a string, or text parts of an array). */
export function messageText(m: Msg): string {
  const c = m.content;
  if (typeof c === "string") return c;
  if (!Array.isArray(c)) return "";
  return c
    .filter((p): p is Msg => !!p && typeof p === "object" && (p as Msg).type === "text")
    .map((p) => String(p.text ?? ""))
    .join("");
}

/** True when `key` is turn `turnId`'s own key or one of its re-keys (`<id>~<n>`). Pure. */
export function turnKeyFamily(turnId: string, key: unknown): boolean {
  return typeof key === "string" && (key === turnId || key.startsWith(`${turnId}~`));
}

function userKeyOf(m: Msg): unknown {
  const k = m.idempotencyKey ?? meta(m).idempotencyKey;
  return typeof k === "string" && k.endsWith(":user") ? k.slice(0, -":user".length) : undefined;
}

/** True when `m` is turn `turnId`'s user message (stored with `idempotencyKey: "<key>:user"`). Pure. */
export function isTurnUserMessage(m: unknown, turnId: string): boolean {
  return !!m && typeof m === "object" && (m as Msg).role === "user" && turnKeyFamily(turnId, userKeyOf(m as Msg));
}

/**
 * Classify turn `turnId` from a `chat.history` response: its `messages` (oldest first) and
 * `pendingInputs.items`. Only messages after the turn's user message and before the next
 * non-internal user message count, and of those only the turn's own runs (see below).
 */
export function findTurnOutcome(history: { messages?: unknown; pendingInputs?: unknown }, turnId: string): TranscriptOutcome {
  const raw = Array.isArray(history.messages) ? history.messages : [];
  const list = raw.filter((m): m is Msg => !!m && typeof m === "object");
  let start = -1;
  list.forEach((m, i) => {
    if (isTurnUserMessage(m, turnId)) start = i;
  });
  if (start < 0) {
    const items = (history.pendingInputs as { items?: unknown } | undefined)?.items;
    const mine = (Array.isArray(items) ? items : []).filter(
      (p): p is Msg => !!p && typeof p === "object" && turnKeyFamily(turnId, (p as Msg).runId),
    );
    const latest = mine.at(-1);
    if (!latest) return { kind: "absent" };
    const state = String(latest.state ?? "");
    return state === "queued" ? { kind: "pending" } : { kind: "abandoned", state };
  }
  // Only this turn's runs answer it: its own key, and runs the gateway's restart recovery started
  // for it (an internal user message keyed `<recoveryRunId>:user`). A message of another run
  // (another client's turn in the same session) never becomes this turn's reply. Messages with
  // no run metadata (injected notes) count only when no message of the span has any: a gateway
  // that does not stamp run ids is still read as before.
  const recoveryRuns = new Set<unknown>();
  const span: Msg[] = [];
  for (const m of list.slice(start + 1)) {
    if (m.role === "user") {
      if (!isInternal(m)) break;
      recoveryRuns.add(userKeyOf(m));
    } else if (m.role === "assistant") span.push(m);
  }
  const stamped = span.some((m) => meta(m).runId !== undefined);
  let last: TranscriptOutcome = { kind: "pending" };
  const mine: Msg[] = [];
  for (const m of span) {
    const runId = meta(m).runId;
    if (stamped && !turnKeyFamily(turnId, runId) && !recoveryRuns.has(runId)) continue;
    mine.push(m);
    const stop = typeof m.stopReason === "string" ? m.stopReason : "";
    // The gateway's words: `errorMessage` when stored, else the error text it shows (2026.9.6 stores
    // "Context overflow: this conversation is too large ..." or "⚠️ LLM request failed (request
    // format rejected, HTTP 400)." as the content of an assistant message with stopReason "error").
    if (TERMINAL_ERROR.has(stop)) last = { kind: "errored", reason: String(m.errorMessage ?? (messageText(m).trim() || stop)) };
    else if (!NOT_FINAL.has(stop)) last = { kind: "replied", reply: messageText(m), runId: typeof runId === "string" ? runId : null, usage: transcriptUsage(mine) };
    else last = { kind: "pending" };
  }
  return last;
}

/**
 * The reply text of a final `agent` response: its payload texts joined by a blank line.
 * Shape (observed): `{status:"ok", result:{payloads:[{text}]}}`.
 */
export function agentReplyText(res: unknown): string {
  const payloads = (res as { result?: { payloads?: unknown } })?.result?.payloads;
  if (!Array.isArray(payloads)) return "";
  return payloads
    .map((p) => (p && typeof p === "object" && typeof (p as Msg).text === "string" ? String((p as Msg).text) : ""))
    .filter((t) => t !== "")
    .join("\n\n");
}

/**
 * The failure message of a final `agent` response whose status is not `ok`, in the gateway's own
 * words where it gives them. Pure. Observed on openclaw 2026.9.6 (2026-11-30): a run refused by
 * the provider with 400 `context_length_exceeded` ends `{status:"error", summary:"failed",
 * result:{payloads:[{text:"Context overflow: prompt too large for the model. ...", isError:true}]}}`;
 * the reason is only in the payloads marked `isError`. Shape of the message:
 * `run ended with status <status> ("<error or summary>"): <error payload texts, joined by a space>`,
 * without the part after the colon when there are no error payloads.
 */
export function agentFailureMessage(res: unknown): string {
  const r = (res ?? {}) as { status?: unknown; error?: unknown; summary?: unknown; result?: { payloads?: unknown } };
  const payloads = Array.isArray(r.result?.payloads) ? r.result.payloads : [];
  const reasons = payloads
    .filter((p): p is Msg => !!p && typeof p === "object" && (p as Msg).isError === true && typeof (p as Msg).text === "string")
    .map((p) => String(p.text).trim())
    .filter((t) => t !== "");
  const head = `run ended with status ${typeof r.status === "string" ? r.status : "unknown"}`;
  const said = JSON.stringify(r.error ?? r.summary ?? null);
  return reasons.length > 0 ? `${head} (${said}): ${reasons.join(" ")}` : `${head}: ${said}`;
}
