/**
 * The HTTP contract between agent-supervisor and the fleet's control plane, version 1.
 *
 * One source of truth: these zod schemas validate every body in both directions (the daemon's
 * client and the reference control plane), and `docs/control-plane-api.schema.json` is generated
 * from them (`z.toJSONSchema`) and snapshot-tested. Shapes are modelled on lease-based worker
 * contracts (claim / heartbeat / complete / fail, as in Buildkite's agent API and job queues
 * such as SQS visibility timeouts): a claimed turn is owned until its lease expires; heartbeats
 * extend it; results are idempotent on the turn id.
 *
 * Conventions: times are RFC 3339 strings in UTC; durations are integer milliseconds (`*Ms`);
 * sizes are bytes. Every response body names `accountId` and `runtimeId`, and the daemon rejects
 * one that names another identity. Requests carry `Authorization: Bearer <service token>`.
 *
 * Strict in what we send, lenient in what we read: request objects are strict (an unknown field is
 * a contract violation, 400 at the control plane); response objects are not, so a newer control
 * plane may add fields. The daemon ignores them and logs their paths at debug level (client.ts,
 * unknown-fields.ts). Missing fields and wrong types in a response stay contract violations.
 */
import { z } from "zod";
import { AUDIT_ACTORS } from "../core/audit.ts";

/** Contract version; the path prefix is `/v1`. */
export const API_VERSION = "v1";

/** Largest response body the daemon reads (bytes); anything larger is rejected unread. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, "must be 1-128 characters of [A-Za-z0-9._:@-]");
const time = z.iso.datetime({ offset: true }).describe("RFC 3339 timestamp");
const identity = { accountId: id.describe("Account that owns the runtime"), runtimeId: id.describe("This runtime (VPS)") };

/** Stable `error.code` values the daemon branches on, with their HTTP status. */
export const ERROR_CODES = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NO_SECRETS: 404,
  LEASE_LOST: 409,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
} as const;

/** A stable error code and a human message. */
export const errorSchema = z.strictObject({
  code: z.string().min(1).max(64).describe("Stable machine-readable code"),
  message: z.string().max(4096).describe("Human-readable explanation"),
});

/** Error response body of any endpoint (4xx/5xx); read leniently (unknown fields ignored). */
export const errorResponseSchema = z.object({ error: z.object(errorSchema.shape) });

// ---------------------------------------------------------------- status report

/** Gateway supervisor states, as in /health. */
export const gatewayStateSchema = z.enum(["stopped", "starting", "ready", "backoff", "stopping", "failed"]);

/**
 * The daily token budget in a status report (only when the runtime has one, TOKEN_BUDGET_DAILY).
 * Tokens counted: input + output + cache write of the turns finished in the current UTC day.
 */
export const tokenBudgetSchema = z.strictObject({
  limit: z.number().int().min(1).describe("Tokens the runtime's turns may use per UTC day"),
  used: z.number().int().min(0).describe("Tokens counted toward today's budget so far"),
  state: z.enum(["ok", "warn", "exceeded"]).describe("ok: below the warning threshold; warn: from it; exceeded: at or above the limit"),
  action: z.enum(["warn", "refuse"]).describe("What the runtime does at the limit: warn only, or refuse new local turns (central turns are the control plane's decision)"),
  resetsAt: time.describe("When `used` starts again from 0 (the next UTC midnight)"),
});

/**
 * The OpenClaw version change in a status report (issue 14): the desired version, the last
 * version whose change failed with its `upgrade failed: ...` reason, the step of a change in
 * progress. The current version is `openclawVersion`.
 */
