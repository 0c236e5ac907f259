/**
 * A local OpenAI-compatible model server for development and tests: `POST /v1/chat/completions`
 * (streaming SSE and plain JSON) and `GET /v1/models`. It stands in for the LLM provider only.
 *
 * The reply is `echo: <the user's text>`; every answer reports the same token usage, cache reads
 * and writes included ({@link MOCK_USAGE}), so a test can assert exact numbers per model call.
 * OpenClaw wraps the user's text (a `[timestamp]` prefix and a `Runtime:` footer) and appends an
 * internal-context user message, so the real prompt is the last user message that is not
 * internal context (OPENCLAW_FACTS).
 *
 * Test hooks, set by the prompt text itself: `delay=<ms>` waits before answering.
 * `fail=<status>` answers that HTTP status (e.g. 500, 503, 400) with an OpenAI error body
 * `{error: {message: "mock provider error <status>", type}}` instead of a completion.
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
 * `stall(text)` (or `POST /mock/stall {"match": text}`; `null` ends it) holds every request whose
 * prompt contains `text` without an answer until the stall ends or the client hangs up: a
 * provider that stops answering one kind of message (the probe turn of issue 12).
 * `GET /mock/requests` lists the completion requests received so far (`{requests: [{at, prompt,
 * stream, toolResults}]}`, no headers), so a test that runs the server in another process or a container can
 * count model calls: a second call for one turn is a second run of it.
 *
 * Provider refusals (mock-refusals.ts): a request body over `settings.contextLimitBytes` gets
 * OpenAI's 400 `context_length_exceeded`; with `settings.rejectOrphanedToolCalls`, assistant tool
 * calls no tool message answers get OpenAI's 400 for orphaned `tool_calls`; a session whose history holds the word
 * `mock-poison-session` gets that same 400 on every turn (a poisoned transcript). Settings are
 * given to {@link startMockModel}, changed on `model.settings`, or over HTTP with
 * `POST /mock/settings` (`{"contextLimitBytes": 60000, "rejectOrphanedToolCalls": true}`; a limit of
 * null is none; the answer is the settings).
 * A refused request is recorded too, with `refused` set.
 * Refused keys (issue 12, provider credentials): `refusals` maps an API key (the `Bearer` token)
 * to an HTTP status the server answers for it, on `GET /v1/models` and on completions alike, with
 * an OpenAI-shaped error body (401 `invalid_api_key`, 403 `forbidden`, 429 `rate_limit_exceeded`
 * with `Retry-After` when `retryAfterS` is set). A refused completion is recorded too, with
 * `refused` set, so a test still sees the call. Set it at start (`startMockModel(0, host,
 * {refusals})`, `dev mock-model --refuse-key KEY=401`) or change the map while it runs.
 * `GET /mock/requests` also gives `models`, the number of `GET /models` calls (a credential check
 * costs no tokens, but a test can count it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { refusalFor, type MockSettings } from "./mock-refusals.ts";

export { POISON_MARK, type MockSettings } from "./mock-refusals.ts";

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
  /** Size of the request body (bytes). */
  bytes: number;
  /** Texts of the request's assistant messages: the conversation's earlier replies, as the model sees its history. */
  assistantTexts: string[];
  /**
   * Set when the request was refused: the HTTP status for a refused key (`refusals`), or, for a
   * refused request (mock-refusals.ts), `context` (400 context_length_exceeded) or `orphan` (400
   * orphaned tool_calls). Absent when answered.
   */
  refused?: number | "context" | "orphan";
};

/**
 * How the mock refuses one key: an HTTP status (401, 403, 429...), for 429 `Retry-After` seconds,
 * and the error's message in place of the usual one (e.g. "API key revoked", which OpenClaw
 * treats as a permanent auth failure: a 10-minute disable instead of a 30-second cooldown).
 */
export type MockRefusal = { status: number; retryAfterS?: number; message?: string };

/** Options of {@link startMockModel}. */
export type MockModelOptions = {
  /** API key → refusal (see the module comment). */
  refusals?: Iterable<readonly [string, MockRefusal]>;
};

