/** Shared helpers for integration tests: temp dirs, a real SQLite file, an in-memory log sink. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Logger } from "pino";
import { createLogger } from "../../src/core/logger.ts";
import { openDb, type Db } from "../../src/store/db.ts";
import { EventStore } from "../../src/store/events.ts";
import { TurnStore } from "../../src/store/turns.ts";

/** Temp directories removed by {@link removeTempDirs}. Call that in afterEach. */
const dirs: string[] = [];

/** A fresh temp directory (under the OS temp dir), removed by {@link removeTempDirs}. */
export function tempDir(prefix = "as-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Remove every directory made by {@link tempDir}. */
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A real database file in a temp dir with both stores; `close()` closes the handle. */
export type TestDb = { path: string; db: Db; turns: TurnStore; events: EventStore; close(): void };

/** Open a real SQLite file in a fresh temp directory. */
export function openTestDb(): TestDb {
  const path = join(tempDir("as-db-"), "agent-supervisor.db");
  const db = openDb(path);
  return {
    path,
    db,
    turns: new TurnStore(db),
    events: new EventStore(db),
    close: () => {
      if (db.open) db.close();
    },
  };
}

/** A pino logger writing JSON lines into memory (pino's own tests use such a sink). */
export type LogSink = { log: Logger; lines: () => Record<string, unknown>[]; text: () => string };

/** The daemon's real logger (with its redaction) over an in-memory stream. */
export function memoryLogger(level = "trace"): LogSink {
  let buf = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  const log = createLogger(level, stream);
  return {
    log,
    text: () => buf,
    lines: () =>
      buf
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/**
 * Resolve when `cond()` is true, polling every `everyMs` (ms). Rejects with `what` after
 * `timeoutMs`. For waiting on other processes (no event to await); never used to assert speed.
 */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** True if a process with this pid exists (zombies included). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

/** SIGKILL a process group, ignoring "no such process". */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * True when `pid` no longer runs: no such process, or a zombie waiting for a parent that may
 * never reap it (a grandchild reparented to a PID 1 that does not wait()).
 */
export function processGone(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return !pidExists(pid);
  }
  return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}
