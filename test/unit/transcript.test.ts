/**
 * findTurnOutcome / agentReplyText over chat.history shapes observed on openclaw 2026.9.6.
 * Pure: each case is a literal history.
 */
import { describe, expect, it } from "vitest";
import {
  agentFailureMessage,
  agentReplyText,
  findTurnOutcome,
  messageText,
  turnKeyFamily,
  type TranscriptOutcome,
} from "../../src/turns/transcript.ts";

const TURN = "5b0c9a52-3a1e-4c55-9a57-0f6d1b0b9e01";
const OTHER = "0e7a1f33-7c2b-4b61-8a10-2f3c4d5e6f70";
const RECOVERY = "a9d5c1e2-1111-4222-8333-944455556666";

let seq = 0;
/** A user message as the gateway stores an `agent` request's message. */
function user(key: string, content: string): Record<string, unknown> {
  seq += 1;
  return { role: "user", content, idempotencyKey: `${key}:user`, __openclaw: { idempotencyKey: `${key}:user`, seq } };
}

/** An assistant message of run `runId`. */
function assistant(runId: string, text: string, stopReason = "stop", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { role: "assistant", content: [{ type: "text", text }], stopReason, __openclaw: { runId }, ...extra };
}

/** The internal message the gateway appends when it resumes an interrupted turn after a crash. */
function recoveryPrompt(key: string): Record<string, unknown> {
  return {
    role: "user",
    content: "[System] Your previous turn was interrupted by a gateway restart. Continue where you left off.",
    idempotencyKey: `${key}:user`,
    provenance: { kind: "internal_system", sourceTool: "main_session_restart_recovery" },
  };
}

function toolUse(runId: string): Record<string, unknown> {
  return {
    role: "assistant",
    content: [{ type: "text", text: "Let me check." }, { type: "toolCall", id: "call_1", name: "read", arguments: { path: "a.txt" } }],
    stopReason: "toolUse",
    __openclaw: { runId },
  };
}

function toolResult(): Record<string, unknown> {
  return { role: "toolResult", toolCallId: "call_1", toolName: "read", content: [{ type: "text", text: "file body" }] };
}

function pendingItem(runId: string, state: string): Record<string, unknown> {
  return { id: `pi-${state}`, state, runId, message: { role: "user", content: "hello" } };
}

