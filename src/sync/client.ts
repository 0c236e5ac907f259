/**
 * HTTP client of the control-plane contract (src/sync/contract.ts, OPERATIONS).
 *
 * Every call: `Authorization: Bearer <token>`, a timeout (claims: their long-poll budget plus a
 * margin), the response body read as a stream and abandoned past `maxResponseBytes`, JSON parsed
 * and validated against the operation's response schema, and the identity in the body checked
 * against ours. Failures are {@link ControlPlaneError}s with stable codes (see errors.ts); their
 * messages never contain a body, the token or URL credentials.
 */
import type { z } from "zod";
import { isLoopbackUrl } from "../config/schema.ts";
import { ConfigError } from "../core/errors.ts";
import {
  BASE_MAX_WAIT_MS,
  MAX_RESPONSE_BYTES,
  MAX_WAIT_MS,
  OPERATIONS,
  errorResponseSchema,
  type AuditEvent,
  type ClaimResponse,
  type CompleteRequest,
  type FailRequest,
  type HeartbeatResponse,
  type ResultAck,
  type Secrets,
  type SkillsManifest,
  type StatusReport,
} from "./contract.ts";
import { ControlPlaneError, parseRetryAfter, redactUrl } from "./errors.ts";
import { leaseTtl, parseHttpDate } from "./lease-clock.ts";
import { describeIssues, networkReason, NOT_JSON, readBounded, tryJson } from "./client_body.ts";
import { unknownFields } from "./unknown-fields.ts";

/** Added to a claim's `waitMs` for its request timeout (ms): the server answers at the end of the budget. */
export const CLAIM_TIMEOUT_MARGIN_MS = 10_000;
/** Default timeout of a non-claim request (ms), body included. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Error bodies larger than this (bytes) are not read for their code. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Options of {@link createControlPlaneClient}. */
export type ControlPlaneClientOptions = {
  /** CONTROL_PLANE_URL: https, or http only to loopback; no credentials in it. The API lives under `<baseUrl>/v1`. */
  baseUrl: string;
  /** Service token, sent as `Authorization: Bearer`. */
  token: string;
  runtimeId: string;
  accountId: string;
  /** The fetch to use (globalThis.fetch in production). */
  fetch: typeof globalThis.fetch;
  /** Timeout of every request except claims, body included (ms). Default {@link DEFAULT_REQUEST_TIMEOUT_MS}. */
  requestTimeoutMs?: number;
  /** Largest response body read (bytes). Default {@link MAX_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
  /** Epoch ms, to read an HTTP-date Retry-After. Default Date.now. */
  now?: () => number;
  /** User-Agent header, e.g. `agent-supervisor/0.1.0`. */
  userAgent?: string;
  /** Where fields of a response that the contract does not know are logged (debug level, paths only). Default: nowhere. */
  log?: { debug(obj: object, msg: string): void };
};

/** Per-call options. */
export type CallOptions = {
  /** Aborts the request (ERR_CP_ABORTED), e.g. on shutdown. */
  signal?: AbortSignal;
  /** Overrides the request timeout (ms). */
  timeoutMs?: number;
};

type Identity = "accountId" | "runtimeId";
/** A status report as the caller builds it; the client adds the identity. */
export type StatusInput = Omit<StatusReport, Identity>;
/** Body of a complete call without the identity. */
export type CompleteInput = Omit<CompleteRequest, Identity>;
/** Body of a fail call without the identity. */
export type FailInput = Omit<FailRequest, Identity>;
/** A lease held by this runtime. */
export type LeaseRef = { turnId: string; leaseId: string };

/** Outcome of {@link ControlPlaneClient.getSecrets}. */
export type SecretsResult =
  | { kind: "unchanged" }
  | { kind: "changed"; secrets: Secrets; etag: string }
  /** 404 NO_SECRETS: the account has none configured. */
  | { kind: "none" };

/**
 * The configuration versions a claim answer announced (issue 15): `secretsVersion` (null: the
 * runtime has no secrets) and `skillsVersion`, each absent when the control plane did not send it
 * (a control plane that does not announce them: the daemon keeps polling).
 */
