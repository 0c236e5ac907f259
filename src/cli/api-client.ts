/**
 * Client of the local API, for the `agent-supervisor turn` and `agent-supervisor status` commands.
 * Responses are validated with the wire schemas; failures are typed errors with stable codes.
 */
import type { z } from "zod";
import { SupervisorError, TempFailError, UnavailableError } from "../core/errors.ts";
import type { TurnView } from "../turns/turn-view.ts";
import {
  errorBodySchema,
  type HealthDocument,
  healthDocumentSchema,
  type Readyz,
  readyzSchema,
  type SubmitTurnBody,
  submitTurnResponseSchema,
  turnViewSchema,
} from "../health/wire.ts";

/** The daemon is not listening (ECONNREFUSED): code ERR_DAEMON_UNREACHABLE; exit code 69 via exitCodeFor. */
export class DaemonUnreachableError extends UnavailableError {
  constructor(baseUrl: string, cause: unknown) {
    super("ERR_DAEMON_UNREACHABLE", `cannot connect to ${baseUrl}: is agent-supervisor running? (systemctl status agent-supervisor)`, { cause });
  }
}

/**
 * Any other failed call. `code` is the server's (ERR_UNAUTHORIZED, ERR_QUEUE_FULL, ERR_NOT_FOUND,
 * ERR_TOO_LARGE, ...) or the client's own: ERR_NETWORK, ERR_TIMEOUT, ERR_BAD_RESPONSE.
 * `status` is the HTTP status, or null if there was no response.
 */