const cases: [string, { messages?: unknown; pendingInputs?: unknown }, string, TranscriptOutcome][] = [
  ["empty history", { messages: [] }, TURN, { kind: "absent" }],
  ["no messages field at all", {}, TURN, { kind: "absent" }],
  ["messages is not an array", { messages: "nope" }, TURN, { kind: "absent" }],
  [
    "only other turns",
    { messages: [user(OTHER, "earlier"), assistant(OTHER, "earlier reply")] },
    TURN,
    { kind: "absent" },
  ],
  ["our user message, no assistant yet", { messages: [user(TURN, "hello")] }, TURN, { kind: "pending" }],
  [
    "replied",
    { messages: [user(OTHER, "first"), assistant(OTHER, "first reply"), user(TURN, "hi"), assistant(TURN, "echo: hi")] },
    TURN,
    { kind: "replied", reply: "echo: hi", runId: TURN },
  ],
  [
    "key only in __openclaw metadata",
    {
      messages: [
        { role: "user", content: "hi", __openclaw: { idempotencyKey: `${TURN}:user`, seq: 1 } },
        assistant(TURN, "echo: hi"),
      ],
    },
    TURN,
    { kind: "replied", reply: "echo: hi", runId: TURN },
  ],
  [
    "replied by the gateway's restart recovery under a new run id",
    { messages: [user(TURN, "hi"), recoveryPrompt(RECOVERY), assistant(RECOVERY, "echo: hi (recovered)")] },
    TURN,
    { kind: "replied", reply: "echo: hi (recovered)", runId: RECOVERY },
  ],
  [
    "partial answer interrupted, then recovery pending",
    { messages: [user(TURN, "hi"), toolUse(TURN), recoveryPrompt(RECOVERY)] },
    TURN,
    { kind: "pending" },
  ],
  [
    "tool use then the final answer",
    { messages: [user(TURN, "read a.txt"), toolUse(TURN), toolResult(), assistant(TURN, "It says: file body")] },
    TURN,
    { kind: "replied", reply: "It says: file body", runId: TURN },
  ],
  [
    "tool use still running",
    { messages: [user(TURN, "read a.txt"), toolUse(TURN), toolResult()] },
    TURN,
    { kind: "pending" },
  ],
  [
    "run ended in an error",
    { messages: [user(TURN, "hi"), assistant(TURN, "", "error", { errorMessage: "401 invalid api key" })] },
    TURN,
    { kind: "errored", reason: "401 invalid api key" },
  ],
  [
    "run ended in an error the gateway shows as the message's text (2026.9.6, no errorMessage)",
    { messages: [user(TURN, "hi"), assistant(TURN, "Context overflow: this conversation is too large for the model. Try /compact.", "error")] },
    TURN,
    { kind: "errored", reason: "Context overflow: this conversation is too large for the model. Try /compact." },
  ],
  [
    "run aborted without an error message",
    { messages: [user(TURN, "hi"), assistant(TURN, "", "aborted")] },
    TURN,
    { kind: "errored", reason: "aborted" },
  ],
  [
    "a later real user message bounds the search",
    { messages: [user(TURN, "hi"), user(OTHER, "next question"), assistant(OTHER, "answer to the next question")] },
    TURN,
    { kind: "pending" },
  ],
  [
    "the reply before the next user message is ours, the one after is not",
    { messages: [user(TURN, "hi"), assistant(TURN, "echo: hi"), user(OTHER, "next"), assistant(OTHER, "echo: next")] },
    TURN,
    { kind: "replied", reply: "echo: hi", runId: TURN },
  ],
  [
    "re-keyed send <id>~2 matches the turn",
    { messages: [user(`${TURN}~2`, "hi"), assistant(`${TURN}~2`, "echo: hi")] },
    TURN,
    { kind: "replied", reply: "echo: hi", runId: `${TURN}~2` },
  ],
  [
    "the latest of several keys of the turn counts",
    { messages: [user(TURN, "hi"), assistant(TURN, "", "error"), user(`${TURN}~2`, "hi"), assistant(`${TURN}~2`, "echo: hi")] },
    TURN,
    { kind: "replied", reply: "echo: hi", runId: `${TURN}~2` },
  ],
  [
    "a turn id that merely shares a prefix is not ours",
    { messages: [user(`${TURN}x`, "hi"), assistant(`${TURN}x`, "echo: hi")] },
    TURN,
    { kind: "absent" },
  ],
  [
    "pendingInputs queued → pending",
    { messages: [], pendingInputs: { items: [pendingItem(TURN, "queued")], total: 1 } },
    TURN,
    { kind: "pending" },
  ],
  [
    "pendingInputs interrupted → abandoned",
    { messages: [user(OTHER, "x")], pendingInputs: { items: [pendingItem(TURN, "interrupted")], total: 1 } },
    TURN,
    { kind: "abandoned", state: "interrupted" },
  ],
  [
    "pendingInputs cancelled → abandoned",
    { messages: [], pendingInputs: { items: [pendingItem(TURN, "cancelled")], total: 1 } },
    TURN,
    { kind: "abandoned", state: "cancelled" },
  ],
  [
    "pendingInputs: the re-keyed input queued after the abandoned one → pending",
    { messages: [], pendingInputs: { items: [pendingItem(TURN, "interrupted"), pendingItem(`${TURN}~2`, "queued")], total: 2 } },
    TURN,
    { kind: "pending" },
  ],
  [
    "pendingInputs of another turn only",
    { messages: [], pendingInputs: { items: [pendingItem(OTHER, "interrupted")], total: 1 } },
    TURN,
    { kind: "absent" },
  ],
  [
    "garbage entries are ignored",
    { messages: [null, 7, "x", user(TURN, "hi"), null, assistant(TURN, "ok")], pendingInputs: { items: [null, 3] } },
    TURN,
    { kind: "replied", reply: "ok", runId: TURN },
  ],
];

