/**
 * Processes opening the same new database at once (the daemon starting while
 * `agent-supervisor openclaw install` records its audit entry, as the e2e global setup did):
 * all must end with the migrated schema.
 * - Before the first fix the second one's migration failed with "table ... already exists":
 *   user_version was read outside the migration's transaction.
 * - Before the second fix one of them failed with "database is locked" on `journal_mode = WAL`:
 *   SQLite does not call the busy handler for a lock upgrade that could deadlock, so the switch
 *   to WAL of a new file by several connections at once fails at once instead of waiting.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { SCHEMA_VERSION } from "../../src/store/db.ts";

const dir = mkdtempSync(join(tmpdir(), "as-migrate-race-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DB_MODULE = resolve(import.meta.dirname, "..", "..", "src", "store", "db.ts");
const PROCESSES = 4;
const ROUNDS = 30;
const ROUND_GAP_MS = 150;

/**
 * A child process that, for round i, opens `race-<i>.db` with openDb at `atMs + i * ROUND_GAP_MS`
 * (epoch ms) and prints one line per round: `ok <i>` or `fail <i> <error>`.
 */
function child(atMs: number): Promise<string> {
  const script = `const { openDb } = await import(${JSON.stringify(DB_MODULE)});
    for (let i = 0; i < ${ROUNDS}; i++) {
      while (Date.now() < ${atMs} + i * ${ROUND_GAP_MS}) {}
      try { openDb(${JSON.stringify(dir)} + "/race-" + i + ".db").close(); console.log("ok " + i); }
      catch (e) { console.log("fail " + i + " " + String(e)); }
    }`;
  const proc = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((r) => proc.once("close", (code) => r(code === 0 ? out : `${out}exit ${code}: ${err}`)));
}

it("processes migrating one new database at the same instant all succeed", async () => {
  const at = Date.now() + 2000; // every child has loaded better-sqlite3 by then
  const outputs = await Promise.all(Array.from({ length: PROCESSES }, () => child(at)));
  const lines = outputs.flatMap((o) => o.trim().split("\n"));
  expect(lines.filter((l) => !l.startsWith("ok "))).toEqual([]);
  expect(lines).toHaveLength(PROCESSES * ROUNDS);
  for (let i = 0; i < ROUNDS; i++) {
    const db = new Database(join(dir, `race-${i}.db`), { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  }
}, 120_000);
