/**
 * Damage a session transcript (`chat.history` messages) can show after a gateway was killed
 * mid-tool (upstream #10310, #15037, #69846): tool calls no tool result answers, and tool-call
 * arguments left as broken partial JSON. Pure.
 *
 * Shapes (openclaw 2026.9.6, read from its transcript store and chat.history, 2026-11-30): an
 * assistant message's content holds `{type:"toolCall", id, name, arguments:{...}}` parts; the
 * result is a message `{role:"toolResult", toolCallId, content}`. Anthropic-style
 * `tool_use`/`tool_result` parts and OpenAI-style `tool_call_id` are read too (lenient).
 *
 * This is evidence, never a verdict on its own: a SIGKILL during `exec` left exactly such an
 * orphaned call in 2026.9.6's stored transcript, and the gateway still answered every later turn
 * of that session, because it pairs tool results in memory before each model call
 * (docs/reference/transcript-hygiene.md, "tool result pairing"). The session-repair watchdog
 * therefore repairs on failed turns and reports what the transcript shows beside them.
 */

/** What {@link transcriptDamage} found. */
export type TranscriptDamage = {
  /** Ids of tool calls with no tool result anywhere after them. */
  orphanedToolCalls: string[];
  /** Tool calls whose arguments are a string that is not JSON (a partial write). */
  brokenToolArguments: number;
  /** Messages read. */
  messages: number;
};

type Msg = Record<string, unknown>;

const CALL_TYPES = new Set(["toolCall", "tool_use", "toolUse", "function_call"]);
const RESULT_TYPES = new Set(["toolResult", "tool_result"]);

function resultId(o: Msg): unknown {
  return o.toolCallId ?? o.tool_call_id ?? o.toolUseId ?? o.tool_use_id;
}

function brokenJson(args: unknown): boolean {
  if (typeof args !== "string") return false;
  try {
    JSON.parse(args);
    return false;
  } catch {
    return true;
  }
}

/** Read `messages` (oldest first) for orphaned tool calls and broken arguments. Pure. */
export function transcriptDamage(messages: unknown): TranscriptDamage {
  const list = (Array.isArray(messages) ? messages : []).filter((m): m is Msg => !!m && typeof m === "object");
  const calls: string[] = [];
  const answered = new Set<string>();
  let broken = 0;
  for (const m of list) {
    if (m.role === "toolResult" || m.role === "tool") {
      const id = resultId(m);
      if (typeof id === "string") answered.add(id);
    }
    const parts = Array.isArray(m.content) ? m.content.filter((p): p is Msg => !!p && typeof p === "object") : [];
    for (const p of parts) {
      const type = String(p.type ?? "");
      if (m.role === "assistant" && CALL_TYPES.has(type) && typeof p.id === "string") {
        calls.push(p.id);
        if (brokenJson(p.arguments ?? p.input) || typeof p.partialJson === "string") broken++;
      } else if (RESULT_TYPES.has(type)) {
        const id = resultId(p);
        if (typeof id === "string") answered.add(id);
      }
    }
  }
  return { orphanedToolCalls: calls.filter((id) => !answered.has(id)), brokenToolArguments: broken, messages: list.length };
}

/** The damage in words ("1 tool call without a result, 2 with broken arguments"), or "" for none. Pure. */
export function describeDamage(d: TranscriptDamage): string {
  const parts: string[] = [];
  const n = d.orphanedToolCalls.length;
  if (n > 0) parts.push(`${n} tool call${n === 1 ? "" : "s"} without a result`);
  if (d.brokenToolArguments > 0) parts.push(`${d.brokenToolArguments} with broken arguments`);
  return parts.join(", ");
}
