/**
 * The daemon side of the `agent-supervisor turn` CLI tests: the real app and HTTP server on
 * 127.0.0.1 over the real TurnService and a SQLite file, which a test can stop (as `systemctl
 * stop` does: drain, end the long-polls, close) and start again on the same port over the same
 * file (as a restarted daemon does). Nothing delivers a turn; the test finishes it with
 * {@link LocalDaemon.finish}. Also the CLI runner, a real child process.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { TokenBudget, type BudgetPolicy } from "../../src/turns/budget.ts";
import { TurnService } from "../../src/turns/turn-service.ts";
import type { TurnsPort } from "../../src/health/ports.ts";
import { startHttpServer, type HttpServerHandle } from "../../src/health/server.ts";
import { openDb } from "../../src/store/db.ts";
import { TurnStore } from "../../src/store/turns.ts";
import { UsageStore, type TurnUsage } from "../../src/store/usage.ts";
import { openTestDb, tempDir, type TestDb } from "../integration/helpers.ts";
import { TOKEN } from "./fakes.ts";
import { harness } from "./harness.ts";

const CLI = resolve(import.meta.dirname, "../../bin/agent-supervisor");

/** A local API "daemon" for the CLI; see the file comment. */
export type LocalDaemon = {
  /** The first process's database handles (the test reads and edits turns through them). */
  t: TestDb;
  /** The port, kept across restarts. */
  port: number;
  dataDir: string;
  /** The env file to pass as `--config`. */
  envFile: string;
  /** Ids of the turns submitted so far, in order. */
  ids: string[];
  /** How many `GET /v1/turns/:id?wait=` long-polls have parked, over all runs. */
  polls: () => number;
  /** The running process's turn service (to drain it, for instance); undefined while stopped. */
  service: () => TurnService | undefined;
  /** Drain, end the long-polls after `closeGraceMs`, close the server; resolves once closed. */
  stop(): Promise<void>;
  /** Start again on the same port over the same SQLite file, with a fresh handle and service. */
  start(): Promise<void>;
  /** Complete a turn in SQLite with `reply` (and `usage`) and release its long-pollers, as delivery does. @throws Error if it had finished */
  finish(id: string, reply: string, usage?: TurnUsage): void;
  /** Stop and close every handle (for afterEach). */
  close(): Promise<void>;
};

/**
 * Start a local daemon. `hang: "delivering"` moves each submitted turn to delivering at once, as
 * delivery does before it calls the gateway; `queueLimit` (default 10) is TURN_QUEUE_LIMIT;
 * `budget` the daily token budget (TOKEN_BUDGET_*), none by default.
 */
export async function startLocalDaemon(o: { hang?: "accepted" | "delivering"; queueLimit?: number; budget?: BudgetPolicy } = {}): Promise<LocalDaemon> {
  const t = openTestDb();
  const ids: string[] = [];
  let polls = 0;
  let run: { service: TurnService; server: HttpServerHandle; close: () => void } | undefined;
  let port = 0;

  const start = async () => {
    // A restart is a new process: a new SQLite handle over the same file.
    const own = port === 0 ? undefined : openDb(t.path);
    const turns = own ? new TurnStore(own) : t.turns;
    const service = new TurnService({
      turns,
      now: Date.now,
      queueLimit: o.queueLimit ?? 10,
      budget: o.budget && new TokenBudget(new UsageStore(own ?? t.db), o.budget, Date.now),
      onSubmitted: () => {
        const turn = turns.deliverable(1)[0]!;
        ids.push(turn.id);
        if (o.hang === "delivering") turns.startDelivery(turn.id, Date.now(), 600_000);
      },
    });
    const port_: TurnsPort = {
      submit: (input) => service.submit(input),
      get: (id) => service.get(id),
      waitFinished: (id, ms, endOnStop) => {
        polls += 1;
        return service.waitFinished(id, ms, endOnStop);
      },
    };
    // The daemon's default TURN_MAX_MESSAGE_BYTES (256 KiB), not the harness's 1000 bytes.
    const app = harness({ turns: port_, maxMessageBytes: 256 * 1024 }).app;
    const server = await startHttpServer({ app, host: "127.0.0.1", port, closeGraceMs: 200 });
    port = server.port;
    run = { service, server, close: () => own?.close() };
  };
  await start();

  const dataDir = tempDir("as-turn-cli-");
  writeFileSync(join(dataDir, "api.token"), `${TOKEN}\n`, { mode: 0o600 });
  const envFile = join(dataDir, "agent-supervisor.env");
  writeFileSync(envFile, `AGENT_SUPERVISOR_DATA_DIR=${dataDir}\nAGENT_SUPERVISOR_HTTP_HOST=127.0.0.1\nAGENT_SUPERVISOR_HTTP_PORT=${port}\n`);

  const stop = async () => {
    const r = run;
    run = undefined;
    if (!r) return;
    r.service.startDraining();
    r.service.endWaits(); // as run.ts does before the local API closes
    await r.server.close();
    // Release the long-polls the server cut, while their SQLite handle is still open: their
    // timers would otherwise read a closed handle later.
    for (const id of ids) r.service.finished(id);
    r.close();
  };
  return {
    t,
    port,
    dataDir,
    envFile,
    ids,
    polls: () => polls,
    service: () => run?.service,
    stop,
    start,
    finish(id, reply, usage) {
      // As delivery does: to delivering (if not yet), then the reply.
      t.turns.startDelivery(id, Date.now(), 600_000);
      if (!t.turns.complete(id, reply, Date.now(), usage)) throw new Error(`turn ${id} was not delivering`);
      run?.service.finished(id);
    },
    async close() {
      await stop();
      t.close();
    },
  };
}

/**
 * Run the CLI (bin/agent-supervisor) to its end, or SIGKILL it after `killAfterMs` (then `code`
 * is null). The test's own server must keep serving meanwhile, hence an async spawn.
 */
export function runCli(args: string[], killAfterMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    // Only PATH and HOME: a setting in the test's environment would override the env file.
    const child = spawn(CLI, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ["ignore", "pipe", "pipe"] });
    const killer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += String(b)));
    child.stderr.on("data", (b: Buffer) => (stderr += String(b)));
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(killer);
      done({ code, stdout, stderr });
    });
  });
}
