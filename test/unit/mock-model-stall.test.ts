/**
 * The mock model's `stall=` hook (a provider that never answers, issue 12's stuck runs), against
 * the real server on 127.0.0.1: the request is held open, headers or not, until the client gives
 * up; a directive in an earlier paragraph (a merged, unanswered message) does not stall.
 */
import { afterEach, expect, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";

let model: MockModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

const ask = (m: MockModel, text: string, signal?: AbortSignal) =>
  fetch(`${m.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "echo-1", stream: true, messages: [{ role: "user", content: text }] }),
    ...(signal ? { signal } : {}),
  });

it("stall=silent sends nothing: no status line within the wait", async () => {
  model = await startMockModel();
  const res = await Promise.race([ask(model, "x stall=silent", AbortSignal.timeout(5_000)).then(() => "answered", () => "aborted"), new Promise((r) => setTimeout(() => r("silent"), 700))]);
  expect(res).toBe("silent");
  expect(model.requests.map((r) => r.prompt)).toEqual(["x stall=silent"]);
});

it("stall=headers sends 200 and SSE headers, then no body", async () => {
  model = await startMockModel();
  const ac = new AbortController();
  const res = await ask(model, "y stall=headers", ac.signal);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const reader = res.body!.getReader();
  const first = await Promise.race([reader.read().then(() => "data", () => "aborted"), new Promise((r) => setTimeout(() => r("nothing"), 700))]);
  expect(first).toBe("nothing");
  ac.abort();
});

it("a stall directive in an earlier paragraph (a merged, unanswered message) does not stall", async () => {
  model = await startMockModel();
  const res = await ask(model, "old stall=headers\n\nnew message");
  const body = await res.text();
  expect(body).toContain("echo: old stall=headers\\n\\nnew message");
});