/** One tool call asked for with `toolcalls=`: the tool's name and its arguments object. */
export type MockToolCall = { name: string; arguments: Record<string, unknown> };

/**
 * The usage every answer reports, OpenAI-shaped (`stream_options.include_usage` chunk, or the
 * JSON body's `usage`): `prompt_tokens` includes the cached tokens, as OpenAI counts them, and
 * `prompt_tokens_details` carries the cache read (`cached_tokens`) and cache write
 * (`cache_write_tokens`, as OpenAI-compatible caching providers send it). OpenClaw 2026.9.6
 * normalizes this to `{input: 300, output: 42, cacheRead: 1100, cacheWrite: 100}` (input =
 * prompt - cache read - cache write), so a test can assert those exact numbers per model call.
 */
export const MOCK_USAGE = {
  prompt_tokens: 1500,
  completion_tokens: 42,
  total_tokens: 1542,
  prompt_tokens_details: { cached_tokens: 1100, cache_write_tokens: 100 },
} as const;

/** A running mock model server. */
export type MockModel = {
  url: string;
  port: number;
  requests: MockModelRequest[];
  /** Live settings (see the module comment); change them at any time. */
  settings: MockSettings;
  /** API key → refusal; change it at any time (see the module comment). */
  refusals: Map<string, MockRefusal>;
  /** How many `GET /models` calls it answered (refused ones included). */
  readonly modelListCalls: number;
  /**
   * Hold requests whose prompt contains `match` (recorded, never answered) until `stall(null)`,
   * which answers the held ones, or until their client disconnects.
   */
  stall(match: string | null): void;
  close(): Promise<void>;
};

/** The OpenAI-shaped error body for a refusal (OpenAI API reference, "Error codes"). Pure. */
export function refusalBody(status: number): { error: { message: string; type: string; code: string } } {
  if (status === 401) return { error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" } };
  if (status === 403) return { error: { message: "Forbidden: this key may not use this resource.", type: "invalid_request_error", code: "forbidden" } };
  if (status === 429) return { error: { message: "Rate limit reached for requests.", type: "rate_limit_error", code: "rate_limit_exceeded" } };
  return { error: { message: `mock refusal ${status}`, type: "server_error", code: `http_${status}` } };
}

/** The key of an `Authorization: Bearer <key>` header, or undefined. Pure. */
function bearerKey(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  return m?.[1]?.trim();
}

function refuse(res: ServerResponse, r: MockRefusal): void {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (r.retryAfterS !== undefined) headers["retry-after"] = String(r.retryAfterS);
  res.writeHead(r.status, headers);
  const body = refusalBody(r.status);
  if (r.message !== undefined) body.error.message = r.message;
  res.end(JSON.stringify(body));
}

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
  send({ ...base, choices: [], usage: MOCK_USAGE });
  res.end("data: [DONE]\n\n");
}

/**
 * Start the server on 127.0.0.1.
 * @param port 0 for any free port
 * @param settings initial {@link MockSettings} (default: no context limit, orphaned tool calls answered)
 */
