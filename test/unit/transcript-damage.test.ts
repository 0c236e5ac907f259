/** Transcript damage (src/turns/transcript-damage.ts) over chat.history shapes of openclaw 2026.9.6. Pure. */
import { describe, expect, it } from "vitest";
import { describeDamage, transcriptDamage, type TranscriptDamage } from "../../src/turns/transcript-damage.ts";

const user = (text: string) => ({ role: "user", content: text });
const call = (id: string, args: unknown = { command: "sleep 20" }) => ({ role: "assistant", stopReason: "toolUse", content: [{ type: "toolCall", id, name: "exec", arguments: args }] });
const result = (id: string) => ({ role: "toolResult", toolCallId: id, content: [{ type: "text", text: "ok" }] });
const reply = (text: string) => ({ role: "assistant", stopReason: "stop", content: [{ type: "text", text }] });

describe("transcriptDamage", () => {
  it.each<[string, unknown, TranscriptDamage]>([
    ["nothing to read", undefined, { orphanedToolCalls: [], brokenToolArguments: 0, messages: 0 }],
    ["a clean tool round", [user("x"), call("c1"), result("c1"), reply("done")], { orphanedToolCalls: [], brokenToolArguments: 0, messages: 4 }],
    // As 2026.9.6 stored it after a SIGKILL during exec (2026-11-30): the call, then the restart-recovery prompt.
    ["a gateway killed mid-tool", [user("long tool"), call("call_mx2xc6il_0"), user("[System] Your previous turn was interrupted"), reply("echo")], { orphanedToolCalls: ["call_mx2xc6il_0"], brokenToolArguments: 0, messages: 4 }],
    ["broken partial JSON arguments", [user("x"), call("c1", '{"command": "ech'), result("c1")], { orphanedToolCalls: [], brokenToolArguments: 1, messages: 3 }],
    ["arguments as valid JSON text", [user("x"), call("c1", '{"command":"ls"}'), result("c1")], { orphanedToolCalls: [], brokenToolArguments: 0, messages: 3 }],
    [
      "Anthropic-style parts",
      [{ role: "assistant", content: [{ type: "tool_use", id: "toolu_1", input: {} }, { type: "tool_use", id: "toolu_2", input: {} }] }, { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1" }] }],
      { orphanedToolCalls: ["toolu_2"], brokenToolArguments: 0, messages: 2 },
    ],
    ["junk entries are skipped", [null, 3, "x", { role: "assistant", content: "text only" }], { orphanedToolCalls: [], brokenToolArguments: 0, messages: 1 }],
  ])("%s", (_name, messages, expected) => {
    expect(transcriptDamage(messages)).toEqual(expected);
  });
});

describe("describeDamage", () => {
  it.each<[TranscriptDamage, string]>([
    [{ orphanedToolCalls: [], brokenToolArguments: 0, messages: 3 }, ""],
    [{ orphanedToolCalls: ["a"], brokenToolArguments: 0, messages: 3 }, "1 tool call without a result"],
    [{ orphanedToolCalls: ["a", "b"], brokenToolArguments: 2, messages: 3 }, "2 tool calls without a result, 2 with broken arguments"],
  ])("%j → %s", (d, words) => {
    expect(describeDamage(d)).toBe(words);
  });
});
