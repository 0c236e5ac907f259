/** The mock model's request log over HTTP (`GET /mock/requests`), as the droplet test reads it from a container. */
import { afterEach, expect, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";

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
