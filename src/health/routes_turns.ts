/**
 * The local turn API: `POST /v1/turns[?wait=ms]` and `GET /v1/turns/:id[?wait=ms]`. Bearer auth
 * is applied by the caller (`createHealthApp` (app.ts)); store errors are thrown to its onError.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import type { TurnsPort, TurnView } from "./ports.ts";
import { errorResponse, HTTP_ERR } from "./respond.ts";
import { submitTurnBodySchema } from "./wire.ts";

/** Slack for JSON syntax, the conversation id and escapes on top of the message limit (bytes). */
export const BODY_OVERHEAD_BYTES = 64 * 1024;

/** What the turn routes need. */
export type TurnRoutesDeps = {
  turns: TurnsPort;
  /** Largest `message`, in UTF-8 bytes; larger gets 413. The whole body may be this + {@link BODY_OVERHEAD_BYTES}. */
  maxMessageBytes: number;
  /** Longest long-poll (ms); larger `?wait=` values are clamped to it. */
  maxWaitMs: number;
};

/** "conversationId: must match ...; message: must not be empty": one clause per zod issue. */
export function describeZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "body"}: ${i.message}`).join("; ");
}

const finished = (v: TurnView) => v.state === "done" || v.state === "failed";

/** The request's `?wait=` in ms, clamped to `maxWaitMs` (0 when absent), or the 400 to answer. */
function waitParam(c: Context, maxWaitMs: number): number | Response {
  const raw = c.req.query("wait");
  if (raw !== undefined && !/^\d{1,10}$/.test(raw)) {
    return errorResponse(c, 400, HTTP_ERR.BAD_REQUEST, `wait: must be a whole number of milliseconds (0-${maxWaitMs})`);
  }
  return Math.min(Number(raw ?? 0), maxWaitMs);
}

/** The `/v1/turns` routes, to be mounted at `/v1/turns`. */
export function turnRoutes(deps: TurnRoutesDeps): Hono {
  const app = new Hono();
  const maxBody = deps.maxMessageBytes + BODY_OVERHEAD_BYTES;

  app.post(
    "/",
    bodyLimit({
      maxSize: maxBody,
      onError: (c) => errorResponse(c, 413, HTTP_ERR.TOO_LARGE, `request body exceeds ${maxBody} bytes`),
    }),
    async (c) => {
      // Checked first: a bad `wait` stores nothing.
      const waitMs = waitParam(c, deps.maxWaitMs);
      if (waitMs instanceof Response) return waitMs;
      let json: unknown;
      try {
        json = await c.req.json();
      } catch {
        return errorResponse(c, 400, HTTP_ERR.BAD_REQUEST, "request body is not valid JSON");
      }
      const parsed = submitTurnBodySchema.safeParse(json);
      if (!parsed.success) return errorResponse(c, 400, HTTP_ERR.BAD_REQUEST, describeZodError(parsed.error));
      const bytes = Buffer.byteLength(parsed.data.message, "utf8");
      if (bytes > deps.maxMessageBytes) {
        return errorResponse(c, 413, HTTP_ERR.TOO_LARGE, `message is ${bytes} bytes; the limit is ${deps.maxMessageBytes} bytes (UTF-8)`);
      }
      const { turnId, created } = deps.turns.submit(parsed.data);
      const location = { Location: `/v1/turns/${encodeURIComponent(turnId)}` };
      // 202: accepted for asynchronous delivery; 200: an idempotent repeat of an earlier submit.
      if (waitMs === 0) return c.json({ turnId }, created ? 202 : 200, location);
      // Submit and long-poll in one request: the turn as GET shows it, 200 once finished, else
      // 202 (still running when the wait ended; GET its Location to wait on).
      let view: TurnView | undefined;
      try {
        view = await deps.turns.waitFinished(turnId, waitMs, true); // answered at shutdown: the client learns the id
      } catch {
        // The turn is stored (and may be running): never a 503 here, which says nothing was
        // stored and would make the client submit it again. Its id lets the client GET it later.
        return c.json({ turnId }, 202, location);
      }
      if (view === undefined) return c.json({ turnId }, 202, location); // gone meanwhile (pruned)
      return c.json(view, finished(view) ? 200 : 202, location);
    },
  );

  app.get("/:id", async (c) => {
    const id = c.req.param("id");
    const waitMs = waitParam(c, deps.maxWaitMs);
    if (waitMs instanceof Response) return waitMs;
    const now = deps.turns.get(id);
    if (now === undefined) return errorResponse(c, 404, HTTP_ERR.NOT_FOUND, `no turn with id ${JSON.stringify(id)}`);
    if (waitMs === 0 || finished(now)) return c.json(now);
    const later = await deps.turns.waitFinished(id, waitMs);
    if (later === undefined) return errorResponse(c, 404, HTTP_ERR.NOT_FOUND, `no turn with id ${JSON.stringify(id)}`);
    return c.json(later);
  });

  return app;
}