export const openclawVersionsSchema = z.strictObject({
  desired: z.string().max(64).nullable().describe("Desired OpenClaw version (the control plane's gateway.openclawVersion, else `openclaw upgrade V` on the host); null when none"),
  lastFailed: z
    .strictObject({ version: z.string().max(64), reason: z.string().max(4096).describe("`upgrade failed: <reason>`, with the gateway's own last lines") })
    .nullable()
    .describe("The version whose last change failed and was rolled back (not retried until the desired version changes); null when none"),
  step: z.enum(["install", "drain", "stop", "snapshot", "switch", "gate", "rollback"]).nullable().describe("The step of a change in progress; null when none runs"),
});

/** `POST /v1/runtimes/{runtimeId}/status`: sent on an interval and on every state change. */
export const statusReportSchema = z.strictObject({
  ...identity,
  daemonVersion: z.string().min(1).max(64),
  openclawVersion: z.string().max(64).nullable(),
  gatewayState: gatewayStateSchema,
  status: z.enum(["online", "degraded", "offline"]).describe("online: serving; degraded: serving with a problem or recovering; offline: not serving"),
  reason: z.string().max(1024).nullable().describe("Why the status is not online (null when online)"),
  host: z.strictObject({
    cpuLoadPercent: z.number().min(0).describe("Current CPU load over all cores, percent"),
    memTotalBytes: z.number().int().min(0),
    memAvailableBytes: z.number().int().min(0),
    diskTotalBytes: z.number().int().min(0).describe("Filesystem of the data directory"),
    diskFreeBytes: z.number().int().min(0),
  }),
  queue: z.strictObject({
    accepted: z.number().int().min(0),
    delivering: z.number().int().min(0),
    outbox: z.number().int().min(0).describe("Results not yet acknowledged by the control plane"),
  }),
  budget: tokenBudgetSchema.optional().describe("The daily token budget; absent when the runtime has none"),
  openclaw: openclawVersionsSchema.optional().describe("OpenClaw version changes (issue 14); absent from older daemons"),
  sentAt: time,
});

/**
 * Optional request fields added to contract 1 after its first version. A control plane lists the
 * ones it takes in `accepts` of its status and claim answers; the daemon sends none it has not
 * seen listed there, so a control plane on the first version (whose strict request schemas answer
 * 400 to an unknown field) keeps working with a newer daemon (docs/control-plane-api.md, Compatibility).
 */
export const OPTIONAL_REQUEST_FIELDS = ["complete.usage", "fail.usage", "status.budget", "status.openclaw"] as const;

/** `accepts` of an answer: names from {@link OPTIONAL_REQUEST_FIELDS}, unknown names ignored. */
const accepts = z
  .array(z.string().max(64))
  .max(64)
  .optional()
  .describe("Optional request fields this control plane takes (complete.usage, fail.usage, status.budget, status.openclaw); absent: none of them");

/** Response to a status report. */
export const statusAckSchema = z.object({ ...identity, receivedAt: time, accepts });

// ---------------------------------------------------------------- claims and leases

/**
 * Optional beside every `leaseExpiresAt` of an answer: the lease time left when the control plane
 * sent the answer (ms). The daemon times a lease on its monotonic clock from when the answer
 * arrives, so its host clock does not matter; without this field it uses `leaseExpiresAt` minus
 * the answer's HTTP `Date` header (see docs/control-plane-api.md, Leases).
 */
const leaseTtl = z.number().int().min(0).optional().describe("Lease time left when this answer was sent (ms); leaseExpiresAt minus the control plane's own now");

/**
 * Longest claim `waitMs` every control plane takes (ms): contract 1's first limit. A longer one is
 * sent only to a control plane whose claim answers say it takes it ({@link claimResponseSchema}
 * `maxWaitMs`); a control plane on the first contract answers 400 to more.
 */
export const BASE_MAX_WAIT_MS = 60_000;

/**
 * Longest claim `waitMs` of the contract at all (ms): 4 minutes. Node's fetch (undici) gives up
 * waiting for response headers after 300 s (`headersTimeout`), and the client waits `waitMs` plus
 * a 10 s margin; cloud NAT gateways drop idle TCP flows after 350 s (AWS) or more.
 */