export async function startMockModel(port = 0, host = "127.0.0.1", opts: Partial<MockSettings> & MockModelOptions = {}): Promise<MockModel> {
  const requests: MockModelRequest[] = [];
  const { refusals: initialRefusals, ...settings } = opts;
  const live: MockSettings = { contextLimitBytes: null, rejectOrphanedToolCalls: false, ...settings };
  const refusals = new Map<string, MockRefusal>(initialRefusals ?? []);
  let modelListCalls = 0;
  let stalled: string | null = null;
  const held = new Set<() => void>();
  const stall = (match: string | null) => {
    stalled = match;
    if (match === null) for (const release of [...held]) release();
  };
  /** Resolves when the stall ends (true) or the client hangs up (false). */
  const hold = (req: IncomingMessage) =>
    new Promise<boolean>((resolve) => {
      const release = (answer: boolean) => {
        held.delete(onRelease);
        req.socket.off("close", onClose);
        resolve(answer);
      };
      const onRelease = () => release(true);
      const onClose = () => release(false);
      held.add(onRelease);
      req.socket.once("close", onClose);
    });
  const server: Server = createServer(async (req, res) => {
    try {
      const refusal = refusals.get(bearerKey(req.headers.authorization) ?? "");
      if (req.method === "GET" && req.url?.endsWith("/models")) {
        modelListCalls += 1;
        if (refusal) return refuse(res, refusal);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ object: "list", data: [{ id: "echo-1", object: "model", owned_by: "mock" }] }));
      }
      if (req.method === "GET" && req.url === "/mock/requests") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ requests: requests.map(({ at, prompt, stream, toolResults, bytes, refused }) => ({ at, prompt, stream, toolResults, bytes, refused })), models: modelListCalls }));
      }
      if (req.method === "POST" && req.url === "/mock/settings") {
        const change = JSON.parse((await readBody(req)) || "{}") as { contextLimitBytes?: unknown; rejectOrphanedToolCalls?: unknown };
        const { contextLimitBytes: limit, rejectOrphanedToolCalls: strict } = change;
        if (limit !== undefined && limit !== null && !(typeof limit === "number" && Number.isInteger(limit) && limit > 0)) throw new Error("contextLimitBytes must be a positive integer or null");
        if (strict !== undefined && typeof strict !== "boolean") throw new Error("rejectOrphanedToolCalls must be true or false");
        if (limit !== undefined) live.contextLimitBytes = limit;
        if (strict !== undefined) live.rejectOrphanedToolCalls = strict;
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify(live));
      }
      if (req.method === "POST" && req.url === "/mock/stall") {
        const { match } = JSON.parse(await readBody(req)) as { match?: unknown };
        stall(typeof match === "string" && match !== "" ? match : null);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ stalled }));
      }
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: "not found" } }));
      }
      const raw = await readBody(req);
      const body = JSON.parse(raw);
      const prompt = extractPrompt(body.messages);
      const system = Array.isArray(body.messages) ? body.messages.filter((m: { role?: unknown }) => m?.role === "system" || m?.role === "developer").map((m: { content?: unknown }) => contentText(m.content)).join("\n") : "";
      const { asked, results } = toolRound(body.messages);
      const bytes = Buffer.byteLength(raw);
      const assistantTexts = Array.isArray(body.messages) ? body.messages.filter((m: { role?: unknown }) => m?.role === "assistant").map((m: { content?: unknown }) => contentText(m.content)) : [];
      const record = { at: Date.now(), prompt, system, stream: body.stream === true, authorization: req.headers.authorization, toolResults: results, bytes, assistantTexts };
      // A refused key first (as a provider checks the key before the request), then the request's own refusals.
      if (refusal) {
        requests.push({ ...record, refused: refusal.status });
        return refuse(res, refusal);
      }
      const refusedRequest = refusalFor(body, bytes, live);
      requests.push({ ...record, ...(refusedRequest ? { refused: refusedRequest.kind } : {}) });
      if (refusedRequest) {
        res.writeHead(refusedRequest.status, { "content-type": "application/json" });
        return res.end(JSON.stringify(refusedRequest.body));
      }
      if (stalled !== null && prompt.includes(stalled) && !(await hold(req))) return;
      const stallMode = /stall=(silent|headers)/.exec(prompt.split("\n\n").at(-1) ?? "")?.[1];
      if (stallMode !== undefined) {
        if (stallMode === "headers") res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" }).flushHeaders();
        return;
      }
      const wanted = parseToolCalls(prompt);
      const delay = Number(/delay=(\d+)/.exec(prompt)?.[1] ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const fail = /(?:^|\s)fail=(\d{3})\b/.exec(prompt);
      if (fail) {
        const status = Number(fail[1]);
        res.writeHead(status, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: `mock provider error ${status}`, type: status >= 500 ? "server_error" : "invalid_request_error", code: null } }));
      }
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
        usage: MOCK_USAGE,
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
    settings: live,
    refusals,
    get modelListCalls() {
      return modelListCalls;
    },
    stall,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