export class ApiError extends SupervisorError {
  readonly status: number | null;
  /** Seconds from `Retry-After`, if the server sent one. */
  readonly retryAfterS: number | null;
  constructor(code: string, message: string, extra: { status?: number | null; retryAfterS?: number | null; cause?: unknown } = {}) {
    super(code, message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.status = extra.status ?? null;
    this.retryAfterS = extra.retryAfterS ?? null;
  }
}

/**
 * {@link ApiClient.waitTurn} stopped waiting: the turn was accepted (committed to SQLite before the
 * 202) and is still `accepted` or `delivering` in the daemon, which keeps it and finishes it on its
 * own, after a restart too. Code ERR_WAIT_TIMEOUT; a {@link TempFailError}, so exit code 75
 * (EX_TEMPFAIL) via exitCodeFor.
 */
export class TurnWaitTimeoutError extends TempFailError {
  /** The turn's id, as the submit returned it. */
  readonly turnId: string;
  /** The turn as last seen (state `accepted` or `delivering`), or null if no poll was answered. */
  readonly turn: TurnView | null;
  /** How long the client waited (ms). */
  readonly waitedMs: number;
  /** Where the turn can be read later: `GET <url>` with the bearer token. */
  readonly url: string;
  /**
   * Why the last poll got no answer, if it got none: the daemon was stopped, restarting or
   * unreachable ({@link isTransientApiError}). null when the last poll was answered.
   */
  readonly lastError: SupervisorError | null;
  constructor(o: { turnId: string; turn: TurnView | null; waitedMs: number; url: string; lastError: SupervisorError | null }) {
    const seen = o.turn ? `still ${o.turn.state}` : "not seen since it was accepted";
    const why = o.lastError ? `; the daemon did not answer (${o.lastError.code})` : "";
    super("ERR_WAIT_TIMEOUT", `turn ${o.turnId} is ${seen} after ${o.waitedMs} ms${why}`, o.lastError ? { cause: o.lastError } : undefined);
    this.turnId = o.turnId;
    this.turn = o.turn;
    this.waitedMs = o.waitedMs;
    this.url = o.url;
    this.lastError = o.lastError;
  }
}

/**
 * True for the failures a stopped, restarting or killed daemon causes, after which the same request
 * may succeed later: {@link DaemonUnreachableError} (ECONNREFUSED), and {@link ApiError} with no HTTP
 * response, ERR_NETWORK (connection reset or closed, the long-poll cut by a stopping server) or
 * ERR_TIMEOUT. An HTTP answer (401, 404, 500, ...) is never transient. Pure.
 */
export function isTransientApiError(err: unknown): err is SupervisorError {
  if (err instanceof DaemonUnreachableError) return true;
  return err instanceof ApiError && err.status === null && (err.code === "ERR_NETWORK" || err.code === "ERR_TIMEOUT");
}

/** The client; every method rejects with {@link DaemonUnreachableError} or {@link ApiError} (waitTurn also with {@link TurnWaitTimeoutError}). */
export type ApiClient = {
  /** POST /v1/turns. `created` is false for an idempotent repeat (HTTP 200 instead of 202). */
  submitTurn(input: SubmitTurnBody): Promise<{ turnId: string; created: boolean }>;
  /** GET /v1/turns/:id, long-polling up to `waitMs` (ms, server caps it at 60000); 0 returns at once. */
  getTurn(id: string, waitMs?: number): Promise<TurnView>;
  /**
   * Long-poll repeatedly until the turn is done or failed, for at most `totalTimeoutMs` (ms). For a
   * turn already accepted: a transient failure ({@link isTransientApiError}: the daemon stopped,
   * restarting or unreachable) counts as "still pending"; `onUnreachable` is called with it when
   * such a spell begins, and the client tries again after {@link RETRY_PAUSE_MS} until the deadline.
   * @throws TurnWaitTimeoutError (ERR_WAIT_TIMEOUT) after `totalTimeoutMs`, also when the daemon
   *   is down then; ApiError for an HTTP error answer (401, 404, ...)
   */
  waitTurn(id: string, totalTimeoutMs: number, onUnreachable?: (err: SupervisorError) => void): Promise<TurnView>;
  /** GET /health: the draft-inadarei-api-health-check document, for 200 and 503 alike. */
  health(): Promise<HealthDocument>;
  /** GET /readyz, for 200 and 503 alike. */
  readyz(): Promise<Readyz>;
};

const POLL_MS = 60_000;
// Room for the server to answer after its long-poll ends, before the client gives up (ms).
const RESPONSE_SLACK_MS = 10_000;
/** Pause of {@link ApiClient.waitTurn} after a transient failure, before it polls again (ms). */
export const RETRY_PAUSE_MS = 1000;

/**
 * Create a client for `baseUrl` (e.g. "http://127.0.0.1:18790"). `token` is sent as
 * `Authorization: Bearer` (RFC 6750) to `/v1/*` only. `now` (epoch ms) defaults to Date.now;
 * `sleep(ms)` (the pause between polls while the daemon is away) defaults to a plain setTimeout,
 * not unref'd: it is what keeps a waiting CLI alive.
 */
export function createApiClient(opts: {
  baseUrl: string;
  token: string;
  fetch: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}): ApiClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  async function call<S extends z.ZodType>(path: string, schema: S, init: RequestInit & { timeoutMs: number; okStatuses?: number[] }): Promise<{ status: number; body: z.infer<S> }> {
    const headers = new Headers(init.headers);
    if (path.startsWith("/v1/")) headers.set("Authorization", `Bearer ${opts.token}`);
    let res: Response;
    let text: string;
    try {
      res = await opts.fetch(base + path, { ...init, headers, signal: AbortSignal.timeout(init.timeoutMs) });
      // Inside the try: a daemon that dies mid-answer fails here, not in fetch().
      text = await res.text();
    } catch (err) {
      if (hasCode(err, "ECONNREFUSED")) throw new DaemonUnreachableError(base, err);
      if (err instanceof DOMException && err.name === "TimeoutError") {
        throw new ApiError("ERR_TIMEOUT", `no answer from ${base}${path} within ${init.timeoutMs} ms`, { cause: err });
      }
      throw new ApiError("ERR_NETWORK", `request to ${base}${path} failed: ${describe(err)}`, { cause: err });
    }
    const json = safeJson(text);
    if (!res.ok && !(init.okStatuses ?? []).includes(res.status)) {
      const e = errorBodySchema.safeParse(json);
      const retry = Number(res.headers.get("retry-after"));
      throw new ApiError(e.success ? e.data.error.code : `ERR_HTTP_${res.status}`, e.success ? e.data.error.message : `HTTP ${res.status} from ${path}`, {
        status: res.status,
        retryAfterS: Number.isFinite(retry) && retry > 0 ? retry : null,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError("ERR_BAD_RESPONSE", `unexpected response from ${path} (HTTP ${res.status})`, { status: res.status });
    return { status: res.status, body: parsed.data };
  }

  const turnPath = (id: string) => `/v1/turns/${encodeURIComponent(id)}`;
  const getTurn = async (id: string, waitMs = 0): Promise<TurnView> => {
    const q = waitMs > 0 ? `?wait=${Math.ceil(waitMs)}` : "";
    return (await call(`${turnPath(id)}${q}`, turnViewSchema, { timeoutMs: waitMs + RESPONSE_SLACK_MS })).body;
  };

  return {
    async submitTurn(input) {
      const r = await call("/v1/turns", submitTurnResponseSchema, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(input),
        timeoutMs: RESPONSE_SLACK_MS,
      });
      return { turnId: r.body.turnId, created: r.status === 202 };
    },
    getTurn,
    async waitTurn(id, totalTimeoutMs, onUnreachable) {
      const deadline = now() + totalTimeoutMs;
      let turn: TurnView | null = null;
      let lastError: SupervisorError | null = null;
      for (;;) {
        const left = deadline - now();
        try {
          turn = await getTurn(id, Math.max(0, Math.min(left, POLL_MS)));
          lastError = null;
          if (turn.state === "done" || turn.state === "failed") return turn;
        } catch (e) {
          // The turn is in the daemon's SQLite: a stop, restart or crash of the daemon does not lose it.
          if (!isTransientApiError(e)) throw e;
          if (lastError === null) onUnreachable?.(e);
          lastError = e;
          const pause = Math.min(RETRY_PAUSE_MS, deadline - now());
          if (pause > 0) await sleep(pause);
        }
        if (deadline - now() <= 0) {
          throw new TurnWaitTimeoutError({ turnId: id, turn, waitedMs: totalTimeoutMs, url: base + turnPath(id), lastError });
        }
      }
    },
    async health() {
      return (await call("/health", healthDocumentSchema, { timeoutMs: RESPONSE_SLACK_MS, okStatuses: [503] })).body;
    },
    async readyz() {
      return (await call("/readyz", readyzSchema, { timeoutMs: RESPONSE_SLACK_MS, okStatuses: [503] })).body;
    },
  };
}

function hasCode(err: unknown, code: string): boolean {
  // fetch (undici) wraps socket errors: TypeError("fetch failed", { cause: { code } }), sometimes an AggregateError.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === code) return true;
    if (e instanceof AggregateError && e.errors.some((x) => hasCode(x, code))) return true;
  }
  return false;
}

const describe = (err: unknown) => (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
