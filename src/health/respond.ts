/** Error responses shared by the routes: always `{error:{code,message}}` JSON. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorBody } from "./wire.ts";

/** Stable codes of errors the HTTP layer itself raises (the store's codes come from src/errors.ts). */
export const HTTP_ERR = {
  BAD_REQUEST: "ERR_BAD_REQUEST",
  UNAUTHORIZED: "ERR_UNAUTHORIZED",
  NOT_FOUND: "ERR_NOT_FOUND",
  TOO_LARGE: "ERR_TOO_LARGE",
  INTERNAL: "ERR_INTERNAL",
} as const;

/** A JSON error response with `status`, stable `code` and human `message`; `headers` are added as given. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Response {
  const body: ErrorBody = { error: { code, message } };
  return c.json(body, status, headers);
}
