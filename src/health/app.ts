/**
 * The local HTTP app: the bearer-protected turn API under `/v1` plus the open probes.
 * Pure wiring over injected ports; serve it with `startHttpServer` (server.ts)
 * or test it with `app.request()`.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { BudgetExceededError, StorageUnavailableError, SupervisorError } from "../core/errors.ts";
import { isStoreError, writeErrorCode } from "../store/write-faults.ts";
import { DEFAULT_HEALTH_THRESHOLDS, type HealthThresholds } from "./assess.ts";
import { bearerAuth } from "./auth.ts";
import type { Metrics } from "./metrics.ts";
import type { DiskUsage, HealthSnapshot, TurnsPort } from "./ports.ts";
import { errorResponse, HTTP_ERR } from "./respond.ts";
import { probeRoutes, type ServiceInfo } from "./routes_probes.ts";
import { turnRoutes } from "./routes_turns.ts";
import { eventRoutes, type EventRoutesDeps } from "./routes_events.ts";

/** Dependencies and limits of {@link createHealthApp}. Times are ms, sizes bytes. */
export type HealthAppOptions = {
  turns: TurnsPort;
  snapshot: () => HealthSnapshot;
  /**
   * The liveness tick's time (epoch ms), read by `/livez` alone: a probe every few seconds then
   * costs no health snapshot (its SQLite counts and watchdog reads). Default: `snapshot().loopTickAt`.
   */
  loopTickAt?: () => number;
  /** Disk of the data directory; in production `() => statfsDiskUsage(dataDir)`. */
  disk: () => Promise<DiskUsage>;
  metrics: Metrics;
  /** Epoch ms. */
  now: () => number;
  /** Bearer token for `/v1/*` (RFC 6750 b64token); also scrubbed from every probe body. */
  token: string;
  /** Largest turn message in UTF-8 bytes (TURN_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  service: ServiceInfo;
  /** Cap of `GET /v1/turns/:id?wait=`; default 60000. */
  maxWaitMs?: number;
  /** `/livez` staleness bound; default 10000. */
  livenessStaleMs?: number;
  /** `Retry-After` (seconds) sent with ERR_QUEUE_FULL; default 5. */
  queueFullRetryAfterS?: number;
  thresholds?: Partial<HealthThresholds>;
  /** The gateway's RSS trend (epoch ms, bytes) since `sinceMs`, for `GET /v1/gateway/rss`. */
  rssTrend?: (sinceMs: number) => { at: number; generation: number; bytes: number }[];
  /** The audit trail's read (store/audit.ts AuditStore.list), for `GET /v1/events`; without it the route answers no events. */
  auditEvents?: EventRoutesDeps["list"];
  /** Where unexpected errors (HTTP 500) are logged; a pino logger fits. */
  log?: { error(obj: object, msg: string): void };
};

/**
 * Build the hono app. Routes:
 * - `POST /v1/turns`, `GET /v1/turns/:id?wait=ms`: bearer auth; see {@link turnRoutes}
 * - `GET /v1/events?since=&after=&limit=`: bearer auth; the audit trail, see {@link eventRoutes}
 * - `GET /livez`, `/readyz`, `/health`, `/metrics`: no auth; see {@link probeRoutes}
 *
 * Errors are `{error:{code,message}}`: ERR_QUEUE_FULL → 503 + Retry-After, ERR_DRAINING → 503,
 * ERR_STORAGE_FULL → 507, ERR_BUDGET_EXCEEDED → 429 + Retry-After (seconds to the next UTC day), ERR_STORAGE_UNAVAILABLE → 503 + Retry-After, unknown route → 404 ERR_NOT_FOUND, anything else → 500 ERR_INTERNAL
 * (message withheld from the client, logged).
 * @throws Error if `token` is not a valid bearer token
 */
export function createHealthApp(o: HealthAppOptions): Hono {
  const app = new Hono();
  const retryAfter = String(o.queueFullRetryAfterS ?? 5);

  app.use("/v1/*", bearerAuth(o.token));
  app.route("/v1/turns", turnRoutes({ turns: o.turns, maxMessageBytes: o.maxMessageBytes, maxWaitMs: o.maxWaitMs ?? 60_000 }));
  app.route("/v1/events", eventRoutes({ list: o.auditEvents ?? (() => []), now: o.now }));
  // The memory watchdog's samples: `?since=<epoch ms>` (default: the last 24 h), oldest first.
  app.get("/v1/gateway/rss", (c) => {
    const raw = c.req.query("since");
    const since = raw === undefined ? o.now() - 24 * 3_600_000 : Number(raw);
    if (!Number.isSafeInteger(since) || since < 0) return errorResponse(c, 400, HTTP_ERR.BAD_REQUEST, "since: must be epoch milliseconds");
    return c.json({ samples: o.rssTrend?.(since) ?? [] });
  });
  app.route(
    "/",
    probeRoutes({
      snapshot: o.snapshot,
      loopTickAt: o.loopTickAt,
      disk: o.disk,
      now: o.now,
      livenessStaleMs: o.livenessStaleMs ?? 10_000,
      thresholds: { ...DEFAULT_HEALTH_THRESHOLDS, ...o.thresholds },
      service: o.service,
      metrics: o.metrics,
      secrets: [o.token],
    }),
  );

  app.notFound((c) => errorResponse(c, 404, HTTP_ERR.NOT_FOUND, `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof BudgetExceededError) return errorResponse(c, 429, err.code, err.message, { "Retry-After": String(err.retryAfterS) });
    if (err instanceof SupervisorError) {
      switch (err.code) {
        case "ERR_QUEUE_FULL":
          return errorResponse(c, 503, err.code, err.message, { "Retry-After": retryAfter });
        case "ERR_DRAINING":
          return errorResponse(c, 503, err.code, err.message);
        case "ERR_STORAGE_FULL":
          return errorResponse(c, 507, err.code, err.message);
        case "ERR_STORAGE_UNAVAILABLE":
          return errorResponse(c, 503, err.code, err.message, { "Retry-After": retryAfter });
      }
    }
    if (err instanceof HTTPException) return err.getResponse();
    // SQLite itself failed (a read or write the turn service did not map): the store, not the request.
    if (isStoreError(err)) {
      const mapped = new StorageUnavailableError(writeErrorCode(err), err);
      o.log?.error({ err, method: c.req.method, path: c.req.path }, "local API request failed: SQLite error");
      return errorResponse(c, 503, mapped.code, mapped.message, { "Retry-After": retryAfter });
    }
    o.log?.error({ err, method: c.req.method, path: c.req.path }, "local API request failed");
    return errorResponse(c, 500, HTTP_ERR.INTERNAL, "internal error; see the agent-supervisor log");
  });
  return app;
}