export const MAX_WAIT_MS = 240_000;

/** `POST /v1/runtimes/{runtimeId}/claims` request. */
export const claimRequestSchema = z.strictObject({
  ...identity,
  max: z.number().int().min(1).max(100).describe("Most turns to hand out"),
  waitMs: z
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_MS)
    .describe("Long-poll budget: the server may hold the request this long for work. At most 60000 unless the control plane's claim answers name a larger maxWaitMs"),
});

/** One claimed turn, owned by this runtime until `leaseExpiresAt` unless heartbeats extend it. */
export const claimedTurnSchema = z.object({
  turnId: id.describe("Idempotency key of the turn, unique in the fleet"),
  conversationId: id.describe("One gateway session per conversation"),
  sessionKey: z.string().min(1).max(256).optional().describe("Explicit gateway session key (default agent:main:<conversationId>)"),
  agentId: id.optional().describe("Gateway agent id (default main); ignored when sessionKey is set"),
  message: z.string().min(1).max(1024 * 1024).describe("At most 1 Mi characters, so a claim answer fits MAX_RESPONSE_BYTES"),
  leaseId: id.describe("Proof of ownership, sent back with heartbeats and results"),
  leaseExpiresAt: time,
  leaseTtlMs: leaseTtl,
  attempt: z.number().int().min(1).describe("1 for the first claim of this turn, more after lease expiries"),
});

/**
 * Claim response (also the body of 200 when there is no work: `turns: []`). The optional
 * `secretsVersion`, `skillsVersion` and `maxWaitMs` were added for issue 15 (a fleet that idles
 * cheaply): with the versions the daemon fetches secrets or skills only when they changed, instead
 * of polling them; a control plane that sends them also answers a parked claim at once (with the
 * turns it has, maybe none) when either changes.
 */
export const claimResponseSchema = z.object({
  ...identity,
  turns: z.array(claimedTurnSchema).max(100),
  accepts,
  secretsVersion: z
    .string()
    .min(1)
    .max(128)
    .nullable()
    .optional()
    .describe("The runtime's current secrets version (as GET /secrets would give it; null: none set). Absent: the control plane does not announce it, the daemon polls"),
  skillsVersion: z.string().min(1).max(128).optional().describe("The account's current skills manifest version (as GET /skills would give it). Absent: the control plane does not announce it"),
  maxWaitMs: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("The longest claim waitMs this control plane takes (ms; the daemon uses at most 240000). Absent: 60000"),
});

/** `POST /v1/runtimes/{runtimeId}/leases/heartbeat` request. */
export const heartbeatRequestSchema = z.strictObject({
  ...identity,
  leases: z.array(z.strictObject({ turnId: id, leaseId: id })).max(1000),
});

/** Heartbeat response: each lease extended, or lost (expired, reassigned or cancelled). */
export const heartbeatResponseSchema = z.object({
  ...identity,
  leases: z.array(
    z.discriminatedUnion("status", [
      z.object({ turnId: id, leaseId: id, status: z.literal("extended"), leaseExpiresAt: time, leaseTtlMs: leaseTtl }),
      z.object({ turnId: id, leaseId: id, status: z.literal("lost"), reason: z.string().max(1024) }),
    ]),
  ),
});

// ---------------------------------------------------------------- results

const tokens = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Token usage of a turn, as the gateway reported it: the model that answered (after a failover,
 * the fallback) and its tokens, summed over the turn's model calls.
 */
export const turnUsageSchema = z.strictObject({
  provider: z.string().max(256).nullable().describe("Provider that answered (e.g. moonshot, openai, compat); null when the gateway did not say"),
  model: z.string().max(256).nullable().describe("Model that answered; null when the gateway did not say"),
  input: tokens.describe("Prompt tokens not served from the provider's cache"),
  output: tokens.describe("Completion tokens"),
  cacheRead: tokens.describe("Prompt tokens served from the provider's cache"),
  cacheWrite: tokens.describe("Prompt tokens written to the provider's cache"),
});

