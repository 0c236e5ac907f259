/**
 * The admin API under `/admin` (bearer admin token, applied by the app): a thin HTTP face over
 * {@link ControlPlaneAdmin}. Bodies are JSON; errors are `{error:{code,message}}` as everywhere.
 */
import { Hono } from "hono";
import { z } from "zod";
import { enqueueTurnSchema, registerRuntimeSchema, setSecretsSchema, setSkillsSchema, type ControlPlaneAdmin } from "./admin.ts";
import { faultSpecSchema } from "./faults.ts";
import { ControlPlaneError, errorJson, parseBody } from "./http.ts";

const stateSchema = z.enum(["queued", "leased", "done", "failed", "cancelled"]).optional();

/**
 * The `/admin` routes, to be mounted at `/admin`:
 * - `POST /turns` {accountId, runtimeId?, conversationId, message, sessionKey?, agentId?, turnId?} → 201 {turnId}
 * - `GET /turns?accountId=&state=` → {turns: TurnView[]}; `GET /turns/:id` → TurnView (404 NOT_FOUND)
 * - `POST /turns/:id/cancel`, `POST /turns/:id/expire-lease` → TurnView
 * - `GET /runtimes` → {runtimes}; `PUT /runtimes/:runtimeId` {accountId} → {runtimeId, accountId}
 * - `PUT /runtimes/:runtimeId/secrets` {providers} → {runtimeId, version}; `DELETE` the same → 204
 * - `GET /runtimes/:runtimeId/status` → {receivedAt, report} (404 NO_STATUS); `.../status/history?limit=` → {reports}
 * - `PUT /accounts/:accountId/skills` {skills:[{name, files:[{path, content}]}]} → {accountId, version}
 * - `GET /faults` → {faults}; `POST /faults` (a FaultSpec) → 201 Fault; `DELETE /faults[/:id]` → {cleared}
 */
export function adminRoutes(admin: ControlPlaneAdmin): Hono {
  const app = new Hono();

  app.post("/turns", async (c) => {
    const { turnId } = admin.enqueueTurn(await parseBody(c, enqueueTurnSchema));
    return c.json({ turnId }, 201, { Location: `/admin/turns/${encodeURIComponent(turnId)}` });
  });
  app.get("/turns", (c) => {
    const state = stateSchema.safeParse(c.req.query("state"));
    if (!state.success) throw new ControlPlaneError("BAD_REQUEST", "state: must be queued, leased, done, failed or cancelled");
    return c.json({ turns: admin.listTurns({ accountId: c.req.query("accountId"), state: state.data }) });
  });
  app.get("/turns/:id", (c) => {
    const view = admin.getTurn(c.req.param("id"));
    return view === undefined ? errorJson(c, "NOT_FOUND", `no turn ${c.req.param("id")}`) : c.json(view);
  });
  app.post("/turns/:id/cancel", (c) => c.json(admin.cancelTurn(c.req.param("id"))));
  app.post("/turns/:id/expire-lease", (c) => c.json(admin.expireLease(c.req.param("id"))));

  app.get("/runtimes", (c) => c.json({ runtimes: admin.runtimes() }));
  app.put("/runtimes/:runtimeId", async (c) => {
    const { accountId } = await parseBody(c, registerRuntimeSchema);
    admin.registerRuntime({ runtimeId: c.req.param("runtimeId"), accountId });
    return c.json({ runtimeId: c.req.param("runtimeId"), accountId });
  });
  app.put("/runtimes/:runtimeId/secrets", async (c) => {
    const { providers, gateway } = await parseBody(c, setSecretsSchema);
    return c.json({ runtimeId: c.req.param("runtimeId"), ...admin.setSecrets(c.req.param("runtimeId"), providers, gateway) });
  });
  app.delete("/runtimes/:runtimeId/secrets", (c) => {
    admin.clearSecrets(c.req.param("runtimeId"));
    return c.body(null, 204);
  });
  app.get("/runtimes/:runtimeId/status", (c) => {
    const latest = admin.latestStatus(c.req.param("runtimeId"));
    return latest === undefined ? errorJson(c, "NO_STATUS", `runtime ${c.req.param("runtimeId")} has not reported a status`) : c.json(latest);
  });
  app.get("/runtimes/:runtimeId/status/history", (c) => {
    const limit = c.req.query("limit");
    if (limit !== undefined && !/^[1-9]\d{0,5}$/.test(limit)) throw new ControlPlaneError("BAD_REQUEST", "limit: must be a positive whole number");
    return c.json({ reports: admin.statusHistory(c.req.param("runtimeId"), limit === undefined ? undefined : Number(limit)) });
  });

  app.put("/accounts/:accountId/skills", async (c) => {
    const { skills } = await parseBody(c, setSkillsSchema);
    return c.json({ accountId: c.req.param("accountId"), ...admin.setSkills(c.req.param("accountId"), skills) });
  });

  app.get("/faults", (c) => c.json({ faults: admin.faults.list() }));
  app.post("/faults", async (c) => c.json(admin.faults.add(await parseBody(c, faultSpecSchema)), 201));
  app.delete("/faults", (c) => c.json({ cleared: admin.faults.clear() }));
  app.delete("/faults/:id", (c) => {
    const cleared = admin.faults.clear(c.req.param("id"));
    return cleared === 0 ? errorJson(c, "NOT_FOUND", `no fault ${c.req.param("id")}`) : c.json({ cleared });
  });

  return app;
}
