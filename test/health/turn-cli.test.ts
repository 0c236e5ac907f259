/**
 * The real `agent-supervisor turn` (bin/agent-supervisor, a child process) against the real local
 * API on 127.0.0.1: the real app and HTTP server over the real TurnService and a SQLite file.
 * Nothing delivers the turn, so its wait always times out.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TurnService } from "../../src/gateway/turn-service.ts";
import { startHttpServer, type HttpServerHandle } from "../../src/health/server.ts";
import { openTestDb, removeTempDirs, tempDir, type TestDb } from "../integration/helpers.ts";
import { TOKEN } from "./fakes.ts";
import { harness } from "./harness.ts";

const CLI = resolve(import.meta.dirname, "../../bin/agent-supervisor");

let db: TestDb | undefined;
let server: HttpServerHandle | undefined;
afterEach(async () => {
  await server?.close();
  db?.close();
  server = db = undefined;
  removeTempDirs();
});

/**
 * A daemon API whose turns never finish. With `hang: "delivering"` each submitted turn is moved to
 * delivering at once, as delivery does before it calls the gateway.
 */
async function stuckDaemon(hang: "accepted" | "delivering") {
  const t = openTestDb();
  db = t;
  const ids: string[] = [];
  const service = new TurnService({
    turns: t.turns,
    now: Date.now,
    queueLimit: 10,
    onSubmitted: () => {
      const turn = t.turns.deliverable(1)[0]!;
      ids.push(turn.id);
      if (hang === "delivering") t.turns.startDelivery(turn.id, Date.now(), 600_000);
    },
  });
  const h = harness({ turns: service });
  server = await startHttpServer({ app: h.app, host: "127.0.0.1", port: 0, closeGraceMs: 50 });
  const dataDir = tempDir("as-turn-cli-");
  writeFileSync(join(dataDir, "api.token"), `${TOKEN}\n`, { mode: 0o600 });
  const envFile = join(dataDir, "agent-supervisor.env");
  writeFileSync(envFile, `AGENT_SUPERVISOR_DATA_DIR=${dataDir}\nAGENT_SUPERVISOR_HTTP_HOST=127.0.0.1\nAGENT_SUPERVISOR_HTTP_PORT=${server.port}\n`);
  return { t, ids, dataDir, envFile, port: server.port };
}

/**
 * Run the CLI to its end, or SIGKILL it after `killAfterMs` (then `code` is null). The test's own
 * server must keep serving meanwhile, hence an async spawn.
 */
function runCli(args: string[], killAfterMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

describe("agent-supervisor turn --timeout, when the turn does not finish in time", () => {
  it.each([
    { hang: "accepted" as const, meaning: "queued, not yet delivered to the gateway" },
    { hang: "delivering" as const, meaning: "running in the gateway" },
  ])("exits 75 (EX_TEMPFAIL) and says the $hang turn goes on and how to read it", async ({ hang, meaning }) => {
    const d = await stuckDaemon(hang);
    const t0 = performance.now();
    const r = await runCli(["--config", d.envFile, "turn", "hello", "--timeout", "1500"]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(d.ids).toHaveLength(1);
    const id = d.ids[0]!;
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`turn ${id} is still ${hang} (${meaning}) after 1500 ms`);
    expect(r.stderr).toContain("the daemon keeps it and it finishes on its own");
    expect(r.stderr).toContain(`curl -H "authorization: Bearer $(cat ${join(d.dataDir, "api.token")})" http://127.0.0.1:${d.port}/v1/turns/${id}`);
    expect(r.stderr).toContain("--timeout");
    expect(r.stderr).toContain("[ERR_WAIT_TIMEOUT]");
    expect(r.code).toBe(75);
    // The CLI gave up waiting; the turn itself is untouched.
    expect(d.t.turns.get(id)?.state).toBe(hang);
  }, 20_000);

  it("refuses a --timeout that is not a whole number of ms before submitting, exit 64 (it used to submit the turn, then fail with ERR_NETWORK, exit 70)", async () => {
    const d = await stuckDaemon("accepted");
    const r = await runCli(["--config", d.envFile, "turn", "hello", "--timeout", "soon"], 8_000);
    expect(r.stderr).toContain("--timeout");
    expect(r.stderr).toContain("must be a whole number of milliseconds");
    expect(r.code).toBe(64);
    expect(d.ids).toEqual([]);
  }, 20_000);
});
