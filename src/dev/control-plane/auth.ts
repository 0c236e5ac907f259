/**
 * Who may call the reference control plane: a bearer token per audience (the service token for
 * the daemon-facing `/v1`, the admin token for `/admin`), then, for `/v1`, the identity check: the
 * runtime must be registered and the request must name it and its account.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ControlPlaneError, errorJson } from "./http.ts";
import type { RuntimeRecord, RuntimeRegistry } from "./store_runtimes.ts";

// RFC 6750 section 2.1: "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 11.1).
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** True for a valid RFC 6750 b64token: 1+ of `[A-Za-z0-9-._~+/]`, then `=` padding. Pure. */
export const isBearerToken = (s: string): boolean => TOKEN.test(s);

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Admit a request only with `Authorization: Bearer <token>`; otherwise 401
 * `{error:{code:"UNAUTHORIZED"}}` with `WWW-Authenticate`. Constant-time over SHA-256 digests.
 * @throws Error at construction if `token` is not an RFC 6750 b64token (it could never match)
 */
export function requireBearer(token: string, realm: string): MiddlewareHandler {
  if (!isBearerToken(token)) throw new Error(`${realm}: token must be a non-empty RFC 6750 b64token`);
  const expected = digest(token);
  return async (c, next) => {
    const presented = BEARER.exec(c.req.header("authorization")?.trim() ?? "")?.[1];
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      return errorJson(c, "UNAUTHORIZED", "missing or invalid Authorization: Bearer token", 401, { "WWW-Authenticate": `Bearer realm="${realm}"` });
    }
    await next();
  };
}

/**
 * The registered runtime a daemon request speaks for. `pathRuntimeId` is the `{runtimeId}` of the
 * path (absent for `/v1/turns/...`); `body` is the validated request body (absent for GETs).
 * @throws ControlPlaneError FORBIDDEN if the runtime is not registered, the body names another
 *   runtime than the path, or the body's accountId is not the runtime's account
 */
export function identify(registry: RuntimeRegistry, pathRuntimeId: string | undefined, body: { accountId: string; runtimeId: string } | undefined): RuntimeRecord {
  const runtimeId = body?.runtimeId ?? pathRuntimeId;
  if (runtimeId === undefined) throw new ControlPlaneError("FORBIDDEN", "the request names no runtime");
  if (pathRuntimeId !== undefined && body !== undefined && body.runtimeId !== pathRuntimeId) {
    throw new ControlPlaneError("FORBIDDEN", `body names runtime ${body.runtimeId} but the path names ${pathRuntimeId}`);
  }
  const rt = registry.get(runtimeId);
  if (rt === undefined) throw new ControlPlaneError("FORBIDDEN", `runtime ${runtimeId} is not registered`);
  if (body !== undefined && body.accountId !== rt.accountId) {
    throw new ControlPlaneError("FORBIDDEN", `runtime ${runtimeId} does not belong to account ${body.accountId}`);
  }
  return rt;
}
