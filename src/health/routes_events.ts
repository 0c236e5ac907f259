/**
 * The audit trail on the local API: `GET /v1/events?since=&after=&limit=` (bearer auth applied by
 * the caller, app.ts). `since`: an RFC 3339 time or a duration back from now (`1h`, `7d`);
 * `after`: a seq (entries after it, for polling); `limit`: 1-1000, default 100. Answers
 * `{events: [{id, seq, at, actor, action, cause, detail, shippedAt}], lastSeq}`, oldest first;
 * `lastSeq` is the seq to pass as `after` next (the last returned, else `after`).
 */
import { Hono } from "hono";
import { auditEntryJson, parseSince, type AuditEntry, type AuditQuery } from "../store/audit.ts";
import { errorResponse, HTTP_ERR } from "./respond.ts";

/** Most entries one answer holds. */
export const MAX_EVENTS_LIMIT = 1000;

/** What the route needs: the store's read (store/audit.ts AuditStore.list) and the wall clock (epoch ms). */
export type EventRoutesDeps = { list: (q: AuditQuery) => AuditEntry[]; now: () => number };

/** The `/v1/events` route, to be mounted at `/v1/events`. */
export function eventRoutes(d: EventRoutesDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const { since, after, limit } = c.req.query();
    let sinceMs: number | undefined;
    if (since !== undefined) {
      sinceMs = parseSince(since, d.now());
      if (sinceMs === undefined) return errorResponse(c, 400, HTTP_ERR.BAD_REQUEST, "since: must be an RFC 3339 time or a duration such as 90s, 15m, 1h, 7d");
    }
    if (after !== undefined && !/^\d{1,15}$/.test(after)) return errorResponse(c, 400, HTTP_ERR.BAD_REQUEST, "after: must be a seq (a whole number)");
    if (limit !== undefined && (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_EVENTS_LIMIT)) {
      return errorResponse(c, 400, HTTP_ERR.BAD_REQUEST, `limit: must be 1-${MAX_EVENTS_LIMIT}`);
    }
    const events = d.list({ sinceMs, afterSeq: after === undefined ? undefined : Number(after), limit: limit === undefined ? 100 : Number(limit) });
    return c.json({ events: events.map(auditEntryJson), lastSeq: events.at(-1)?.seq ?? (after === undefined ? 0 : Number(after)) });
  });
  return app;
}