export type AnnouncedVersions = { secretsVersion?: string | null; skillsVersion?: string };

/** Outcome of {@link ControlPlaneClient.reportStatus}. */
export type StatusAck = {
  /** The ack's `receivedAt` (RFC 3339). */
  receivedAt: string;
  /**
   * True when this report left out an optional field (contract.ts OPTIONAL_REQUEST_FIELDS) that
   * the ack now says the control plane takes: the same report sent again would carry more. A
   * status sent only on change needs this once, after the first report (issue 15).
   */
  resend?: boolean;
};

/** Outcome of {@link ControlPlaneClient.claim}. */
export type ClaimAnswer = {
  /** The claimed turns (maybe none), each with `leaseTtlMs` set. */
  turns: ClaimResponse["turns"];
  /** What the answer announced; `{}` when nothing. */
  announced: AnnouncedVersions;
  /** The long-poll budget actually sent (ms): the asked one capped by what the control plane takes. */
  waitMs: number;
};

/** The control-plane API. Every method rejects only with {@link ControlPlaneError}. */
export type ControlPlaneClient = {
  /** POST /v1/runtimes/{runtimeId}/status. @returns the ack's `receivedAt` (RFC 3339) */
  reportStatus(report: StatusInput, opts?: CallOptions): Promise<StatusAck>;
  /**
   * POST /v1/runtimes/{runtimeId}/claims, long-polling up to `waitMs` (ms), capped by the longest
   * wait the control plane takes: the `maxWaitMs` of its latest claim answer, else
   * BASE_MAX_WAIT_MS (60000), and never more than MAX_WAIT_MS (240000).
   * @returns the claimed turns (maybe none), each with `leaseTtlMs` set (filled in from the Date
   *   header when the control plane left it out), and the versions the answer announced
   */
  claim(req: { max: number; waitMs: number }, opts?: CallOptions): Promise<ClaimAnswer>;
  /** POST /v1/runtimes/{runtimeId}/leases/heartbeat. @returns each lease's fate; extended ones with `leaseTtlMs` set, as for claims */
  heartbeat(leases: readonly LeaseRef[], opts?: CallOptions): Promise<HeartbeatResponse["leases"]>;
  /** POST /v1/turns/{turnId}/complete. @throws ControlPlaneError ERR_CP_LEASE_LOST (409 LEASE_LOST) */
  complete(turnId: string, body: CompleteInput, opts?: CallOptions): Promise<ResultAck>;
  /** POST /v1/turns/{turnId}/fail. @throws ControlPlaneError ERR_CP_LEASE_LOST (409 LEASE_LOST) */
  fail(turnId: string, body: FailInput, opts?: CallOptions): Promise<ResultAck>;
  /** GET /v1/runtimes/{runtimeId}/secrets with If-None-Match `etag` (304 → unchanged, 404 NO_SECRETS → none). */
  getSecrets(etag?: string, opts?: CallOptions): Promise<SecretsResult>;
  /** GET /v1/runtimes/{runtimeId}/skills. */
  getSkills(opts?: CallOptions): Promise<SkillsManifest>;
  /** POST /v1/runtimes/{runtimeId}/audit-events (at most AUDIT_BATCH_MAX). @returns the ids the control plane holds */
  shipAuditEvents(events: readonly AuditEvent[], opts?: CallOptions): Promise<string[]>;
};

type OpName = keyof typeof OPERATIONS;

/**
 * Create the client. Nothing is sent until a method is called.
 * @throws ConfigError if `baseUrl` is not a URL, is plain http to a non-loopback host, or holds credentials
 */
