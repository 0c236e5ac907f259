/**
 * A local OpenAI-compatible model server for development and tests: `POST /v1/chat/completions`
 * (streaming SSE and plain JSON) and `GET /v1/models`. It stands in for the LLM provider only.
 *
 * The reply is `echo: <the user's text>`. OpenClaw wraps the user's text (a `[timestamp]`
 * prefix and a `Runtime:` footer) and appends an internal-context user message, so the real
 * prompt is the last user message that is not internal context (OPENCLAW_FACTS).
 *
 * Test hooks, set by the prompt text itself: `delay=<ms>` waits before answering.
 * `stall=silent` accepts the request and never sends a byte; `stall=headers` sends the 200 and the
 * SSE headers, then nothing (a provider that hangs mid-answer). Either holds the request open until
 * the client gives up or the server closes: a stuck run (issue 12). It is read from the prompt's
 * last paragraph only: OpenClaw 2026.9.6 merges a user message left without a reply (an aborted
 * run's) into the next one, after a blank line ("Merged and removed orphaned user message"), so
 * the next turn's prompt carries the earlier directive too.
 * `toolcalls=<JSON list of {name, arguments}>` (to the end of its line) makes it answer with OpenAI
 * `tool_calls` for those tools; when the tool results come back (`role: "tool"` messages after the
 * prompt), the answer is the echo, a line `tool results:`, and one line `[<tool>] <result>` per
 * result. So whatever a tool could read, the reply shows: the agent-boundary check of issue 11
 * (an operator can run it on a host: `agent-supervisor dev mock-model`, then send a turn with
 * `toolcalls=[{"name":"exec","arguments":{"command":"cat /etc/agent-supervisor/agent-supervisor.env"}}]`).
 * `GET /mock/requests` lists the completion requests received so far (`{requests: [{at, prompt,
 * stream, toolResults}]}`, no headers), so a test that runs the server in another process or a container can
 * count model calls: a second call for one turn is a second run of it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * One recorded completion request. `system` is the text of its system messages (OpenClaw's system
 * prompt, which lists the workspace's skills in `<available_skills>`).
 */
export type MockModelRequest = {
  at: number;
  prompt: string;
  system: string;
  stream: boolean;
  authorization: string | undefined;
  /** `[<tool>] <result>` for each tool result after the prompt (empty for a first call). */
  toolResults: string[];
};

/** One tool call asked for with `toolcalls=`: the tool's name and its arguments object. */
export type MockToolCall = { name: string; arguments: Record<string, unknown> };

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

/**
 * The tool calls a prompt asks for with `toolcalls=<JSON>` (the JSON runs to the end of its line).
 * Pure.
 * @returns [] without the directive
 * @throws Error naming `toolcalls=` when the JSON is not a list of `{name: string, arguments?: object}`
 */
export function parseToolCalls(prompt: string): MockToolCall[] {
  const m = /toolcalls=(.*)$/m.exec(prompt);
  if (!m) return [];
  let list: unknown;
  try {
    list = JSON.parse(m[1]!);
  } catch (err) {
    throw new Error(`toolcalls= is not JSON: ${(err as Error).message}`);
  }
  const ok = (c: unknown): c is MockToolCall =>
    typeof c === "object" && c !== null && typeof (c as { name?: unknown }).name === "string" &&
    ((c as { arguments?: unknown }).arguments === undefined || (typeof (c as { arguments?: unknown }).arguments === "object" && (c as { arguments?: unknown }).arguments !== null));
  if (!Array.isArray(list) || !list.every(ok)) throw new Error('toolcalls= must be a JSON list of {"name": string, "arguments": object}');
  return list.map((c) => ({ name: c.name, arguments: c.arguments ?? {} }));
}

/**
 * Whether the tool calls were already asked for since the user's prompt (an assistant message with
 * `tool_calls` after the last user message that is not OpenClaw's internal context), and the tool
 * results since then as `[<tool>] <text>`. Pure. OpenClaw 2026.9.6 sends, after the results, a
 * user message with its internal context ("Active exec sessions"), so the results are not always
 * last. Names come from the calls' ids; an unmatched result is `[?]`.
 */
