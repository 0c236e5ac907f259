/**
 * Daemon-facing routes under `/v1/runtimes/{runtimeId}`: status, claims (long-poll), lease
 * heartbeats, secrets and skills, exactly as OPERATIONS in src/sync/contract.ts. Bearer auth is
 * applied by the app; identity is checked here (auth.ts); errors are thrown to the app's onError.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { BASE_MAX_WAIT_MS, OPERATIONS } from "../../sync/contract.ts";
import { identify } from "./auth.ts";
import { ControlPlaneError, iso, parseBody, refuseUnaccepted, sendChecked } from "./http.ts";
import type { RuntimeRegistry } from "./store_runtimes.ts";
import type { TurnQueue } from "./store_turns.ts";
import { longPoll, type Wakeups } from "./waiters.ts";

/** What the runtime routes need. Times are epoch ms; durations ms. */
export type RuntimeRoutesDeps = {
  turns: TurnQueue;
  registry: RuntimeRegistry;
  wakeups: Wakeups;
  now: () => number;
  /** Lease length handed out by claims and heartbeats (ms). */
  leaseMs: number;
  /** Aborts when the control plane closes: parked long-polls answer at once. */
  closing: AbortSignal;
  /** The optional request fields it takes (contract.ts OPTIONAL_REQUEST_FIELDS), listed in its status and claim answers. */
  accepts: readonly string[];
  /**
   * Announce the secrets and skills versions on claim answers, and answer a claim at once when
   * they differ from those its runtime last heard, or as soon as either changes while it is
   * parked (issue 15). False plays a control plane without it.
   */
  announceVersions: boolean;
  /** The longest claim waitMs taken (ms); more is refused with 400. Sent as `maxWaitMs` when above BASE_MAX_WAIT_MS. */
  maxWaitMs: number;
};

/** True when an `If-None-Match` header value names `etag` (or is `*`); weak tags compare equal (RFC 9110 13.1.2). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === "*" || tag === etag;
  });
}

/** A 304 (no body) when the client already has `version`, else the checked body with its ETag. */
function versioned(c: Context, version: string, send: (headers: Record<string, string>) => Response): Response {
  const etag = `"${version}"`;
  if (etagMatches(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
  return send({ ETag: etag, "Cache-Control": "no-store" });
}

type Versions = ReturnType<RuntimeRegistry["versions"]>;

/** True when both announced versions are equal. */
const sameVersions = (a: Versions, b: Versions) => a.secretsVersion === b.secretsVersion && a.skillsVersion === b.skillsVersion;

/** `accepts` of an answer; none at all when empty, as a control plane on the first contract answers. */
const listed = (accepts: readonly string[]): { accepts?: string[] } => (accepts.length > 0 ? { accepts: [...accepts] } : {});

/** The `/v1/runtimes/:runtimeId/*` routes, to be mounted at `/v1/runtimes`. */
export function runtimeRoutes(d: RuntimeRoutesDeps): Hono {
  const app = new Hono();
  /** The versions each runtime's latest claim answer announced (in memory: after a restart, the next answer announces them again). */
  const lastAnnounced = new Map<string, Versions>();

  app.post("/:runtimeId/status", async (c) => {
    const body = await parseBody(c, OPERATIONS.reportStatus.request);
    refuseUnaccepted(body, "status.budget", d.accepts);
    refuseUnaccepted(body, "status.openclaw", d.accepts);
    const rt = identify(d.registry, c.req.param("runtimeId"), body);
    const now = d.now();
    d.registry.recordStatus(body, now);
    return sendChecked(c, OPERATIONS.reportStatus.response, { ...rt, receivedAt: iso(now), ...listed(d.accepts) });
  });

  app.post("/:runtimeId/claims", async (c) => {
    const body = await parseBody(c, OPERATIONS.claim.request);
    // As a control plane's strict schema with its own limit would.
    if (body.waitMs > d.maxWaitMs) throw new ControlPlaneError("BAD_REQUEST", `waitMs: too big (this control plane takes at most ${d.maxWaitMs})`);
    const rt = identify(d.registry, c.req.param("runtimeId"), body);
    const signal = AbortSignal.any([c.req.raw.signal, d.closing]);
    const versionsNow = () => d.registry.versions(rt);
    // Against the versions this runtime last heard: a change made between two claims is not missed.
    const before = d.announceVersions ? (lastAnnounced.get(rt.runtimeId) ?? versionsNow()) : undefined;
    const turns = await longPoll({
      attempt: () => d.turns.claim({ ...rt, max: body.max, nowMs: d.now(), leaseMs: d.leaseMs }),
      waitMs: body.waitMs,
      wakeups: d.wakeups,
      key: rt.accountId,
      signal,
      wakeInMs: () => {
        const at = d.turns.nextExpiry(rt.accountId, rt.runtimeId);
        // Capped by the budget: a far expiry (long leases) must not overflow setTimeout.
        return at === null ? undefined : Math.min(Math.max(1, at - d.now()), body.waitMs);
      },
      changed: () => before !== undefined && !sameVersions(before, versionsNow()),
    });
    const announced = d.announceVersions ? versionsNow() : undefined;
    if (announced !== undefined) lastAnnounced.set(rt.runtimeId, announced);
    const maxWait = d.maxWaitMs > BASE_MAX_WAIT_MS ? { maxWaitMs: d.maxWaitMs } : {};
    return sendChecked(c, OPERATIONS.claim.response, { ...rt, turns, ...listed(d.accepts), ...announced, ...maxWait });
  });

  app.post("/:runtimeId/leases/heartbeat", async (c) => {
    const body = await parseBody(c, OPERATIONS.heartbeat.request);
    const rt = identify(d.registry, c.req.param("runtimeId"), body);
    const leases = d.turns.heartbeat(rt.runtimeId, body.leases, d.now(), d.leaseMs);
    return sendChecked(c, OPERATIONS.heartbeat.response, { ...rt, leases });
  });

  app.get("/:runtimeId/secrets", (c) => {
    const rt = identify(d.registry, c.req.param("runtimeId"), undefined);
    const s = d.registry.secrets(rt.runtimeId);
    if (s === undefined) throw new ControlPlaneError("NO_SECRETS", `no secrets are set for runtime ${rt.runtimeId}`);
    return versioned(c, s.version, (h) => sendChecked(c, OPERATIONS.secrets.response, { ...rt, ...s }, 200, h));
  });

  app.get("/:runtimeId/skills", (c) => {
    const rt = identify(d.registry, c.req.param("runtimeId"), undefined);
    const m = d.registry.skills(rt.accountId);
    return versioned(c, m.version, (h) => sendChecked(c, OPERATIONS.skills.response, { ...rt, ...m }, 200, h));
  });

  return app;
}
