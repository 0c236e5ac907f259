/** Bearer-token authentication of the local API (RFC 6750 section 2.1, header field only). */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errorResponse, HTTP_ERR } from "./respond.ts";

const REALM = 'realm="agent-supervisor"';
// RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 11.1).
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Middleware that admits a request only with `Authorization: Bearer <token>`.
 * Comparison is constant-time over SHA-256 digests, so neither content nor length of the token leaks.
 * Missing credentials get 401 with `WWW-Authenticate: Bearer realm="agent-supervisor"`; wrong
 * ones add `error="invalid_token"` (RFC 6750 section 3). Body: `{error:{code:"ERR_UNAUTHORIZED",...}}`.
 * @param token the secret; 1+ characters of RFC 6750's b64token alphabet `[A-Za-z0-9-._~+/]` then `=` padding
 * @throws Error at construction if `token` is empty or outside that alphabet (it could never match)
 */
export function bearerAuth(token: string): MiddlewareHandler {
  if (!TOKEN.test(token)) throw new Error("bearerAuth: token must be a non-empty RFC 6750 b64token");
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (header === undefined) {
      return errorResponse(c, 401, HTTP_ERR.UNAUTHORIZED, "missing Authorization: Bearer <token> header", {
        "WWW-Authenticate": `Bearer ${REALM}`,
      });
    }
    const presented = BEARER.exec(header.trim())?.[1];
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      return errorResponse(c, 401, HTTP_ERR.UNAUTHORIZED, "invalid bearer token", {
        "WWW-Authenticate": `Bearer ${REALM}, error="invalid_token"`,
      });
    }
    await next();
  };
}
