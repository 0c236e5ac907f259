/**
 * Audit routes: the daemon-facing `POST /v1/runtimes/{runtimeId}/audit-events` (contract.ts
 * `shipAuditEvents`; idempotent on each event id: the answer names the ids held, new or not) and
 * the admin read `GET /admin/runtimes/{runtimeId}/audit-events?limit=` → {events}.
 */
import { Hono } from "hono";
import { OPERATIONS } from "../../sync/contract.ts";
import { identify } from "./auth.ts";
import { ControlPlaneError, parseBody, sendChecked } from "./http.ts";
import type { AuditEvents } from "./store_audit.ts";
import type { RuntimeRegistry } from "./store_runtimes.ts";

/** What the audit routes need. `now` is epoch ms. */
export type AuditRoutesDeps = { audit: AuditEvents; registry: RuntimeRegistry; now: () => number };

/** The daemon-facing route, to be mounted at `/v1/runtimes`. */
export function auditRoutes(d: AuditRoutesDeps): Hono {
  const app = new Hono();
  app.post("/:runtimeId/audit-events", async (c) => {
    const body = await parseBody(c, OPERATIONS.shipAuditEvents.request);
    const rt = identify(d.registry, c.req.param("runtimeId"), body);
    const { held } = d.audit.hold(rt.runtimeId, body.events, d.now());
    return sendChecked(c, OPERATIONS.shipAuditEvents.response, { accountId: rt.accountId, runtimeId: rt.runtimeId, held });
  });
  return app;
}

/** The admin read, to be mounted at `/admin/runtimes`. */
export function auditAdminRoutes(d: Pick<AuditRoutesDeps, "audit">): Hono {
  const app = new Hono();
  app.get("/:runtimeId/audit-events", (c) => {
    const limit = c.req.query("limit");
    if (limit !== undefined && !/^[1-9]\d{0,5}$/.test(limit)) throw new ControlPlaneError("BAD_REQUEST", "limit: must be a positive whole number");
    return c.json({ events: d.audit.list(c.req.param("runtimeId"), limit === undefined ? undefined : Number(limit)) });
  });
  return app;
}
