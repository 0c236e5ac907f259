/**
 * Gateway error answers made the way the reference client makes them.
 *
 * `isGatewayProtocolResponseError` (what delivery branches on) is true only for errors the
 * reference client built from a real `res` frame: it keeps them in a private WeakSet. An error
 * constructed directly (`new GatewayClientRequestError({...})`) is NOT recognised, so a fake
 * that threw one would be treated as transport trouble. This helper therefore runs one real
 * round trip: a WebSocket server on 127.0.0.1:0 does the protocol handshake
 * (connect.challenge → connect → hello-ok) and answers the next request with the error frame.
 */
import { GatewayClient, type GatewayClientOptions } from "@openclaw/gateway-client";
import { PROTOCOL_VERSION } from "@openclaw/gateway-protocol/version";
import { WebSocketServer } from "ws";

/** The `error` object of a gateway `res` frame. */
export type ErrorShape = { code: string; message: string; retryable?: boolean; retryAfterMs?: number; details?: unknown };

/** The error the reference client rejects a request with when the gateway answers `shape`. */
export async function gatewayResponseError(shape: ErrorShape): Promise<Error> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((res, rej) => {
    wss.once("listening", res);
    wss.once("error", rej);
  });
  const port = (wss.address() as { port: number }).port;
  wss.on("connection", (ws) => {
    ws.send(JSON.stringify({ type: "event", event: "connect.challenge", payload: { nonce: "test-nonce", ts: Date.now() } }));
    ws.on("message", (raw) => {
      const frame = JSON.parse(String(raw)) as { id: string; method: string };
      if (frame.method === "connect") {
        ws.send(
          JSON.stringify({
            type: "res",
            id: frame.id,
            ok: true,
            payload: { type: "hello-ok", protocol: PROTOCOL_VERSION, server: { version: "test" }, policy: { tickIntervalMs: 30_000 } },
          }),
        );
      } else {
        ws.send(JSON.stringify({ type: "res", id: frame.id, ok: false, error: shape }));
      }
    });
  });
  let client: GatewayClient | undefined;
  try {
    return await new Promise<Error>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer from the test gateway")), 10_000);
      const opts: GatewayClientOptions = {
        url: `ws://127.0.0.1:${port}`,
        token: "test-token",
        clientName: "gateway-client",
        mode: "backend",
        clientVersion: "0.0.0",
        platform: "linux",
        role: "operator",
        scopes: ["operator.read", "operator.write"],
        minProtocol: PROTOCOL_VERSION,
        maxProtocol: PROTOCOL_VERSION,
        deviceIdentity: null,
        onHelloOk: () => {
          client!.request("agent", {}).then(
            () => reject(new Error("the test gateway answered ok")),
            (err: Error) => {
              clearTimeout(timer);
              resolve(err);
            },
          );
        },
      } as GatewayClientOptions;
      client = new GatewayClient(opts);
      client.start();
    });
  } finally {
    client?.stop();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((res) => wss.close(() => res()));
  }
}
