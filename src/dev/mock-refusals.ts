/**
 * The provider refusals the mock model (mock-model.ts) can answer with, each with the body and
 * status a real OpenAI-compatible provider sends, so the gateway sees what it would see in
 * production:
 * - **context overflow**: a request body over {@link MockSettings.contextLimitBytes} gets 400
 *   `context_length_exceeded` (OpenAI's error JSON; upstream #13624, #146724, #150447: a big tool
 *   output pushed into the context);
 * - **orphaned tool call**, with {@link MockSettings.rejectOrphanedToolCalls}: an assistant
 *   `tool_calls` entry without a `tool` message answering it gets OpenAI's 400 "An assistant
 *   message with 'tool_calls' must be followed by tool messages ..." (upstream #10310, #15037,
 *   #69846: a transcript poisoned by a gateway killed mid-tool). OpenAI always checks it; the mock
 *   only when asked, since its tool-call mode answers such requests (mock-model-tools.test.ts);
 * - **poisoned session** (a test hook): while any user message of the request contains the
 *   word {@link POISON_MARK}, the same orphaned-tool-call 400, as if that session's transcript held
 *   an orphaned call. The mark stays in the session's history, so every later turn of that
 *   conversation is refused until the session is compacted away or reset; other sessions are not.
 */

/** Settings of a running mock model; tests may change them at any time (`model.settings`). */
export type MockSettings = {
  /** Refuse with 400 `context_length_exceeded` when a completion request's body is larger (bytes); null: no limit. */
  contextLimitBytes: number | null;
  /** Refuse, as OpenAI does, a request with assistant tool calls that no tool message answers. */
  rejectOrphanedToolCalls: boolean;
};

/** The test hook word that poisons a session (see the module comment). */
export const POISON_MARK = "mock-poison-session";

/** A refusal: the HTTP status and the JSON body to send. */
export type Refusal = { status: number; kind: "context" | "orphan"; body: { error: { message: string; type: string; param: string | null; code: string | null } } };

type Msg = { role?: unknown; content?: unknown; tool_calls?: unknown; tool_call_id?: unknown };

function text(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  return "";
}

/**
 * OpenAI's 400 for a prompt over the context window (its wording, with tokens estimated at 4
 * bytes each). Pure.
 */
export function contextOverflow(bodyBytes: number, limitBytes: number): Refusal {
  const tokens = Math.ceil(bodyBytes / 4);
  const max = Math.floor(limitBytes / 4);
  return {
    status: 400,
    kind: "context",
    body: {
      error: {
        message: `This model's maximum context length is ${max} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    },
  };
}

/** OpenAI's 400 for assistant tool calls that no tool message answers (its wording). Pure. */
export function orphanedToolCalls(index: number, ids: readonly string[]): Refusal {
  return {
    status: 400,
    kind: "orphan",
    body: {
      error: {
        message: `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${ids.join(", ")}`,
        type: "invalid_request_error",
        param: `messages.[${index}].role`,
        code: null,
      },
    },
  };
}

/**
 * The first assistant message (index) whose tool calls are not all answered by the `tool`
 * messages right after it, with the unanswered ids; undefined when every call is answered. Pure.
 */
export function findOrphanedToolCalls(messages: unknown): { index: number; ids: string[] } | undefined {
  if (!Array.isArray(messages)) return undefined;
  const list = messages as Msg[];
  for (let i = 0; i < list.length; i++) {
    const m = list[i];
    if (m?.role !== "assistant" || !Array.isArray(m.tool_calls) || m.tool_calls.length === 0) continue;
    const answered = new Set<unknown>();
    for (let j = i + 1; j < list.length && list[j]?.role === "tool"; j++) answered.add(list[j]!.tool_call_id);
    const ids = (m.tool_calls as { id?: unknown }[]).map((c) => String(c?.id ?? "")).filter((id) => !answered.has(id));
    if (ids.length > 0) return { index: i, ids };
  }
  return undefined;
}

/**
 * The refusal for one completion request, or undefined to answer it. Pure.
 * @param body the parsed request body (`messages`...)
 * @param bodyBytes its size on the wire (bytes)
 */
export function refusalFor(body: { messages?: unknown }, bodyBytes: number, settings: MockSettings): Refusal | undefined {
  if (settings.contextLimitBytes !== null && bodyBytes > settings.contextLimitBytes) return contextOverflow(bodyBytes, settings.contextLimitBytes);
  const orphan = settings.rejectOrphanedToolCalls ? findOrphanedToolCalls(body.messages) : undefined;
  if (orphan) return orphanedToolCalls(orphan.index, orphan.ids);
  const messages = Array.isArray(body.messages) ? (body.messages as Msg[]) : [];
  const poisoned = messages.findIndex((m) => m?.role === "user" && text(m.content).includes(POISON_MARK));
  if (poisoned >= 0) return orphanedToolCalls(poisoned + 1, [`call_${POISON_MARK}`]);
  return undefined;
}
