/**
 * The reference control plane's SQLite database: schema and open. A file path keeps state across
 * restarts (WAL); ":memory:" is a fresh, private database. Times are stored as epoch ms.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** A better-sqlite3 handle. */
export type CpDb = Database.Database;

/** Append-only migrations, tracked by `PRAGMA user_version`. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runtimes (
     runtime_id TEXT PRIMARY KEY,
     account_id TEXT NOT NULL,
     registered_at INTEGER NOT NULL
   );
   CREATE TABLE turns (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     account_id TEXT NOT NULL,
     pinned_runtime_id TEXT,
     conversation_id TEXT NOT NULL,
     session_key TEXT,
     agent_id TEXT,
     message TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued','leased','done','failed','cancelled')),
     attempt INTEGER NOT NULL DEFAULT 0,
     lease_id TEXT,
     lease_runtime_id TEXT,
     lease_expires_at INTEGER,
     result_kind TEXT CHECK (result_kind IN ('complete','fail')),
     reply TEXT,
     error_code TEXT,
     error_message TEXT,
     result_attempts INTEGER,
     result_finished_at TEXT,
     result_received_at INTEGER,
     enqueued_at INTEGER NOT NULL,
     cancelled_at INTEGER
   );
   CREATE INDEX turns_claim ON turns(account_id, state, seq);
   CREATE TABLE leases (
     lease_id TEXT PRIMARY KEY,
     turn_id TEXT NOT NULL,
     runtime_id TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     claimed_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     heartbeats INTEGER NOT NULL DEFAULT 0,
     ended_at INTEGER,
     end_reason TEXT
   );
   CREATE INDEX leases_turn ON leases(turn_id, attempt);
   CREATE TABLE reports (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     turn_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     lease_id TEXT NOT NULL,
     runtime_id TEXT NOT NULL,
     outcome TEXT NOT NULL,
     body TEXT NOT NULL,
     received_at INTEGER NOT NULL
   );
   CREATE INDEX reports_turn ON reports(turn_id, id);
   CREATE TABLE status_reports (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     runtime_id TEXT NOT NULL,
     body TEXT NOT NULL,
     received_at INTEGER NOT NULL
   );
   CREATE INDEX status_reports_runtime ON status_reports(runtime_id, id);
   CREATE TABLE secrets (
     runtime_id TEXT PRIMARY KEY,
     version INTEGER NOT NULL,
     providers TEXT,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE skills (
     account_id TEXT PRIMARY KEY,
     version INTEGER NOT NULL,
     skills TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );`,
  // 2: the token usage a complete report carries (contract turnUsageSchema, JSON), shown in the admin view.
  `ALTER TABLE turns ADD COLUMN result_usage TEXT;`,
  // 3: runtimes' audit trails (store_audit.ts), one row per event id (the idempotency key).
  `CREATE TABLE audit_events (
     id TEXT PRIMARY KEY,
     runtime_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     at TEXT NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     cause TEXT NOT NULL,
     detail TEXT NOT NULL,
     received_at INTEGER NOT NULL
   );
   CREATE INDEX audit_events_runtime ON audit_events(runtime_id, seq);`,
  // 4: the runtime's gateway settings beside its secrets (contract secretsSchema.gateway, JSON; issue 14).
  `ALTER TABLE secrets ADD COLUMN gateway TEXT;`,
];

/**
 * Open (creating if needed) the database at `path` and bring its schema up to date.
 * @param path a file (its directory is created, mode 0700) or ":memory:"
 * @throws SqliteError if the file cannot be opened; Error if it was written by a newer schema
 */
export function openControlPlaneDb(path: string): CpDb {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  if (path !== ":memory:") db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    db.close();
    throw new Error(`control-plane database ${path} has schema ${current}, newer than this build (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}
