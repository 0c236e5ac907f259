/**
 * Typed errors of the control-plane client, and the pure classification the sync loops branch on.
 *
 * Every failure of a control-plane call is a {@link ControlPlaneError} with a stable `code`
 * (undici style: branch on `code`, never on message text). Messages never contain a response
 * body, the service token or credentials from a URL: a body may carry provider keys (secrets).
 */
import { SupervisorError } from "../core/errors.ts";

/** Stable codes of {@link ControlPlaneError}. */
export type ControlPlaneErrorCode =
  /** 401 or 403: the service token was refused. `status` says which. */
  | "ERR_CP_AUTH"
  /** 429 or 503: the control plane asked us to come back later (`retryAfterMs` when it said when). */
  | "ERR_CP_RETRY"
  /** Malformed JSON, a body that fails the contract schema, a body naming another identity, or a body over the size limit. */
  | "ERR_CP_CONTRACT"
  /** 409 with error code LEASE_LOST: this runtime no longer owns the turn. */
  | "ERR_CP_LEASE_LOST"
  /** 404 with the contract's error code NOT_FOUND: the control plane does not know the turn (or runtime). */
  | "ERR_CP_NOT_FOUND"
  /**
   * Any other non-2xx status; `status` holds it. A 404 without a contract error body (HTML, an
   * empty or foreign body: a proxy or load balancer) is one of these, with `serverCode` null.
   */
  | "ERR_CP_HTTP"
  /** The request never got an answer: DNS, connection refused or reset, TLS. */
  | "ERR_CP_NETWORK"
  /** No complete answer within the request's timeout. */
  | "ERR_CP_TIMEOUT"
  /** The caller's AbortSignal aborted the request (shutdown). */
  | "ERR_CP_ABORTED"
  /** Our own request body fails the contract (a bug or an oversized field): sending it can never succeed. */
  | "ERR_CP_INVALID_REQUEST";

/** Extra facts carried by a {@link ControlPlaneError}. */
export type ControlPlaneErrorDetails = {
  /** HTTP status, when there was a response. */
  status?: number | undefined;
  /** Delay the server asked for via Retry-After (ms, >= 0), when it sent a valid one. */
  retryAfterMs?: number | undefined;
  /** `error.code` of the server's error body, when it sent a valid one. */
  serverCode?: string | undefined;
  cause?: unknown;
};

/** A failed control-plane call. */
export class ControlPlaneError extends SupervisorError {
  declare readonly code: ControlPlaneErrorCode;
  /** HTTP status of the answer, or null when there was none (network, timeout, abort). */
  readonly status: number | null;
  /** Retry-After of the answer in ms, or null when absent or invalid. */
  readonly retryAfterMs: number | null;
  /** The server's `error.code`, or null. */
  readonly serverCode: string | null;

  constructor(code: ControlPlaneErrorCode, message: string, details: ControlPlaneErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
    this.serverCode = details.serverCode ?? null;
  }
}

/**
 * How a sync loop should react to an error:
 * - `auth`: the token was refused; stop claiming, tell the operator.
 * - `retry`: the server is overloaded or failing (429, 503, other 5xx), or something in front of it
 *   answered 404 without a contract error body; wait Retry-After or back off.
 * - `network`: no answer (connection, timeout, abort, or an unexpected non-control-plane error); back off.
 * - `contract`: the two sides disagree on the contract (bad body, identity, other 4xx); log, back off, retry later.
 * - `lease-lost`: the turn is no longer ours; drop it.
 * - `fatal-for-item`: this one request can never succeed (404 NOT_FOUND from the contract, invalid request); drop the item.
 */
export type ErrorClass = "auth" | "retry" | "network" | "contract" | "lease-lost" | "fatal-for-item";

/** Pure: the {@link ErrorClass} of any thrown value. */
export function classify(err: unknown): ErrorClass {
  if (!(err instanceof ControlPlaneError)) return "network";
  switch (err.code) {
    case "ERR_CP_AUTH":
      return "auth";
    case "ERR_CP_RETRY":
      return "retry";
    case "ERR_CP_HTTP":
      if (err.status === 404 && err.serverCode === null) return "retry";
      return err.status !== null && err.status >= 500 ? "retry" : "contract";
    case "ERR_CP_CONTRACT":
      return "contract";
    case "ERR_CP_LEASE_LOST":
      return "lease-lost";
    case "ERR_CP_NOT_FOUND":
    case "ERR_CP_INVALID_REQUEST":
      return "fatal-for-item";
    case "ERR_CP_NETWORK":
    case "ERR_CP_TIMEOUT":
    case "ERR_CP_ABORTED":
      return "network";
  }
}

/**
 * Pure: parse a Retry-After header value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date).
 * @param nowMs current time (epoch ms), to turn an HTTP-date into a delay
 * @returns the delay in ms (0 for a date in the past), or null when absent or unparseable
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const seconds = Number(v);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : null;
  }
  // HTTP-date: IMF-fixdate, or the obsolete RFC 850 / asctime forms, all of which Date.parse reads.
  if (!/^[A-Za-z]{3}/.test(v)) return null;
  // HTTP dates are always GMT; asctime carries no zone, and Date.parse would read it as local time.
  const at = Date.parse(/\b(GMT|UTC)\b/.test(v) ? v : `${v} GMT`);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/**
 * A URL as it may appear in a message or log line: without user:password and without the query
 * string (either may hold a credential).
 */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    if (u.search !== "") u.search = "?[redacted]";
    u.hash = "";
    return u.toString();
  } catch {
    return "[unparseable url]";
  }
}