export function createControlPlaneClient(o: ControlPlaneClientOptions): ControlPlaneClient {
  const base = checkBaseUrl(o.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, "");
  const limit = o.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const now = o.now ?? Date.now;
  const requestTimeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const identity = { accountId: o.accountId, runtimeId: o.runtimeId };

  /** Never let the token reach a message, whatever a server echoes. */
  const scrub = (s: string) => (o.token === "" ? s : s.split(o.token).join("[redacted]"));

  type Sent = { res: Response; what: string; ac: AbortController };

  async function send(op: OpName, path: string, body: unknown, opts: CallOptions, headers: Record<string, string>, run: (s: Sent) => Promise<unknown>) {
    const spec = OPERATIONS[op];
    const what = `${spec.method} ${basePath}${path}`;
    if (spec.request !== null) {
      const parsed = spec.request.safeParse(body);
      if (!parsed.success) {
        throw new ControlPlaneError("ERR_CP_INVALID_REQUEST", `request ${what} does not match the contract: ${describeIssues(parsed.error.issues)}`);
      }
    }
    const ac = new AbortController();
    let timedOut = false;
    const timeoutMs = opts.timeoutMs ?? requestTimeoutMs;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    const onAbort = () => ac.abort();
    if (opts.signal?.aborted) ac.abort();
    else opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const res = await o.fetch(new URL(basePath + path, base), {
        method: spec.method,
        headers: {
          authorization: `Bearer ${o.token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(o.userAgent === undefined ? {} : { "user-agent": o.userAgent }),
          ...headers,
        },
        body: body === undefined ? null : JSON.stringify(body),
        // A redirect could carry the bearer token elsewhere; the control plane has no reason to send one.
        redirect: "error",
        signal: ac.signal,
      });
      return await run({ res, what, ac });
    } catch (err) {
      if (err instanceof ControlPlaneError) throw err;
      if (opts.signal?.aborted) throw new ControlPlaneError("ERR_CP_ABORTED", `${what} aborted`);
      if (timedOut) throw new ControlPlaneError("ERR_CP_TIMEOUT", `${what} got no complete answer within ${timeoutMs} ms`);
      throw new ControlPlaneError("ERR_CP_NETWORK", scrub(`${what} failed: ${networkReason(err)}`), { cause: err });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Turn a non-2xx answer into its typed error (reads a small error body for its code). */
  async function httpError(s: Sent): Promise<ControlPlaneError> {
    const { res, what, ac } = s;
    let serverCode: string | undefined;
    let serverMessage = "";
    const raw = await readBounded(res, Math.min(limit, MAX_ERROR_BODY_BYTES), ac).catch(() => undefined);
    if (raw !== undefined && raw !== "too-large") {
      const parsed = errorResponseSchema.safeParse(tryJson(raw));
      if (parsed.success) {
        serverCode = parsed.data.error.code;
        serverMessage = parsed.data.error.message.slice(0, 200);
      }
    }
    const status = res.status;
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), now()) ?? undefined;
    const tail = scrub(`${serverCode === undefined ? "" : ` ${serverCode}`}${serverMessage === "" ? "" : `: ${serverMessage}`}`);
    const details = { status, retryAfterMs, serverCode };
    if (status === 401 || status === 403) return new ControlPlaneError("ERR_CP_AUTH", `${what} was refused with ${status}${tail}: check CONTROL_PLANE_TOKEN`, details);
    if (status === 429 || status === 503) {
      const after = retryAfterMs === undefined ? "" : ` (retry after ${retryAfterMs} ms)`;
      return new ControlPlaneError("ERR_CP_RETRY", `${what} answered ${status}${tail}${after}`, details);
    }
    if (status === 409 && serverCode === "LEASE_LOST") return new ControlPlaneError("ERR_CP_LEASE_LOST", `${what}: lease lost${tail}`, details);
    // Only the contract's own verdict is final; a bare 404 is a proxy or load balancer talking (classify: retry).
    if (status === 404 && serverCode === "NOT_FOUND") return new ControlPlaneError("ERR_CP_NOT_FOUND", `${what} answered 404${tail}`, details);
    if (status === 404 && serverCode === undefined) return new ControlPlaneError("ERR_CP_HTTP", `${what} answered 404 without a contract error body (a proxy?)`, details);
    return new ControlPlaneError("ERR_CP_HTTP", `${what} answered ${status}${tail}`, details);
  }

  /** A lease with `leaseTtlMs` filled in when the control plane left it out (lease-clock.ts, {@link leaseTtl}). */
  function withTtl<L extends { leaseExpiresAt: string; leaseTtlMs?: number | undefined }>(lease: L, s: Sent): L {
    if (lease.leaseTtlMs !== undefined) return lease;
    const { ttlMs, source } = leaseTtl(lease, parseHttpDate(s.res.headers.get("date")), now());
    if (source === "host-clock") o.log?.debug({ operation: s.what }, "answer has neither leaseTtlMs nor a Date header; lease timed against the host clock");
    return { ...lease, leaseTtlMs: ttlMs };
  }

  /** Read, parse, validate and identity-check a 2xx body. */
  async function accept<S extends z.ZodType>(s: Sent, schema: S, name: string): Promise<z.infer<S>> {
    const { res, what, ac } = s;
    if (res.status < 200 || res.status > 299) throw await httpError(s);
    const raw = await readBounded(res, limit, ac);
    if (raw === "too-large") throw new ControlPlaneError("ERR_CP_CONTRACT", `response to ${what} exceeds ${limit} bytes; not read`, { status: res.status });
    const json = tryJson(raw);
    if (json === NOT_JSON) throw new ControlPlaneError("ERR_CP_CONTRACT", `response to ${what} is not valid UTF-8 JSON`, { status: res.status });
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ControlPlaneError("ERR_CP_CONTRACT", `response to ${what} does not match the ${name} contract: ${describeIssues(parsed.error.issues)}`, { status: res.status });
    }
    const unknown = o.log === undefined ? [] : unknownFields(json, parsed.data);
    // A newer control plane may add fields; they are ignored, named (never their values) for whoever debugs it.
    if (unknown.length > 0) o.log?.debug({ operation: what, unknownFields: unknown }, `response to ${what} has fields the ${name} contract does not know; ignored`);
    const data = parsed.data as { accountId?: unknown; runtimeId?: unknown };
    for (const key of ["accountId", "runtimeId"] as const) {
      if (data[key] !== identity[key]) {
        throw new ControlPlaneError("ERR_CP_CONTRACT", `response to ${what} names another account or runtime (${key} differs from ours); refused`, { status: res.status });
      }
    }
    return parsed.data;
  }

  /**
   * The optional request fields (contract.ts OPTIONAL_REQUEST_FIELDS) the control plane's latest
   * status or claim answer listed in `accepts`. Until one arrives, and after an answer without it
   * (a control plane on the first contract, or rolled back to it), none is sent.
   */
  let accepted: ReadonlySet<string> = new Set();
  const heard = (list: readonly string[] | undefined) => {
    accepted = new Set(list ?? []);
  };
  /** The longest claim wait (ms) the latest claim answer allowed; the first contract's until one says more. */
  let maxWaitMs = BASE_MAX_WAIT_MS;
  /** `body` without the field `name` names (`status.budget`: `budget`) unless the control plane takes it (strict in what we send). */
  const only = <T extends object>(body: T, name: string): T => {
    const field = name.slice(name.indexOf(".") + 1);
    if (accepted.has(name) || !(field in body)) return body;
    const { [field]: _dropped, ...rest } = body as Record<string, unknown>;
    return rest as T;
  };

  const rt = `/v1/runtimes/${encodeURIComponent(o.runtimeId)}`;
  const turnPath = (turnId: string, verb: string) => `/v1/turns/${encodeURIComponent(turnId)}/${verb}`;

  return {
    async reportStatus(report, opts = {}) {
      const body = only(only(report, "status.budget"), "status.openclaw");
      const ack = (await send("reportStatus", `${rt}/status`, { ...identity, ...body }, opts, {}, (s) =>
        accept(s, OPERATIONS.reportStatus.response, "status ack"),
      )) as { receivedAt: string; accepts?: string[] };
      heard(ack.accepts);
      const resend = (["budget", "openclaw"] as const).some((f) => f in report && !(f in body) && accepted.has(`status.${f}`));
      return { receivedAt: ack.receivedAt, resend };
    },
    async claim(req, opts = {}) {
      // Strict in what we send: a longer wait only to a control plane that said it takes it.
      const waitMs = Math.min(req.waitMs, maxWaitMs);
      const timeoutMs = opts.timeoutMs ?? waitMs + CLAIM_TIMEOUT_MARGIN_MS;
      const r = (await send("claim", `${rt}/claims`, { ...identity, max: req.max, waitMs }, { ...opts, timeoutMs }, {}, (s) =>
        accept(s, OPERATIONS.claim.response, "claim response").then((r) => ({ ...r, turns: r.turns.map((t) => withTtl(t, s)) })),
      )) as ClaimResponse;
      heard(r.accepts);
      maxWaitMs = Math.min(MAX_WAIT_MS, r.maxWaitMs ?? BASE_MAX_WAIT_MS);
      const announced: AnnouncedVersions = {
        ...(r.secretsVersion === undefined ? {} : { secretsVersion: r.secretsVersion }),
        ...(r.skillsVersion === undefined ? {} : { skillsVersion: r.skillsVersion }),
      };
      return { turns: r.turns, announced, waitMs };
    },
    async heartbeat(leases, opts = {}) {
      const body = { ...identity, leases: leases.map((l) => ({ turnId: l.turnId, leaseId: l.leaseId })) };
      const r = (await send("heartbeat", `${rt}/leases/heartbeat`, body, opts, {}, (s) =>
        accept(s, OPERATIONS.heartbeat.response, "heartbeat response").then((r) => ({ ...r, leases: r.leases.map((l) => (l.status === "extended" ? withTtl(l, s) : l)) })),
      )) as HeartbeatResponse;
      return r.leases;
    },
    complete: (turnId, body, opts = {}) => result("complete", turnId, body, opts),
    fail: (turnId, body, opts = {}) => result("fail", turnId, body, opts),
    async getSecrets(etag, opts = {}) {
      const headers: Record<string, string> = etag === undefined ? {} : { "if-none-match": etag };
      return (await send("secrets", `${rt}/secrets`, undefined, opts, headers, async (s): Promise<SecretsResult> => {
        if (s.res.status === 304) {
          await s.res.body?.cancel().catch(() => {});
          return { kind: "unchanged" };
        }
        if (s.res.status === 404) {
          const err = await httpError(s);
          if (err.serverCode === "NO_SECRETS") return { kind: "none" };
          throw err;
        }
        const secrets = await accept(s, OPERATIONS.secrets.response, "secrets");
        return { kind: "changed", secrets, etag: s.res.headers.get("etag") ?? `"${secrets.version}"` };
      })) as SecretsResult;
    },
    async getSkills(opts = {}) {
      return (await send("skills", `${rt}/skills`, undefined, opts, {}, (s) => accept(s, OPERATIONS.skills.response, "skills manifest"))) as SkillsManifest;
    },
    async shipAuditEvents(events, opts = {}) {
      const ack = await send("shipAuditEvents", `${rt}/audit-events`, { ...identity, events }, opts, {}, (s) => accept(s, OPERATIONS.shipAuditEvents.response, "audit ack"));
      return (ack as { held: string[] }).held;
    },
  };

  async function result(op: "complete" | "fail", turnId: string, body: CompleteInput | FailInput, opts: CallOptions): Promise<ResultAck> {
    const ack = (await send(op, turnPath(turnId, op), { ...identity, ...only(body, `${op}.usage`) }, opts, {}, (s) =>
      accept(s, OPERATIONS[op].response, "result ack"),
    )) as ResultAck;
    if (ack.turnId !== turnId) {
      throw new ControlPlaneError("ERR_CP_CONTRACT", `response to POST ${basePath}${turnPath(turnId, op)} acknowledges another turn; refused`);
    }
    return ack;
  }
}

function checkBaseUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError("CONTROL_PLANE_URL is not a valid URL");
  }
  if (u.username !== "" || u.password !== "") {
    throw new ConfigError(`CONTROL_PLANE_URL ${redactUrl(u)} must not contain credentials (the token goes in CONTROL_PLANE_TOKEN)`);
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackUrl(raw))) {
    throw new ConfigError(`CONTROL_PLANE_URL ${redactUrl(u)} must use https (plain http is allowed only to loopback)`);
  }
  if (u.search !== "" || u.hash !== "") throw new ConfigError(`CONTROL_PLANE_URL ${redactUrl(u)} must not have a query or fragment`);
  return u;
}
