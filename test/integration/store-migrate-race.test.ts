/**
 * Two processes opening the same new database at once (the daemon starting while
 * `agent-supervisor openclaw install` records its audit entry, as the e2e global setup did):
 * both must end with the migrated schema. Before the fix the second one's migration failed with
 * "table ... already exists": user_version was read outside the migration's transaction.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "as-migrate-race-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DB_MODULE = resolve(import.meta.dirname, "..", "..", "src", "store", "db.ts");

/** Open `path` with openDb in a child process at `atMs` (epoch ms); its exit code and stderr. */
function openIn(path: string, atMs: number): Promise<{ code: number | null; stderr: string }> {
  const script = `const { openDb } = await import(${JSON.stringify(DB_MODULE)});
    while (Date.now() < ${atMs}) {}
    openDb(${JSON.stringify(path)}).close();`;
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.once("close", (code) => r({ code, stderr })));
}

it("two processes migrating one new database at the same instant both succeed", async () => {
  const failures: string[] = [];
  for (let round = 0; round < 8; round++) {
    const path = join(dir, `race-${round}.db`);
    const at = Date.now() + 1500; // both children have loaded better-sqlite3 by then
    const results = await Promise.all([openIn(path, at), openIn(path, at), openIn(path, at)]);
    for (const r of results) if (r.code !== 0) failures.push(r.stderr.split("\n").find((l) => l.includes("Error")) ?? r.stderr);
  }
  expect(failures).toEqual([]);
}, 120_000);
