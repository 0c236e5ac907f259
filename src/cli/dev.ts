/** `agent-supervisor dev control-plane|mock-model`: test peers and development tools (src/dev/). */
import type { Command } from "commander";
import type { MockRefusal } from "../dev/mock-model.ts";
import { loadNativeSqliteBinding } from "../store/native.ts";
import type { CliContext } from "./context.ts";

/**
 * `KEY=STATUS[:RETRY_AFTER_S]` of `dev mock-model --refuse-key`. Pure.
 * @throws Error naming the option when it is not that shape
 */
export function parseRefusal(spec: string): [string, MockRefusal] {
  const m = /^(.+)=(\d{3})(?::(\d+))?$/.exec(spec);
  if (!m) throw new Error(`--refuse-key ${JSON.stringify(spec)}: expected KEY=STATUS or KEY=429:RETRY_AFTER_SECONDS`);
  return [m[1]!, { status: Number(m[2]), ...(m[3] !== undefined ? { retryAfterS: Number(m[3]) } : {}) }];
}

/**
 * Register `dev control-plane` and `dev mock-model`. Their modules (the reference control plane's
 * routes and schemas, the mock model) are imported when the command runs, so `run` never loads
 * them (BENCHMARKS.md, "Footprint").
 */
export function registerDev(program: Command, ctx: CliContext): void {
  const dev = program.command("dev").description("development tools and test peers");
  dev
    .command("control-plane")
    .description("run the reference control plane (a test peer and development tool, not a production service)")
    .option("--port <port>", "port on 127.0.0.1", "18800")
    .option("--db <file>", "SQLite file (default: in memory)")
    .option("--runtime <rid:account...>", "register runtime ids with their account (default dev-runtime:dev-account)")
    .option("--state-dir <dir>", "where the generated service and admin tokens are kept", ".data/control-plane")
    .option("--lease-ms <ms>", "lease length (ms)", "60000")
    .action(async (o: { port: string; db?: string; runtime?: string[]; stateDir: string; leaseMs: string }) => {
      loadNativeSqliteBinding(o.stateDir); // the single executable's SQLite addon, under the state dir (no-op otherwise)
      const { runControlPlaneCommand } = await import("../dev/control-plane/command.ts");
      await runControlPlaneCommand(
        { port: o.port, db: o.db, runtime: o.runtime, stateDir: o.stateDir, leaseMs: Number(o.leaseMs) },
        { writeErr: ctx.err },
      );
    });
  dev
    .command("mock-model")
    .description("serve a local OpenAI-compatible echo model (stands in for the LLM provider)")
    .option("--port <port>", "port on 127.0.0.1", "18999")
    .option("--context-limit-bytes <bytes>", "answer 400 context_length_exceeded to requests larger than this (bytes)")
    .option("--reject-orphaned-tool-calls", "answer 400, as OpenAI does, to assistant tool calls no tool message answers")
    .option("--refuse-key <key=status...>", "answer this API key with this HTTP status (401, 403, 429[:retry-after seconds]) on /v1/models and completions")
    .action(async (o: { port: string; contextLimitBytes?: string; rejectOrphanedToolCalls?: boolean; refuseKey?: string[] }) => {
      const { startMockModel } = await import("../dev/mock-model.ts");
      const m = await startMockModel(Number(o.port), "127.0.0.1", {
        contextLimitBytes: o.contextLimitBytes === undefined ? null : Number(o.contextLimitBytes),
        rejectOrphanedToolCalls: o.rejectOrphanedToolCalls === true,
        refusals: (o.refuseKey ?? []).map(parseRefusal),
      });
      ctx.err(`mock model listening at ${m.url} (model id: any; replies "echo: <prompt>")`);
      await new Promise<void>((resolve) => {
        ctx.host.onSignal("SIGINT", () => resolve());
        ctx.host.onSignal("SIGTERM", () => resolve());
      });
      await m.close();
    });
}
