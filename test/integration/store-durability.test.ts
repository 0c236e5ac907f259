/**
 * A committed turn survives `kill -9` of the process that wrote it: a child node process opens
 * the database through src/store, inserts a turn, says "committed" and blocks; the test
 * SIGKILLs it (no close, no checkpoint) and reopens the file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, expect, it } from "vitest";
import { openDb } from "../../src/store/db.ts";
import { TurnStore } from "../../src/store/turns.ts";
import { killGroup, removeTempDirs, tempDir } from "./helpers.ts";

const src = resolve(import.meta.dirname, "../../src/store");
let child: ChildProcess | undefined;

afterEach(() => {
  if (child?.pid !== undefined) killGroup(child.pid);
  child = undefined;
  removeTempDirs();
});

it("a committed turn is in the database after the writer is SIGKILLed", async () => {
  const dir = tempDir("as-kill9-");
  const dbPath = join(dir, "agent-supervisor.db");
  const script = join(dir, "writer.ts");
  writeFileSync(
    script,
    `import { openDb } from ${JSON.stringify(join(src, "db.ts"))};
import { TurnStore } from ${JSON.stringify(join(src, "turns.ts"))};
const db = openDb(process.argv[2]);
const turns = new TurnStore(db);
turns.insert({ id: "durable-1", source: "local", clientKey: "local:k", conversationId: "c", sessionKey: "agent:main:c", message: "do not lose me", now: 1234 });
turns.startDelivery("durable-1", 2000, 60000);
// Committed straight into delivering (the local API's path), then its run id without an fsync.
turns.insert({ id: "durable-2", source: "local", conversationId: "d", sessionKey: "agent:main:d", message: "me neither", now: 3000 }, { timeoutMs: 60000 });
turns.setRun("durable-2", "run-2", 7, 3100);
process.stdout.write("committed\\n");
setInterval(() => {}, 1 << 30);
`,
  );
  child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", script, dbPath], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child!.once("exit", (code, signal) => res({ code, signal })),
  );
  await new Promise<void>((res, rej) => {
    let out = "";
    child!.stdout!.on("data", (d) => {
      out += String(d);
      if (out.includes("committed")) res();
    });
    void exited.then(() => rej(new Error(`writer exited before committing: ${stderr}`)));
  });

  child.kill("SIGKILL");
  expect(await exited).toEqual({ code: null, signal: "SIGKILL" });

  const db = openDb(dbPath);
  try {
    const turn = new TurnStore(db).get("durable-1");
    expect(turn).toMatchObject({
      message: "do not lose me",
      clientKey: "local:k",
      state: "delivering",
      attempts: 1,
      deadlineAt: 62_000,
    });
    // A commit without fsync (setRun) is in the WAL, in the OS page cache: a killed process loses nothing.
    expect(new TurnStore(db).get("durable-2")).toMatchObject({ state: "delivering", attempts: 1, idempotencyKey: "durable-2", deadlineAt: 63_000, runId: "run-2", gatewayGeneration: 7 });
    expect(db.pragma("synchronous", { simple: true })).toBe(2); // FULL, as openDb sets it
  } finally {
    db.close();
  }
});
