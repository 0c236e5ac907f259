/**
 * A local OpenAI-compatible model server for development and tests: `POST /v1/chat/completions`
 * (streaming SSE and plain JSON) and `GET /v1/models`. It stands in for the LLM provider only.
 *
 * The reply is `echo: <the user's text>`. OpenClaw wraps the user's text (a `[timestamp]`
 * prefix and a `Runtime:` footer) and appends an internal-context user message, so the real
 * prompt is the last user message that is not internal context (OPENCLAW_FACTS).
 *
 * Test hooks, set by the prompt text itself: `delay=<ms>` waits before answering.
 * `GET /mock/requests` lists the completion requests received so far (`{requests: [{at, prompt,
 * stream}]}`, no headers), so a test that runs the server in another process or a container can
 * count model calls: a second call for one turn is a second run of it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * One recorded completion request. `system` is the text of its system messages (OpenClaw's system
 * prompt, which lists the workspace's skills in `<available_skills>`).
 */
export type MockModelRequest = { at: number; prompt: string; system: string; stream: boolean; authorization: string | undefined };

/** A running mock model server. */
export type MockModel = {
  url: string;
  port: number;
  requests: MockModelRequest[];
  close(): Promise<void>;
};

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  return "";
}

/**
 * Extract the user's own words from OpenClaw's wrapped prompt. Pure.
 * Handles, as observed on openclaw 2026.9.6: a `[timestamp] ` prefix and `Runtime:` footer, the
 * internal-context user message, and a restart-recovery prompt that carries the interrupted
 * input as `[Queued user message ...]\n<text>\n\n[System] Your previous turn was interrupted...`.
 */
export function extractPrompt(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  const users = messages.filter((m) => m?.role === "user").map((m) => contentText(m.content));
  const real = users.filter((t) => !t.includes("BEGIN_OPENCLAW_INTERNAL_CONTEXT") && !t.startsWith("[System]"));
  const last = (real.length > 0 ? real : users).at(-1) ?? "";
  return last
    .replace(/^\s*\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [^\]]*\]\s*/, "")
    .replace(/^\s*\[Queued user message[^\]]*\]\s*/, "")
    .replace(/\n+\[System\][\s\S]*$/, "")
    .replace(/^\s*\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [^\]]*\]\s*/, "")
    .replace(/\n+Runtime:[\s\S]*$/, "")
    .trim();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sse(res: ServerResponse, model: string, text: string): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const base = { id: "chatcmpl-mock", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
  const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: text }, finish_reason: null }] });
  send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  send({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
  res.end("data: [DONE]\n\n");
}

/**
 * Start the server on 127.0.0.1.
 * @param port 0 for any free port
 */
export async function startMockModel(port = 0, host = "127.0.0.1"): Promise<MockModel> {
  const requests: MockModelRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    try {
      if (req.method === "GET" && req.url?.endsWith("/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ object: "list", data: [{ id: "echo-1", object: "model", owned_by: "mock" }] }));
      }
      if (req.method === "GET" && req.url === "/mock/requests") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ requests: requests.map(({ at, prompt, stream }) => ({ at, prompt, stream })) }));
      }
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: "not found" } }));
      }
      const body = JSON.parse(await readBody(req));
      const prompt = extractPrompt(body.messages);
      const system = Array.isArray(body.messages) ? body.messages.filter((m: { role?: unknown }) => m?.role === "system" || m?.role === "developer").map((m: { content?: unknown }) => contentText(m.content)).join("\n") : "";
      requests.push({ at: Date.now(), prompt, system, stream: body.stream === true, authorization: req.headers.authorization });
      const delay = Number(/delay=(\d+)/.exec(prompt)?.[1] ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const text = `echo: ${prompt}`;
      if (body.stream) return sse(res, String(body.model ?? "echo-1"), text);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({
        id: "chatcmpl-mock", object: "chat.completion", created: Math.floor(Date.now() / 1000), model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      }));
    } catch (err) {
      if (!res.headersSent) res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: (err as Error).message } }));
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}/v1`,
    port: actual,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
