/**
 * The mock model's provider refusals (src/dev/mock-refusals.ts): the pure decision per request,
 * and the server answering them over HTTP with OpenAI's status and error JSON.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { findOrphanedToolCalls, POISON_MARK, refusalFor } from "../../src/dev/mock-refusals.ts";

const call = (id: string) => ({ id, type: "function", function: { name: "exec", arguments: "{}" } });
const ask = { role: "assistant", content: null, tool_calls: [call("c1"), call("c2")] };

describe("findOrphanedToolCalls", () => {
  it.each([
    ["no messages", undefined, undefined],
    ["plain chat", [{ role: "user", content: "hi" }, { role: "assistant", content: "echo: hi" }], undefined],
    ["every call answered", [{ role: "user", content: "x" }, ask, { role: "tool", tool_call_id: "c1" }, { role: "tool", tool_call_id: "c2" }], undefined],
    ["one call unanswered", [{ role: "user", content: "x" }, ask, { role: "tool", tool_call_id: "c1" }, { role: "user", content: "y" }], { index: 1, ids: ["c2"] }],
    ["calls as the last message", [{ role: "user", content: "x" }, ask], { index: 1, ids: ["c1", "c2"] }],
    ["a result after a user message does not count", [ask, { role: "user", content: "y" }, { role: "tool", tool_call_id: "c1" }, { role: "tool", tool_call_id: "c2" }], { index: 0, ids: ["c1", "c2"] }],
    ["empty tool_calls", [{ role: "assistant", content: "", tool_calls: [] }], undefined],
  ])("%s", (_name, messages, expected) => {
    expect(findOrphanedToolCalls(messages)).toEqual(expected);
  });
});

describe("refusalFor", () => {
  const none = { contextLimitBytes: null, rejectOrphanedToolCalls: false };
  const strict = { contextLimitBytes: null, rejectOrphanedToolCalls: true };
  it.each([
    ["small request, no limit", { messages: [{ role: "user", content: "hi" }] }, 100, none, undefined],
    ["over the context limit", { messages: [{ role: "user", content: "hi" }] }, 60_001, { ...none, contextLimitBytes: 60_000 }, "context"],
    ["at the context limit", { messages: [{ role: "user", content: "hi" }] }, 60_000, { ...none, contextLimitBytes: 60_000 }, undefined],
    ["orphaned tool call, refused as OpenAI does", { messages: [ask] }, 100, strict, "orphan"],
    ["orphaned tool call, answered unless asked to refuse", { messages: [ask] }, 100, none, undefined],
    ["poison mark in an earlier user message", { messages: [{ role: "user", content: `a ${POISON_MARK}` }, { role: "assistant", content: "x" }, { role: "user", content: "b" }] }, 100, none, "orphan"],
    ["poison mark only in an assistant message", { messages: [{ role: "assistant", content: POISON_MARK }, { role: "user", content: "b" }] }, 100, none, undefined],
  ])("%s", (_name, body, bytes, settings, kind) => {
    expect(refusalFor(body, bytes, settings)?.kind).toBe(kind);
  });

  it("answers OpenAI's error JSON for a context overflow", () => {
    const r = refusalFor({ messages: [] }, 80_000, { ...none, contextLimitBytes: 60_000 });
    expect(r).toEqual({
      status: 400,
      kind: "context",
      body: { error: { message: expect.stringMatching(/^This model's maximum context length is 15000 tokens\. However, your messages resulted in 20000 tokens\./), type: "invalid_request_error", param: "messages", code: "context_length_exceeded" } },
    });
  });
});

describe("the server", () => {
  let model: MockModel | undefined;
  afterEach(async () => {
    await model?.close();
    model = undefined;
  });
  const post = (path: string, body: unknown) => fetch(`http://127.0.0.1:${model!.port}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("refuses a request over the limit set over HTTP with 400 context_length_exceeded, records it, and answers again when the limit is lifted", async () => {
    model = await startMockModel();
    const big = { model: "echo-1", messages: [{ role: "user", content: "x".repeat(5000) }] };
    expect((await post("/v1/chat/completions", big)).status).toBe(200);
    const set = await post("/mock/settings", { contextLimitBytes: 4000 });
    expect(await set.json()).toEqual({ contextLimitBytes: 4000, rejectOrphanedToolCalls: false });
    const refused = await post("/v1/chat/completions", big);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("context_length_exceeded");
    model.settings.contextLimitBytes = null;
    expect((await post("/v1/chat/completions", big)).status).toBe(200);
    const listed = (await (await fetch(`http://127.0.0.1:${model.port}/mock/requests`)).json()) as { requests: { refused?: string; bytes: number }[] };
    expect(listed.requests.map((r) => r.refused ?? "answered")).toEqual(["answered", "context", "answered"]);
    expect(listed.requests.every((r) => r.bytes > 5000)).toBe(true);
  });

  it("rejects a malformed settings change", async () => {
    model = await startMockModel(0, "127.0.0.1", { contextLimitBytes: 1000 });
    expect((await post("/mock/settings", { contextLimitBytes: -1 })).status).toBe(400);
    expect((await post("/mock/settings", { rejectOrphanedToolCalls: "yes" })).status).toBe(400);
    expect(model.settings.contextLimitBytes).toBe(1000);
  });

  it("refuses a poisoned session with OpenAI's orphaned tool_calls 400", async () => {
    model = await startMockModel();
    const res = await post("/v1/chat/completions", { model: "echo-1", messages: [{ role: "user", content: `hello ${POISON_MARK}` }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/must be followed by tool messages/);
    expect(model.requests.at(-1)?.refused).toBe("orphan");
  });
});