/** `POST /v1/turns/{turnId}/complete` request. Idempotent on the turn id. */
export const completeRequestSchema = z.strictObject({
  ...identity,
  leaseId: id,
  reply: z.string().max(16 * 1024 * 1024),
  attempts: z.number().int().min(1).describe("Gateway deliveries this runtime made"),
  finishedAt: time,
  usage: turnUsageSchema.optional().describe("Tokens the turn used; absent when the gateway did not report them"),
});

/** `POST /v1/turns/{turnId}/fail` request. Idempotent on the turn id. */
export const failRequestSchema = z.strictObject({
  ...identity,
  leaseId: id,
  error: errorSchema,
  attempts: z.number().int().min(0),
  finishedAt: time,
  usage: turnUsageSchema.optional().describe("Tokens the failed turn used before it failed; absent when the gateway did not report them"),
});

/**
 * Result acknowledgement. `duplicate` is true when the control plane already had this result
 * (a retried report); both count as acknowledged.
 */
export const resultAckSchema = z.object({ ...identity, turnId: id, duplicate: z.boolean() });

// ---------------------------------------------------------------- secrets and skills

/**
 * `GET /v1/runtimes/{runtimeId}/secrets` (with `If-None-Match`; 304 when unchanged): provider
 * keys, model selection and gateway settings. `version` also travels as the ETag.
 */
export const secretsSchema = z.object({
  ...identity,
  version: z.string().min(1).max(128),
  providers: z.object({
    moonshot: z.object({ apiKey: z.string().min(1).max(4096), baseUrl: z.url().optional(), model: z.string().min(1).max(128).optional() }).optional(),
    openai: z.object({ apiKey: z.string().min(1).max(4096), model: z.string().min(1).max(128).optional() }).optional(),
    compat: z
      .object({ baseUrl: z.url(), apiKey: z.string().max(4096).optional(), model: z.string().min(1).max(128), contextTokens: z.number().int().min(1).optional() })
      .optional(),
  }),
  gateway: z
    .object({
      openclawVersion: z
        .string()
        .regex(/^\d{4}\.\d{1,2}\.\d{1,3}(-[0-9A-Za-z.-]+)?$/, "must look like 2026.9.6")
        .optional()
        .describe("Desired OpenClaw version: the daemon installs it beside the current one and switches behind a health gate, rolling back on failure (absent: keep the current version)"),
    })
    .optional()
    .describe("Gateway settings of the runtime (optional; added for issue 14)"),
});

/** One file of a skill bundle; `sha256` is the lowercase hex digest of the UTF-8 `content`. */
export const skillFileSchema = z.object({
  path: z
    .string()
    .min(1)
    .max(512)
    .refine((p) => !p.startsWith("/") && !p.split("/").some((seg) => seg === ".." || seg === "." || seg === ""), "must be a relative path without '.', '..' or empty segments")
    .describe("Relative path in the skill directory: no leading '/', no '.', '..' or empty segments"),
  content: z.string().max(4 * 1024 * 1024),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"),
});

/** `GET /v1/runtimes/{runtimeId}/skills`: the approved skill bundles (each a directory). */
export const skillsManifestSchema = z.object({
  ...identity,
  version: z.string().min(1).max(128),
  skills: z
    .array(
      z.object({
        name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "must be a directory name of [a-z0-9._-], at most 64 characters"),
        files: z.array(skillFileSchema).min(1).max(1000),
      }),
    )
    .max(200),
});

// ---------------------------------------------------------------- audit trail

/** Most audit events in one batch. */
export const AUDIT_BATCH_MAX = 100;

/**
 * One entry of the runtime's audit trail: an action the daemon took on the host. `id` is the
 * idempotency key (a batch sent again holds the same ids; the control plane keeps one copy each).
 */
