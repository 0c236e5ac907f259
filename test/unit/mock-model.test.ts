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
