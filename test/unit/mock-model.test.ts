/** The mock model's request log over HTTP (`GET /mock/requests`), as the droplet test reads it from a container. */
import { afterEach, expect, it } from "vitest";
import { MOCK_USAGE, startMockModel, type MockModel } from "../../src/dev/mock-model.ts";

let model: MockModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

it("lists every completion request with its prompt, and never the authorization header", async () => {
  model = await startMockModel();
  const ask = (text: string) =>
    fetch(`${model!.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-secret-mock" },
      body: JSON.stringify({ model: "echo-1", messages: [{ role: "user", content: text }] }),
    }).then((r) => r.json() as Promise<{ choices: { message: { content: string } }[] }>);
  expect((await ask("one")).choices[0]!.message.content).toBe("echo: one");
  await ask("two");
  const res = await fetch(`http://127.0.0.1:${model.port}/mock/requests`);
  const text = await res.text();
  expect(res.status).toBe(200);
  expect(text).not.toContain("sk-secret-mock");
  const body = JSON.parse(text) as { requests: { prompt: string; stream: boolean; at: number }[] };
  expect(body.requests.map((r) => [r.prompt, r.stream])).toEqual([["one", false], ["two", false]]);
  expect(body.requests.every((r) => typeof r.at === "number")).toBe(true);
});

it("answers fail=<status> with that status and an OpenAI error body, and counts the call", async () => {
  model = await startMockModel();
  const ask = (content: string) =>
    fetch(`${model!.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "echo-1", messages: [{ role: "user", content }] }),
    });
  const res = await ask("please fail=503 now");
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ error: { message: "mock provider error 503", type: "server_error", code: null } });
  const ok = await ask("no failure here: failure=503x");
  expect(ok.status).toBe(200);
  expect(model.requests.map((r) => r.prompt)).toEqual(["please fail=503 now", "no failure here: failure=503x"]);
});

it("refuses the keys it is told to, on the model list and on completions, records the refused call, and can change its mind", async () => {
  model = await startMockModel(0, "127.0.0.1", { refusals: [["sk-revoked", { status: 401 }], ["sk-busy", { status: 429, retryAfterS: 9 }]] });
  const list = (key: string) => fetch(`${model!.url}/models`, { headers: { authorization: `Bearer ${key}` } });
  const ask = (key: string) =>
    fetch(`${model!.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "echo-1", messages: [{ role: "user", content: "hi" }] }),
    });
  expect((await list("sk-good")).status).toBe(200);
  const r401 = await list("sk-revoked");
  expect([r401.status, await r401.json()]).toEqual([401, { error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" } }]);
  const r429 = await ask("sk-busy");
  expect([r429.status, r429.headers.get("retry-after")]).toEqual([429, "9"]);
  expect((await ask("sk-revoked")).status).toBe(401);
  expect((await ask("sk-good")).status).toBe(200);
  expect(model.requests.map((r) => r.refused)).toEqual([429, 401, undefined]);
  expect(model.modelListCalls).toBe(2);
  model.refusals.delete("sk-revoked");
  model.refusals.set("sk-good", { status: 403 });
  expect((await ask("sk-revoked")).status).toBe(200);
  expect((await list("sk-good")).status).toBe(403);
  const body = (await (await fetch(`http://127.0.0.1:${model.port}/mock/requests`)).json()) as { requests: { refused?: number }[]; models: number };
  expect(body.models).toBe(3);
  expect(body.requests.map((r) => r.refused ?? null)).toEqual([429, 401, null, null]);
});

it("dev mock-model --refuse-key KEY=STATUS[:RETRY_AFTER]", async () => {
  const { parseRefusal } = await import("../../src/cli/dev.ts");
  expect(parseRefusal("sk-a=401")).toEqual(["sk-a", { status: 401 }]);
  expect(parseRefusal("sk=b=429:30")).toEqual(["sk=b", { status: 429, retryAfterS: 30 }]);
  expect(() => parseRefusal("sk-a")).toThrow(/--refuse-key/);
});

it("stall(text) holds matching requests unanswered until the stall ends; others are answered; a hung-up client is let go", async () => {
  model = await startMockModel();
  const ask = (text: string, signal?: AbortSignal) =>
    fetch(`${model!.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "echo-1", messages: [{ role: "user", content: text }] }),
      signal,
    }).then((r) => r.json() as Promise<{ choices: { message: { content: string } }[] }>);
  await fetch(`http://127.0.0.1:${model.port}/mock/stall`, { method: "POST", body: JSON.stringify({ match: "ping" }) });
  let answered = false;
  const held = ask("ping: reply with pong").then((r) => ((answered = true), r));
  const gaveUp = new AbortController();
  const abandoned = ask("ping again", gaveUp.signal).catch((err: Error) => err.name);
  expect((await ask("other")).choices[0]!.message.content).toBe("echo: other");
  await new Promise((r) => setTimeout(r, 100));
  expect(answered).toBe(false);
  gaveUp.abort();
  expect(await abandoned).toBe("AbortError");
  model.stall(null);
  expect((await held).choices[0]!.message.content).toBe("echo: ping: reply with pong");
  // Every request is a model call, held or not.
  expect(model.requests.map((r) => r.prompt).sort()).toEqual(["other", "ping again", "ping: reply with pong"]);
});

it("reports MOCK_USAGE, cache fields included, in the JSON body and in the stream's usage chunk", async () => {
  model = await startMockModel();
  const ask = (stream: boolean) =>
    fetch(`${model!.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "echo-1", stream, stream_options: { include_usage: true }, messages: [{ role: "user", content: "count" }] }),
    });
  expect(((await (await ask(false)).json()) as { usage: unknown }).usage).toEqual(MOCK_USAGE);
  const chunks = (await (await ask(true)).text()).split("\n\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)) as { choices: unknown[]; usage?: unknown });
  expect(chunks.at(-1)).toMatchObject({ choices: [], usage: MOCK_USAGE });
  expect(chunks.filter((c) => c.usage !== undefined)).toHaveLength(1);
  expect(MOCK_USAGE).toEqual({ prompt_tokens: 1500, completion_tokens: 42, total_tokens: 1542, prompt_tokens_details: { cached_tokens: 1100, cache_write_tokens: 100 } });
});
