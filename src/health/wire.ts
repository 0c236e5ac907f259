/**
 * Wire shapes of the local API, as zod schemas (the one source of truth; types are `z.infer`).
 * The server validates request bodies with them; the CLI client validates responses with them.
 */
import { z } from "zod";
import { isProbeConversation, PROBE_CONVERSATION_ID } from "../gateway/session-key.ts";

/** Characters allowed in a conversation id: it becomes part of a gateway session key. */
export const CONVERSATION_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Body of `POST /v1/turns`. Unknown keys are rejected, so a misspelt `idempotencyKey` is not silently ignored. */
export const submitTurnBodySchema = z.strictObject({
  conversationId: z
    .string()
    .regex(CONVERSATION_ID_PATTERN, "must match [A-Za-z0-9._:@-]{1,128}")
    .refine((c) => !isProbeConversation(c), `is reserved for the daemon's probe turn (${PROBE_CONVERSATION_ID})`)
    .describe("Conversation the turn belongs to; turns of one conversation run one at a time, oldest first"),
  message: z.string().min(1, "must not be empty").describe("The user message (at most maxMessageBytes UTF-8 bytes)"),
  idempotencyKey: z
    .string()
    .min(1, "must not be empty")
    .max(256, "must be at most 256 characters")
    .optional()
    .describe("Client key: a repeat with the same key returns the first turn's id (HTTP 200 instead of 202)"),
});
/** Body of `POST /v1/turns`. */
export type SubmitTurnBody = z.infer<typeof submitTurnBodySchema>;

/** Response of `POST /v1/turns`: 202 when created, 200 when an earlier turn had the same idempotencyKey. */
export const submitTurnResponseSchema = z.object({ turnId: z.string().min(1) });

/** Response of `GET /v1/turns/:id`; mirrors `TurnView` in ports.ts. Times are ISO 8601. */
export const turnViewSchema = z.object({
  turnId: z.string(),
  conversationId: z.string(),
  state: z.enum(["accepted", "delivering", "done", "failed"]),
  reply: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  attempts: z.number().int(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  usage: z
    .object({
      provider: z.string().nullable(),
      model: z.string().nullable(),
      input: z.number().int(),
      output: z.number().int(),
      cacheRead: z.number().int(),
      cacheWrite: z.number().int(),
    })
    .optional()
    .describe("Tokens the turn used and the provider/model that answered; absent while unknown"),
});

/** Every error response: `{error:{code,message}}`; `code` is stable (e.g. ERR_QUEUE_FULL), `message` is for humans. */
export const errorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
/** Error response body. */
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Response of `GET /readyz` (200 when ready, 503 otherwise). */
export const readyzSchema = z.object({ ready: z.boolean(), reason: z.string().nullable() });
/** Response of `GET /readyz`. */
export type Readyz = z.infer<typeof readyzSchema>;

/** Response of `GET /livez` (200 when the loop ticked within the bound, 503 otherwise). */
export const livezSchema = z.object({ alive: z.boolean(), loopTickAgeMs: z.number() });

/** Health status values of draft-inadarei-api-health-check section 3.1. */
export const healthStatusSchema = z.enum(["pass", "warn", "fail"]);
/** `pass`, `warn` or `fail`. */
export type HealthStatus = z.infer<typeof healthStatusSchema>;

/**
 * One entry of a `checks` array (draft-inadarei-api-health-check section 4). Extra keys
 * (pid, restarts, limit, ...) carry details for `agent-supervisor status`; the draft allows them.
 */
export const healthCheckSchema = z.looseObject({
  componentType: z.string(),
  observedValue: z.unknown(),
  observedUnit: z.string(),
  status: healthStatusSchema,
  time: z.string(),
  output: z.string().optional(),
});
/** One check entry. */
export type HealthCheck = z.infer<typeof healthCheckSchema>;

/** The `application/health+json` document served at `GET /health` (draft-inadarei-api-health-check). */
export const healthDocumentSchema = z.looseObject({
  status: healthStatusSchema,
  version: z.string(),
  releaseId: z.string(),
  serviceId: z.string(),
  description: z.string(),
  output: z.string().optional(),
  checks: z.record(z.string(), z.array(healthCheckSchema)),
});
/** The health document. */
export type HealthDocument = z.infer<typeof healthDocumentSchema>;