export const auditEventSchema = z.strictObject({
  id: z.uuid().describe("Idempotency key of the entry (a UUID): the control plane keeps one copy per id"),
  seq: z.number().int().min(1).describe("Order of the entry on this runtime (increasing; gaps where retention deleted entries)"),
  at: time.describe("When the action was taken"),
  actor: z.enum(AUDIT_ACTORS).describe("daemon: its own decision; operator: a CLI command run by hand; control-plane: caused by the control plane's answer"),
  action: z
    .string()
    .max(64)
    .regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/, "must be dotted lowercase words, e.g. gateway.restart")
    .describe("What was done: gateway.start, gateway.stop, gateway.restart, gateway.hold, config.rewrite, secrets.apply, secrets.refuse, skills.apply, skills.refuse, session.repair, decay.run, doctor.run, openclaw.install, openclaw.switch, audit.dropped, audit.overflow (more may be added)"),
  cause: z.string().max(1024).describe("Why, in short text"),
  detail: z.record(z.string(), z.unknown()).describe("What changed: versions, changed key names (never values), counts, exit codes"),
});

/** `POST /v1/runtimes/{runtimeId}/audit-events` request: a batch of the oldest entries not yet acknowledged. */
export const auditBatchSchema = z.strictObject({ ...identity, events: z.array(auditEventSchema).min(1).max(AUDIT_BATCH_MAX) });

/**
 * Audit batch acknowledgement: the ids of the batch the control plane now holds (stored now or
 * before). The daemon marks those shipped and sends the others again later. An older control
 * plane without this operation answers 404; the daemon then tries again only after a long pause.
 */
export const auditAckSchema = z.object({ ...identity, held: z.array(z.string().max(128)).max(1000) });

export type StatusReport = z.infer<typeof statusReportSchema>;
export type TokenBudgetReport = z.infer<typeof tokenBudgetSchema>;
export type TurnUsageReport = z.infer<typeof turnUsageSchema>;
export type ClaimRequest = z.infer<typeof claimRequestSchema>;
export type ClaimedTurn = z.infer<typeof claimedTurnSchema>;
export type ClaimResponse = z.infer<typeof claimResponseSchema>;
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;
export type CompleteRequest = z.infer<typeof completeRequestSchema>;
export type FailRequest = z.infer<typeof failRequestSchema>;
export type ResultAck = z.infer<typeof resultAckSchema>;
export type Secrets = z.infer<typeof secretsSchema>;
export type SkillsManifest = z.infer<typeof skillsManifestSchema>;
export type AuditEvent = z.infer<typeof auditEventSchema>;

/** Every operation: method, path template, request and response schema. Drives docs and tests. */
export const OPERATIONS = {
  reportStatus: { method: "POST", path: "/v1/runtimes/{runtimeId}/status", request: statusReportSchema, response: statusAckSchema },
  claim: { method: "POST", path: "/v1/runtimes/{runtimeId}/claims", request: claimRequestSchema, response: claimResponseSchema },
  heartbeat: { method: "POST", path: "/v1/runtimes/{runtimeId}/leases/heartbeat", request: heartbeatRequestSchema, response: heartbeatResponseSchema },
  complete: { method: "POST", path: "/v1/turns/{turnId}/complete", request: completeRequestSchema, response: resultAckSchema },
  fail: { method: "POST", path: "/v1/turns/{turnId}/fail", request: failRequestSchema, response: resultAckSchema },
  secrets: { method: "GET", path: "/v1/runtimes/{runtimeId}/secrets", request: null, response: secretsSchema },
  skills: { method: "GET", path: "/v1/runtimes/{runtimeId}/skills", request: null, response: skillsManifestSchema },
  shipAuditEvents: { method: "POST", path: "/v1/runtimes/{runtimeId}/audit-events", request: auditBatchSchema, response: auditAckSchema },
} as const;
