/**
 * One request on a short-lived connection of its own with the `operator.admin` scope. The
 * daemon's persistent connection (connection.ts) asks only for `operator.read` and
 * `operator.write`, which is all turns need; a few maintenance RPCs need admin, among them
 * `sessions.compact` and `sessions.reset` (openclaw 2026.9.6 answers "missing scope:
 * operator.admin" without it; dist/method-scopes lists them as admin methods; see
 * docs/gateway/operator-scopes.md). They are rare (a session repair), so they open a connection,
 * send, and close, rather than widen every turn's connection.
 */
import { GatewayClient, type GatewayClientOptions } from "@openclaw/gateway-client";
import { PROTOCOL_VERSION } from "@openclaw/gateway-protocol/version";
import type { GatewayClientFactory } from "./connection.ts";

/** Where and how to connect. */
export type AdminConnectOptions = {
  /** `ws://127.0.0.1:<port>` */
  url: string;
  /** The gateway's shared token. */
  token: string;
  clientVersion: string;
  /** Test seam; default the reference client. */
  factory?: GatewayClientFactory;
};

/**
 * Connect with the admin scope, send `method`, close.
 * @param opts.timeoutMs the whole exchange, connecting included (ms)
 * @throws Error "gateway admin connection failed: ..." when the handshake fails, the
 *   `GatewayClientRequestError` of a refused request, or a timeout / abort error
 */
export async function adminRequest<T>(c: AdminConnectOptions, method: string, params: unknown, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<T> {
  const deadline = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])]);
  const ready = Promise.withResolvers<void>();
  const factory = c.factory ?? ((o: GatewayClientOptions) => new GatewayClient(o));
  const client = factory({
    url: c.url,
    token: c.token,
    clientName: "gateway-client",
    mode: "backend",
    clientDisplayName: "agent-supervisor (maintenance)",
    clientVersion: c.clientVersion,
    platform: "linux",
    role: "operator",
    scopes: ["operator.admin"],
    minProtocol: PROTOCOL_VERSION,
    maxProtocol: PROTOCOL_VERSION,
    deviceIdentity: null,
    onHelloOk: () => ready.resolve(),
    onConnectError: (err) => ready.reject(new Error(`gateway admin connection failed: ${err.message}`)),
    onClose: (code, reason) => ready.reject(new Error(`gateway admin connection failed: closed ${code}${reason ? ` ${reason}` : ""}`)),
  });
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(deadline.reason instanceof Error ? deadline.reason : new Error(String(deadline.reason)));
    if (deadline.aborted) fail();
    else deadline.addEventListener("abort", fail, { once: true });
  });
  aborted.catch(() => {});
  ready.promise.catch(() => {});
  client.start();
  try {
    await Promise.race([ready.promise, aborted]);
    return await Promise.race([client.request<T>(method, params, { timeoutMs: null, signal: deadline }), aborted]);
  } finally {
    client.stop();
  }
}
