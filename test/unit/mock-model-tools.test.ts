/**
 * The mock model's tool-call mode (issue 11): a prompt carrying `toolcalls=<JSON>` is answered with
 * OpenAI `tool_calls` for those calls; once the tool results come back, the answer is the echo
 * followed by every tool result, so whatever a tool could read shows up in the reply. Over a real
 * HTTP server on 127.0.0.1, in both the plain JSON and the streaming (SSE) form.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseToolCalls, startMockModel, type MockModel } from "../../src/dev/mock-model.ts";

let model: MockModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

const CALLS = '[{"name":"exec","arguments":{"command":"cat /etc/agent-supervisor/agent-supervisor.env"}},{"name":"read","arguments":{"path":"/var/lib/agent-supervisor/api.token"}}]';
const PROMPT = `probe-1 toolcalls=${CALLS}`;
const TOOLS = [{ type: "function", function: { name: "exec", parameters: {} } }, { type: "function", function: { name: "read", parameters: {} } }];

async function post(body: unknown): Promise<Response> {
  return fetch(`${model!.url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** The assistant message of an SSE answer, assembled from its chunks as an OpenAI client does. */
async function fromSse(res: Response): Promise<{ content: string; toolCalls: { id: string; name: string; arguments: string }[]; finish: string | null }> {
  const text = await res.text();
  let content = "";
  let finish: string | null = null;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const chunk = JSON.parse(line.slice(6)) as { choices: { delta: { content?: string; tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason: string | null }[] };
    for (const c of chunk.choices) {
      content += c.delta.content ?? "";
      for (const t of c.delta.tool_calls ?? []) {
        const slot = (calls[t.index] ??= { id: "", name: "", arguments: "" });
        slot.id ||= t.id ?? "";
        slot.name ||= t.function?.name ?? "";
        slot.arguments += t.function?.arguments ?? "";
      }
      finish = c.finish_reason ?? finish;
    }
  }
  return { content, toolCalls: calls, finish };
}

describe("parseToolCalls", () => {
  it("reads the JSON list after toolcalls= up to the end of its line, and nothing else", () => {
    expect(parseToolCalls(`x toolcalls=${CALLS}\nmore`)).toEqual([
      { name: "exec", arguments: { command: "cat /etc/agent-supervisor/agent-supervisor.env" } },
      { name: "read", arguments: { path: "/var/lib/agent-supervisor/api.token" } },
    ]);
    expect(parseToolCalls("no directive")).toEqual([]);
    expect(() => parseToolCalls("toolcalls=[{")).toThrow(/toolcalls=/);
    expect(() => parseToolCalls('toolcalls=[{"name":1}]')).toThrow(/toolcalls=/);
  });
});

describe("the tool-call mode", () => {
  it("answers the prompt with tool_calls, then, given the results, with the echo and every result (plain JSON)", async () => {
    model = await startMockModel();
    const first = (await (await post({ model: "echo-1", tools: TOOLS, messages: [{ role: "user", content: PROMPT }] })).json()) as any;
    expect(first.choices[0].finish_reason).toBe("tool_calls");
    const calls = first.choices[0].message.tool_calls as { id: string; type: string; function: { name: string; arguments: string } }[];
    expect(calls.map((c) => [c.type, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ["function", "exec", { command: "cat /etc/agent-supervisor/agent-supervisor.env" }],
      ["function", "read", { path: "/var/lib/agent-supervisor/api.token" }],
    ]);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);

    const second = (await (
      await post({
        model: "echo-1",
        tools: TOOLS,
        messages: [
          { role: "user", content: PROMPT },
          { role: "assistant", content: null, tool_calls: calls },
          { role: "tool", tool_call_id: calls[0]!.id, content: "cat: /etc/agent-supervisor/agent-supervisor.env: Permission denied" },
          { role: "tool", tool_call_id: calls[1]!.id, content: [{ type: "text", text: "EACCES: permission denied" }] },
        ],
      })
    ).json()) as any;
    expect(second.choices[0].finish_reason).toBe("stop");
    expect(second.choices[0].message.content).toBe(
      `echo: ${PROMPT}\ntool results:\n[exec] cat: /etc/agent-supervisor/agent-supervisor.env: Permission denied\n[read] EACCES: permission denied`,
    );
    expect(model.requests.map((r) => r.toolResults)).toEqual([[], ["[exec] cat: /etc/agent-supervisor/agent-supervisor.env: Permission denied", "[read] EACCES: permission denied"]]);
  });

  it("streams the tool calls and the final answer as OpenAI chunks", async () => {
    model = await startMockModel();
    const first = await fromSse(await post({ model: "echo-1", stream: true, tools: TOOLS, messages: [{ role: "user", content: PROMPT }] }));
    expect(first.finish).toBe("tool_calls");
    expect(first.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([
      ["exec", { command: "cat /etc/agent-supervisor/agent-supervisor.env" }],
      ["read", { path: "/var/lib/agent-supervisor/api.token" }],
    ]);
    const calls = first.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
    const second = await fromSse(
      await post({
        model: "echo-1",
        stream: true,
        tools: TOOLS,
        messages: [{ role: "user", content: PROMPT }, { role: "assistant", tool_calls: calls }, { role: "tool", tool_call_id: calls[0]!.id, content: "denied" }, { role: "tool", tool_call_id: calls[1]!.id, content: "denied too" }],
      }),
    );
    expect(second.finish).toBe("stop");
    expect(second.content).toBe(`echo: ${PROMPT}\ntool results:\n[exec] denied\n[read] denied too`);
  });

  it("finds the results behind OpenClaw's internal-context message, and never asks for the tools twice (openclaw 2026.9.6)", async () => {
    // As the real gateway sends the second call: the tool results, then a user message with its
    // internal context ("Active exec sessions"), which is not the user's prompt.
    model = await startMockModel();
    const calls = [{ id: "c0", type: "function", function: { name: "exec", arguments: "{}" } }];
    const internal = { role: "user", content: [{ type: "text", text: "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nActive exec sessions: none\n<<<END_OPENCLAW_INTERNAL_CONTEXT>>>" }] };
    const second = (await (await post({
      model: "echo-1",
      tools: TOOLS,
      messages: [{ role: "user", content: PROMPT }, { role: "assistant", content: null, tool_calls: calls }, { role: "tool", tool_call_id: "c0", content: "denied" }, internal],
    })).json()) as any;
    expect(second.choices[0].finish_reason).toBe("stop");
    expect(second.choices[0].message.content).toBe(`echo: ${PROMPT}\ntool results:\n[exec] denied`);
    // Tool calls already answered for this prompt, results lost (a compaction): no second round.
    const third = (await (await post({ model: "echo-1", tools: TOOLS, messages: [{ role: "user", content: PROMPT }, { role: "assistant", content: null, tool_calls: calls }, internal] })).json()) as any;
    expect(third.choices[0].finish_reason).toBe("stop");
    expect(third.choices[0].message.content).toBe(`echo: ${PROMPT}\ntool results:\n(none)`);
  });

  it("a malformed directive is a 400 naming it, and a prompt without one is echoed as before", async () => {
    model = await startMockModel();
    const bad = await post({ model: "echo-1", messages: [{ role: "user", content: "toolcalls=[{oops" }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toMatch(/toolcalls=/);
    const plain = (await (await post({ model: "echo-1", messages: [{ role: "user", content: "hello" }] })).json()) as any;
    expect(plain.choices[0].message.content).toBe("echo: hello");
  });
});
