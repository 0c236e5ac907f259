/**
 * The launch clears the gateway's stale auth cooldown of a provider whose key was rotated, and
 * only then (issue 12, failure mode 3): over a real data directory with an agent database shaped
 * as openclaw 2026.9.6 keeps it, and through the hidden `gateway-files` command, which the daemon
 * runs as the gateway's user when the gateway has its own.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { gatewayLayout } from "../../src/core/data-dir.ts";
import { CLI } from "../e2e/harness.ts";
import { launchIn } from "./launch-fixture.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";

afterEach(removeTempDirs);

const COOLED = { version: 1, usageStats: { "inline-api-key:compat": { disabledUntil: Date.now() + 600_000, disabledReason: "auth_permanent", errorCount: 1 } } };

/** An agent database under `stateDir` with the compat key in cooldown. */
function cooledDb(stateDir: string): string {
  const dir = join(stateDir, "agents", "main", "agent");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "openclaw-agent.sqlite");
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("CREATE TABLE IF NOT EXISTS auth_profile_state (state_key TEXT NOT NULL PRIMARY KEY, state_json TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT");
  db.prepare("INSERT OR REPLACE INTO auth_profile_state VALUES ('primary', ?, 1)").run(JSON.stringify(COOLED));
  db.close();
  return path;
}

function cooldowns(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Object.keys(JSON.parse((db.prepare("SELECT state_json FROM auth_profile_state").get() as { state_json: string }).state_json).usageStats);
  } finally {
    db.close();
  }
}

const secrets = (version: string, apiKey: string) => ({ accountId: "acct", runtimeId: "rt", version, providers: { compat: { baseUrl: "http://127.0.0.1:1/v1", apiKey, model: "echo-1" } } });

describe("GatewayLaunch.prepare and the gateway's auth cooldown", () => {
  it("clears it for a rotated key, keeps it for an unchanged one, and never records a key itself", async () => {
    const dataDir = tempDir();
    const { launch, files, sink } = launchIn(dataDir);
    await launch.store({ secrets: secrets("v1", "sk-one-0123456789") });
    await launch.prepare(); // the first start: nothing recorded yet, nothing to clear
    const db = cooledDb(files.gateway.stateDir); // the gateway refused sk-one and disabled the key

    await launch.prepare(); // a restart on the same key: upstream's cooldown stands
    expect(cooldowns(db)).toEqual(["inline-api-key:compat"]);

    await launch.store({ secrets: secrets("v2", "sk-two-0123456789") });
    await launch.prepare(); // a start on the rotated key
    expect(cooldowns(db)).toEqual([]);
    expect(sink.lines().find((l) => l.msg === "cleared the gateway's stale auth cooldown of rotated provider keys")).toMatchObject({ providers: ["compat"], db });

    cooledDb(files.gateway.stateDir); // refused again, on sk-two
    await launch.prepare();
    expect(cooldowns(db)).toEqual(["inline-api-key:compat"]);
    const record = readFileSync(files.launchedKeys, "utf8");
    expect(record).not.toContain("sk-two");
    expect(record).not.toContain("sk-one");
    expect(sink.text()).not.toContain("sk-two-0123456789");
  });

  it("a database it cannot write is logged, the gateway starts anyway, and the next start tries again", async () => {
    const dataDir = tempDir();
    const { launch, files, sink } = launchIn(dataDir);
    await launch.store({ secrets: secrets("v1", "sk-one-0123456789") });
    await launch.prepare();
    const db = cooledDb(files.gateway.stateDir);
    await launch.store({ secrets: secrets("v2", "sk-two-0123456789") });
    const holder = new DatabaseSync(db);
    holder.exec("BEGIN IMMEDIATE"); // another writer holds the lock past the busy wait
    try {
      const spec = await launch.prepare();
      expect(spec.command).toBe(process.execPath);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    expect(cooldowns(db)).toEqual(["inline-api-key:compat"]);
    expect(sink.lines().find((l) => String(l.msg).startsWith("cannot clear the gateway's auth cooldown"))).toMatchObject({ providers: ["compat"] });
    await launch.prepare();
    expect(cooldowns(db)).toEqual([]);
  }, 30_000);
});

describe("gateway-files (hidden) clears the cooldowns it is asked to", () => {
  function run(input: string): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const child = spawn(CLI, ["gateway-files"], { stdio: ["pipe", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.once("close", (code) => resolve({ code, out, err }));
      child.stdin.end(input);
    });
  }

  it("reports what it cleared as JSON, and refuses a provider id that is not one", async () => {
    const layout = gatewayLayout(tempDir());
    const db = cooledDb(layout.stateDir);
    const ok = await run(JSON.stringify({ layout, config: "{}\n", clearCooldowns: ["compat"] }));
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out.trim().split("\n").at(-1)!)).toEqual({ cooldownsCleared: [{ db, providers: ["compat"] }] });
    expect(cooldowns(db)).toEqual([]);
    const bad = await run(JSON.stringify({ layout, config: "{}\n", clearCooldowns: ["../x"] }));
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("clearCooldowns");
  }, 30_000);
});
