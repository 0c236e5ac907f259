/**
 * What each fault action does to a request (see faults.ts for the table and the middleware).
 * Hangs and dropped connections reach the socket through @hono/node-server's `c.env.incoming`;
 * under `app.request()` (no socket) a dropped connection is a body stream that errors.
 */
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import type { ContentfulStatusCode, StatusCode } from "hono/utils/http-status";
import { z } from "zod";

const headers = z.record(z.string(), z.string());

/** What a fault does. Statuses are HTTP codes; `retryAfter` is seconds (number) or a raw header value. */
export const faultActionSchema = z.discriminatedUnion("kind", [
  // An error answer `{error:{code,message}}` (no body for 204/304); `code` defaults from the status.
  z.strictObject({ kind: z.literal("status"), status: z.number().int().min(200).max(599), code: z.string().min(1).max(64).optional(), message: z.string().max(4096).optional(), retryAfter: z.union([z.number().int().min(0), z.string().min(1)]).optional(), headers: headers.optional() }),
  // This exact body (wrong types, unknown fields, another accountId, ...), default status 200.
  z.strictObject({ kind: z.literal("raw"), status: z.number().int().min(200).max(599).default(200), body: z.string(), contentType: z.string().default("application/json"), headers: headers.optional() }),
  z.strictObject({ kind: z.literal("malformedJson"), status: z.number().int().min(200).max(599).default(200) }),
  // A JSON-looking body of `megabytes` MiB, streamed; `contentLength: false` sends it chunked.
  z.strictObject({ kind: z.literal("huge"), megabytes: z.number().positive().max(1024), status: z.number().int().min(200).max(599).default(200), contentLength: z.boolean().default(true) }),
  // The real answer, spoiled in one way (see fault-actions.ts).
  z.strictObject({ kind: z.literal("mutate"), mutation: z.enum(["foreignAccount", "foreignRuntime", "unknownField", "wrongTypes", "expiredLease"]) }),
  // Never answer (until the client gives up or the server closes), then drop the connection.
  z.strictObject({ kind: z.literal("hang") }),
  // Drop the TCP connection without an answer.
  z.strictObject({ kind: z.literal("close") }),
  // Answer normally, `ms` later.
  z.strictObject({ kind: z.literal("delay"), ms: z.number().int().min(0).max(600_000) }),
]);

/** A fault action with defaults applied. */
export type FaultAction = z.output<typeof faultActionSchema>;

/** Default `error.code` of a status fault. */
const CODE_FOR_STATUS: Record<number, string> = {
  400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "LEASE_LOST",
  413: "TOO_LARGE", 429: "RATE_LIMITED", 500: "INTERNAL", 502: "BAD_GATEWAY", 503: "UNAVAILABLE", 504: "GATEWAY_TIMEOUT",
};

type Ctx = { closing: AbortSignal; now: () => number };

/**
 * Apply `action`. `res` is the handler's response in the "after" phase, undefined "before".
 * @returns the response to send instead, or undefined to carry on normally (a "before" delay)
 */
export async function applyFault(c: Context, action: FaultAction, res: Response | undefined, ctx: Ctx): Promise<Response | undefined> {
  switch (action.kind) {
    case "status": {
      const h = { ...action.headers, ...(action.retryAfter === undefined ? {} : { "Retry-After": String(action.retryAfter) }) };
      if (action.status === 204 || action.status === 304) return new Response(null, { status: action.status, headers: h });
      const code = action.code ?? CODE_FOR_STATUS[action.status] ?? `HTTP_${action.status}`;
      const body = { error: { code, message: action.message ?? `injected fault: HTTP ${action.status}` } };
      return c.json(body, action.status as ContentfulStatusCode, h);
    }
    case "raw":
      return new Response(action.body, { status: action.status as StatusCode, headers: { "content-type": action.contentType, ...action.headers } });
    case "malformedJson":
      return new Response('{"accountId": "acc", "turns": [', { status: action.status, headers: { "content-type": "application/json" } });
    case "huge":
      return hugeBody(Math.round(action.megabytes * 1024 * 1024), action.status, action.contentLength);
    case "mutate":
      return res === undefined ? undefined : await mutate(res, action.mutation, ctx.now());
    case "delay":
      await sleep(action.ms, anySignal(c, ctx));
      return res;
    case "hang":
      await sleep(Infinity, anySignal(c, ctx));
      return dropConnection(c);
    case "close":
      return dropConnection(c);
  }
}


function anySignal(c: Context, ctx: Ctx): AbortSignal {
  return AbortSignal.any([c.req.raw.signal, ctx.closing]);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function dropConnection(c: Context): Response {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming?.socket) {
    incoming.socket.destroy();
    return new Response(null, { status: 500 });
  }
  const broken = new ReadableStream({ pull: (ctl) => ctl.error(new Error("injected fault: connection closed")) });
  return new Response(broken, { status: 200, headers: { "content-type": "application/json" } });
}

function hugeBody(bytes: number, status: number, withLength: boolean): Response {
  const head = '{"accountId":"';
  const tail = '"}';
  const chunk = "x".repeat(64 * 1024);
  let left = Math.max(0, bytes - head.length - tail.length);
  let started = false;
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (!started) {
        started = true;
        return ctl.enqueue(enc.encode(head));
      }
      if (left === 0) {
        ctl.enqueue(enc.encode(tail));
        return ctl.close();
      }
      const n = Math.min(left, chunk.length);
      left -= n;
      ctl.enqueue(enc.encode(n === chunk.length ? chunk : chunk.slice(0, n)));
    },
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (withLength) headers["content-length"] = String(Math.max(bytes, head.length + tail.length));
  return new Response(stream, { status, headers });
}

async function mutate(res: Response, mutation: Extract<FaultAction, { kind: "mutate" }>["mutation"], nowMs: number): Promise<Response> {
  if (!res.ok || !(res.headers.get("content-type") ?? "").includes("json")) return res;
  const body = (await res.json()) as Record<string, unknown>;
  const past = new Date(nowMs - 60_000).toISOString();
  switch (mutation) {
    case "foreignAccount":
      body.accountId = body.accountId === "other-account" ? "other-account-2" : "other-account";
      break;
    case "foreignRuntime":
      body.runtimeId = body.runtimeId === "other-runtime" ? "other-runtime-2" : "other-runtime";
      break;
    case "unknownField":
      // At the top and in every element of the answer's lists: a newer contract may add fields anywhere.
      body.unexpectedField = true;
      for (const item of [...asArray(body.turns), ...asArray(body.leases), ...asArray(body.skills)]) item.unexpectedField = { added: "later" };
      break;
    case "wrongTypes": {
      const key = Object.keys(body).find((k) => k !== "accountId" && k !== "runtimeId") ?? "accountId";
      body[key] = typeof body[key] === "number" ? String(body[key]) : 42;
      break;
    }
    case "expiredLease":
      for (const t of [...asArray(body.turns), ...asArray(body.leases)]) {
        if ("leaseExpiresAt" in t) t.leaseExpiresAt = past;
        if ("leaseTtlMs" in t) t.leaseTtlMs = 0;
      }
      break;
  }
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  return new Response(JSON.stringify(body), { status: res.status, headers });
}

const asArray = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as Record<string, unknown>[]) : []);
