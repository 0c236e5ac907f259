/**
 * HTTP plumbing shared by the reference control plane's routes: its error codes, the typed error
 * the store and admin functions throw, JSON body parsing against a zod schema, and responses that
 * are checked against their contract schema before they leave (a reference must never answer
 * off-contract by accident; a deliberately bad answer is a fault, see faults.ts).
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { SupervisorError } from "../../core/errors.ts";

/**
 * Stable `error.code` values of the reference control plane, with the HTTP status each goes with.
 * Daemon-facing: BAD_REQUEST 400, UNAUTHORIZED 401, FORBIDDEN 403, NOT_FOUND 404, NO_SECRETS 404,
 * LEASE_LOST 409, TOO_LARGE 413, INTERNAL 500. Admin only: NO_STATUS 404,
 * TURN_EXISTS 409, TURN_FINISHED 409, UNKNOWN_RUNTIME 400 (an enqueue or secrets write for a
 * runtime that is not registered).
 */
export const CP_ERR = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NO_SECRETS: 404,
  NO_STATUS: 404,
  LEASE_LOST: 409,
  TURN_EXISTS: 409,
  TURN_FINISHED: 409,
  UNKNOWN_RUNTIME: 400,
  TOO_LARGE: 413,
  INTERNAL: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

/** One of {@link CP_ERR}'s codes. */
export type CpErrorCode = keyof typeof CP_ERR;

/**
 * An error with a stable {@link CP_ERR} code; the apps turn it into `{error:{code,message}}` with
 * the code's HTTP status. Admin functions called in-process throw it as is.
 */
export class ControlPlaneError extends SupervisorError {
  declare readonly code: CpErrorCode;
  /** HTTP status that goes with `code`. */
  readonly status: ContentfulStatusCode;
  constructor(code: CpErrorCode, message: string) {
    super(code, message);
    this.status = CP_ERR[code];
  }
}

/** `{error:{code,message}}` with `status` (default: the code's own) and extra `headers`. */
export function errorJson(c: Context, code: string, message: string, status?: ContentfulStatusCode, headers?: Record<string, string>): Response {
  const s = status ?? (CP_ERR as Record<string, ContentfulStatusCode>)[code] ?? 500;
  return c.json({ error: { code, message: message.slice(0, 4096) } }, s, headers);
}

/** "leases.0.turnId: must be ...; body: ...": one clause per zod issue (at most 10). */
export function describeIssues(err: z.ZodError): string {
  const clauses = err.issues.slice(0, 10).map((i) => `${i.path.length > 0 ? i.path.join(".") : "body"}: ${i.message}`);
  return clauses.join("; ");
}

/**
 * Read the request body as JSON and validate it with `schema`.
 * @throws ControlPlaneError BAD_REQUEST if the body is not JSON or does not match (message names the fields)
 */
export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new ControlPlaneError("BAD_REQUEST", "request body is not valid JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ControlPlaneError("BAD_REQUEST", describeIssues(parsed.error));
  return parsed.data;
}

/**
 * Refuse an optional request field this control plane does not take (it is not in its `accepts`),
 * as a control plane on an earlier contract does: its strict schema answers 400 to the unknown field.
 * @param name the field's name in OPTIONAL_REQUEST_FIELDS (`complete.usage`, `status.budget`, ...)
 * @throws ControlPlaneError BAD_REQUEST when `body` has the field and `accepts` lacks `name`
 */
export function refuseUnaccepted(body: object, name: string, accepts: readonly string[]): void {
  const field = name.slice(name.indexOf(".") + 1);
  if (field in body && !accepts.includes(name)) {
    throw new ControlPlaneError("BAD_REQUEST", `unrecognized key: "${field}" (this control plane does not take ${name})`);
  }
}

/**
 * Answer `body` as JSON after checking it against its contract `schema`.
 * @throws ZodError if the body is off-contract (a bug here; the app's onError answers 500 INTERNAL)
 */
export function sendChecked<S extends z.ZodType>(c: Context, schema: S, body: z.input<S>, status: ContentfulStatusCode = 200, headers?: Record<string, string>): Response {
  return c.json(schema.parse(body) as object, status, headers);
}

/** RFC 3339 UTC rendering of epoch ms (`2026-01-02T03:04:05.678Z`). */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** Like {@link iso} for nullable columns. */
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
