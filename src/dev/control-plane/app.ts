/**
 * The reference control plane: an in-repo implementation of the daemon's control-plane contract
 * (src/sync/contract.ts), for tests and development. It is a test peer, not the fleet's real
 * control plane: one process, one SQLite file, no HA.
 *
 * `createReferenceControlPlane` builds the hono app and its admin operations (test it with
 * `app.request()`); server.ts serves it on a socket.
 */
import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { createAdmin, type ControlPlaneAdmin } from "./admin.ts";
import { requireBearer } from "./auth.ts";
import { FaultTable, faultInjection } from "./faults.ts";
import { ControlPlaneError, errorJson } from "./http.ts";
import { MAX_WAIT_MS, OPTIONAL_REQUEST_FIELDS } from "../../sync/contract.ts";
import { adminRoutes } from "./routes_admin.ts";
import { resultRoutes } from "./routes_results.ts";
import { auditAdminRoutes, auditRoutes } from "./routes_audit.ts";
import { AuditEvents } from "./store_audit.ts";
import { runtimeRoutes } from "./routes_runtime.ts";
import { openControlPlaneDb } from "./store_db.ts";
import { RuntimeRegistry, type RuntimeRecord } from "./store_runtimes.ts";
import { TurnQueue } from "./store_turns.ts";
import { Wakeups } from "./waiters.ts";

/** Largest request body accepted (bytes, by Content-Length): a 16 MiB reply plus JSON escapes and the envelope; larger gets 413 TOO_LARGE. */
export const MAX_REQUEST_BYTES = 40 * 1024 * 1024;

/** Options of {@link createReferenceControlPlane}. Times are epoch ms, durations ms. */
export type ReferenceControlPlaneOptions = {
  /** SQLite file (state survives a restart) or ":memory:" (default). */
  dbPath?: string | undefined;
  /** Bearer token the daemon presents on `/v1` (RFC 6750 b64token). */
  serviceToken: string;
  /** Bearer token of `/admin`; default a fresh random one (see the returned `adminToken`). Must differ from `serviceToken`. */
  adminToken?: string | undefined;
  /** Runtimes to register (upserted into the database at start). */
  runtimes?: RuntimeRecord[] | undefined;
  /** Lease length of claims and heartbeats; default 60000. */
  leaseMs?: number | undefined;
  /** Wall clock for leases and timestamps; default Date.now. Long-poll budgets use real timers. */
  now?: (() => number) | undefined;
  /** Status reports kept per runtime; default 100. */
  statusHistory?: number | undefined;
  /** Turn and lease id generator; default crypto.randomUUID. */
  newId?: (() => string) | undefined;
  /**
   * Serve the audit operation (`POST /v1/runtimes/{runtimeId}/audit-events`); default true. False
   * plays an older control plane without it: the route answers 404 NOT_FOUND like any unknown one.
   */
  auditEvents?: boolean | undefined;
  /**
   * The optional request fields it takes and lists in `accepts` (default: all of
   * OPTIONAL_REQUEST_FIELDS); `[]` plays a control plane on the first contract, which answers 400
   * to any of them and lists none.
   */
  accepts?: readonly string[] | undefined;
  /**
   * Announce the secrets and skills versions on claim answers and answer parked claims at once
   * when they change (issue 15); default true. False plays an older control plane without it.
   */
  announceVersions?: boolean | undefined;
  /**
   * The longest claim waitMs it takes (ms), sent as `maxWaitMs` on claim answers; default
   * MAX_WAIT_MS (240000). BASE_MAX_WAIT_MS (60000) plays a control plane on the first contract's
   * limit: it does not send the field and answers 400 to more.
   */
  maxWaitMs?: number | undefined;
  /** Where unexpected errors (HTTP 500) go; a pino logger fits. Default: none. */
  log?: { error(obj: object, msg: string): void } | undefined;
};

