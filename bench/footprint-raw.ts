/**
 * The raw path of bench/footprint.ts: a bare process that only holds ONE `@openclaw/gateway-client`
 * connection to the gateway (as the daemon does), bundled by the bench into its own single
 * executable with the same recipe and Node binary as the product (build/sea.ts).
 *
 * Env: RAW_GATEWAY_URL (`ws://127.0.0.1:<port>`) and RAW_GATEWAY_TOKEN: connect, print `ready` on
 * stdout after hello-ok, and hold the connection until SIGTERM. Without RAW_GATEWAY_URL it holds
 * nothing and prints `ready` at once. Exits 1 with the error on stderr when the connection is refused.
 */
import { GatewayClient } from "@openclaw/gateway-client";

const url = process.env.RAW_GATEWAY_URL;
let client: GatewayClient | undefined;
// A handle that keeps the process alive without waking it (2^31-1 ms, setTimeout's maximum).
const keep = setInterval(() => undefined, 2 ** 31 - 1);
if (url) {
  client = new GatewayClient({
    url,
    token: process.env.RAW_GATEWAY_TOKEN,
    minProtocol: 4,
    maxProtocol: 4,
    deviceIdentity: null,
    onHelloOk: () => process.stdout.write("ready\n"),
    onConnectError: (e) => {
      process.stderr.write(`raw client: ${String(e)}\n`);
      process.exit(1);
    },
  });
  client.start();
} else process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  client?.stop();
  clearInterval(keep);
});