describe("findTurnOutcome", () => {
  it.each(cases)("%s", (_name, history, turnId, expected) => {
    expect(findTurnOutcome(history, turnId)).toEqual(expected);
  });

  it("the transcript wins over a stale pendingInputs entry", () => {
    const history = {
      messages: [user(TURN, "hi"), assistant(TURN, "echo: hi")],
      pendingInputs: { items: [pendingItem(TURN, "interrupted")], total: 1 },
    };
    expect(findTurnOutcome(history, TURN)).toEqual({ kind: "replied", reply: "echo: hi", runId: TURN });
  });

  it("an assistant message without run metadata is a reply with runId null", () => {
    const history = { messages: [user(TURN, "hi"), { role: "assistant", content: "plain", stopReason: "stop" }] };
    expect(findTurnOutcome(history, TURN)).toEqual({ kind: "replied", reply: "plain", runId: null });
  });
});

describe("turnKeyFamily", () => {
  it.each([
    [TURN, true],
    [`${TURN}~2`, true],
    [`${TURN}~17`, true],
    [`${TURN}x`, false],
    [`x${TURN}`, false],
    [`${TURN}:user`, false],
    [undefined, false],
    [42, false],
  ])("%j → %s", (key, expected) => {
    expect(turnKeyFamily(TURN, key)).toBe(expected);
  });
});

describe("messageText", () => {
  it.each([
    [{ content: "plain" }, "plain"],
    [{ content: [{ type: "text", text: "a" }, { type: "toolCall", name: "x" }, { type: "text", text: "b" }] }, "ab"],
    [{ content: [{ type: "thinking", thinking: "hmm" }] }, ""],
    [{ content: 5 }, ""],
    [{}, ""],
  ])("%j → %j", (m, expected) => {
    expect(messageText(m)).toBe(expected);
  });
});

describe("agentReplyText", () => {
  it.each([
    [{ status: "ok", result: { payloads: [{ text: "echo: hi" }] } }, "echo: hi"],
    [{ status: "ok", result: { payloads: [{ text: "one" }, { text: "two" }] } }, "one\n\ntwo"],
    [{ status: "ok", result: { payloads: [{ text: "one" }, { mediaUrl: "x.png" }, { text: "" }, { text: "two" }] } }, "one\n\ntwo"],
    [{ status: "ok", result: { payloads: [] } }, ""],
    [{ status: "ok", result: {} }, ""],
    [{ status: "ok" }, ""],
    [null, ""],
    [undefined, ""],
    ["text", ""],
  ])("%j → %j", (res, expected) => {
    expect(agentReplyText(res)).toBe(expected);
  });
});

describe("agentFailureMessage", () => {
  const overflow = "Context overflow: prompt too large for the model. Try /reset (or /new) to start a fresh session, or use a larger-context model.";
  it.each([
    // As openclaw 2026.9.6 ended a run the provider refused with 400 context_length_exceeded (2026-11-30).
    [{ status: "error", summary: "failed", result: { payloads: [{ text: overflow, isError: true, mediaUrl: null }], meta: { durationMs: 572 } } }, `run ended with status error ("failed"): ${overflow}`],
    [{ status: "error", summary: "failed", result: { payloads: [{ text: "partial answer" }, { text: "  boom  ", isError: true }, { text: "bang", isError: true }] } }, 'run ended with status error ("failed"): boom bang'],
    [{ status: "error", error: "model refused", result: { payloads: [] } }, 'run ended with status error: "model refused"'],
    [{ status: "error", summary: "failed" }, 'run ended with status error: "failed"'],
    [{ status: "timeout", error: { message: "x" } }, 'run ended with status timeout: {"message":"x"}'],
    [{ status: "error", result: { payloads: [{ text: "", isError: true }, { text: 3, isError: true }] } }, "run ended with status error: null"],
    [null, "run ended with status unknown: null"],
  ])("%j → %s", (res, expected) => {
    expect(agentFailureMessage(res)).toBe(expected);
  });
});