/** A reference control plane: its app, admin operations and tokens. */
export type ReferenceControlPlane = ControlPlaneAdmin & {
  /** The audit events the runtimes shipped (store_audit.ts). */
  auditEvents: AuditEvents;
  /** The hono app: `/v1/*` (daemon-facing, service token) and `/admin/*` (admin token). */
  app: Hono;
  serviceToken: string;
  adminToken: string;
  /** Answer parked long-polls and hanging or delayed faults at once (the server is going down). Idempotent. */
  interrupt(): void;
  /** {@link interrupt}, then close the database. Idempotent. */
  close(): void;
};

/**
 * Build a reference control plane over a new or existing database.
 * @throws Error if a token is not a valid bearer token or both tokens are equal; SqliteError if
 *   the database cannot be opened
 */
export function createReferenceControlPlane(o: ReferenceControlPlaneOptions): ReferenceControlPlane {
  const adminToken = o.adminToken ?? randomBytes(24).toString("base64url");
  if (adminToken === o.serviceToken) throw new Error("the admin token must differ from the service token");
  const now = o.now ?? Date.now;
  const db = openControlPlaneDb(o.dbPath ?? ":memory:");
  const turns = new TurnQueue(db, o.newId);
  const registry = new RuntimeRegistry(db, { statusHistory: o.statusHistory ?? 100 });
  const wakeups = new Wakeups();
  const auditEvents = new AuditEvents(db);
  const faults = new FaultTable();
  const closing = new AbortController();
  const admin = createAdmin({ turns, registry, wakeups, faults, now });
  for (const r of o.runtimes ?? []) admin.registerRuntime(r);

  const app = new Hono();
  // By Content-Length only: hono's bodyLimit re-wraps chunked requests in a global Request, which
  // @hono/node-server's lightweight request (overrideGlobalObjects: false) does not survive.
  app.use("*", async (c, next) => {
    if (Number(c.req.header("content-length") ?? 0) > MAX_REQUEST_BYTES) return errorJson(c, "TOO_LARGE", `request body exceeds ${MAX_REQUEST_BYTES} bytes`);
    await next();
    // While closing, end each connection after its answer so the server can close without waiting out keep-alives.
    if (closing.signal.aborted) c.header("Connection", "close");
  });
  // Faults come first: an injected 503 or a dropped connection happens before anything else would.
  app.use("/v1/*", faultInjection(faults, closing.signal, now));
  app.use("/v1/*", requireBearer(o.serviceToken, "control-plane"));
  app.use("/admin/*", requireBearer(adminToken, "control-plane-admin"));
  const accepts = o.accepts ?? OPTIONAL_REQUEST_FIELDS;
  app.route("/v1/runtimes", runtimeRoutes({ turns, registry, wakeups, now, leaseMs: o.leaseMs ?? 60_000, closing: closing.signal, accepts, announceVersions: o.announceVersions ?? true, maxWaitMs: o.maxWaitMs ?? MAX_WAIT_MS }));
  app.route("/v1/turns", resultRoutes({ turns, registry, now, accepts }));
  if (o.auditEvents ?? true) app.route("/v1/runtimes", auditRoutes({ audit: auditEvents, registry, now }));
  app.route("/admin/runtimes", auditAdminRoutes({ audit: auditEvents }));
  app.route("/admin", adminRoutes(admin));

  app.notFound((c) => errorJson(c, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof ControlPlaneError) return errorJson(c, err.code, err.message, err.status);
    if (err instanceof HTTPException) return err.getResponse();
    o.log?.error({ err, method: c.req.method, path: c.req.path }, "reference control plane request failed");
    return errorJson(c, "INTERNAL", "internal error of the reference control plane", 500);
  });

  return {
    ...admin,
    auditEvents,
    app,
    serviceToken: o.serviceToken,
    adminToken,
    interrupt: () => closing.abort(),
    close: () => {
      closing.abort();
      if (db.open) db.close();
    },
  };
}
