/**
 * `agent-supervisor gateway-files` (hidden): the gateway's directories, openclaw.json and skills
 * written, and the stale auth cooldowns of rotated provider keys cleared, from the JSON request on
 * stdin (supervisor/gateway-files.ts), the result printed as one JSON line. The daemon runs it as
 * the gateway's user (supervisor/as-gateway.ts); it reads no settings and opens nothing outside the
 * request's paths.
 */
import type { Command } from "commander";
import { ConfigError } from "../core/errors.ts";
import { gatewayFilesRequestSchema, writeGatewayFiles } from "../supervisor/gateway-files.ts";
import type { CliContext } from "./context.ts";

/** Largest request accepted on stdin (bytes): the config and every skill bundle. */
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/** Register `gateway-files`. */
export function registerGatewayFiles(program: Command, ctx: CliContext): void {
  program
    .command("gateway-files", { hidden: true })
    .description("write the gateway's directories, openclaw.json and skills from a JSON request on stdin (run by the daemon as the gateway's user)")
    .action(async () => {
      const stdin = ctx.host.stdin;
      if (!stdin) throw new ConfigError("gateway-files: no stdin here");
      let text = "";
      for await (const chunk of stdin()) {
        text += chunk.toString();
        if (text.length > MAX_REQUEST_BYTES) throw new ConfigError(`gateway-files: the request is over ${MAX_REQUEST_BYTES} bytes`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new ConfigError(`gateway-files: the request is not JSON: ${(err as Error).message}`);
      }
      const req = gatewayFilesRequestSchema.safeParse(json);
      if (!req.success) throw new ConfigError(`gateway-files: invalid request: ${req.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
      ctx.out(JSON.stringify(await writeGatewayFiles(req.data)));
    });
}