function toolRound(messages: unknown): { asked: boolean; results: string[] } {
  if (!Array.isArray(messages)) return { asked: false, results: [] };
  const isPrompt = (m: { role?: unknown; content?: unknown }) => m?.role === "user" && !contentText(m.content).includes("BEGIN_OPENCLAW_INTERNAL_CONTEXT");
  const from = messages.findLastIndex(isPrompt) + 1;
  const after = messages.slice(from) as { role?: unknown; content?: unknown; tool_calls?: unknown; tool_call_id?: unknown }[];
  const calls = after.filter((m) => m.role === "assistant" && Array.isArray(m.tool_calls)).flatMap((m) => m.tool_calls as { id?: unknown; function?: { name?: unknown } }[]);
  const nameOf = new Map(calls.map((c) => [c.id, String(c.function?.name ?? "?")]));
  const results = after.filter((m) => m.role === "tool").map((m) => `[${nameOf.get(m.tool_call_id) ?? "?"}] ${contentText(m.content).slice(0, 4096)}`);
  return { asked: calls.length > 0, results };
}

/** OpenAI `tool_calls` of an assistant message for `calls` (ids unique within the answer). */
function toOpenAiCalls(calls: readonly MockToolCall[]) {
  const stamp = Date.now().toString(36);
  return calls.map((c, i) => ({ id: `call_${stamp}_${i}`, type: "function" as const, function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

type Answer = { text: string } | { calls: ReturnType<typeof toOpenAiCalls> };

function sse(res: ServerResponse, model: string, answer: Answer): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const base = { id: "chatcmpl-mock", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
  const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  if ("text" in answer) {
    send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: answer.text }, finish_reason: null }] });
    send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  } else {
    send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: null, tool_calls: answer.calls.map((c, index) => ({ index, ...c })) }, finish_reason: null }] });
    send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] });
  }
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
        return res.end(JSON.stringify({ requests: requests.map(({ at, prompt, stream, toolResults }) => ({ at, prompt, stream, toolResults })) }));
      }
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: "not found" } }));
      }
      const body = JSON.parse(await readBody(req));
      const prompt = extractPrompt(body.messages);
      const system = Array.isArray(body.messages) ? body.messages.filter((m: { role?: unknown }) => m?.role === "system" || m?.role === "developer").map((m: { content?: unknown }) => contentText(m.content)).join("\n") : "";
      const { asked, results } = toolRound(body.messages);
      requests.push({ at: Date.now(), prompt, system, stream: body.stream === true, authorization: req.headers.authorization, toolResults: results });
      const stall = /stall=(silent|headers)/.exec(prompt.split("\n\n").at(-1) ?? "")?.[1];
      if (stall !== undefined) {
        if (stall === "headers") res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" }).flushHeaders();
        return;
      }
      const wanted = parseToolCalls(prompt);
      const delay = Number(/delay=(\d+)/.exec(prompt)?.[1] ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      // Asked once per prompt, whatever comes back: a tool-call loop would run the tools forever.
      const answer: Answer =
        wanted.length > 0 && !asked
          ? { calls: toOpenAiCalls(wanted) }
          : { text: wanted.length > 0 ? `echo: ${prompt}\ntool results:\n${results.length > 0 ? results.join("\n") : "(none)"}` : `echo: ${prompt}` };
      if (body.stream) return sse(res, String(body.model ?? "echo-1"), answer);
      res.writeHead(200, { "content-type": "application/json" });
      const message = "text" in answer ? { role: "assistant", content: answer.text } : { role: "assistant", content: null, tool_calls: answer.calls };
      res.end(JSON.stringify({
        id: "chatcmpl-mock", object: "chat.completion", created: Math.floor(Date.now() / 1000), model: body.model,
        choices: [{ index: 0, message, finish_reason: "text" in answer ? "stop" : "tool_calls" }],
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
