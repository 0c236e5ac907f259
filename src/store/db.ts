/**
 * SQLite handle and schema migrations.
 *
 * One file under the data directory, WAL mode with `synchronous=FULL`: a committed turn or
 * result survives a `kill -9` of the daemon and a power cut. Migrations are an append-only list
 * applied in one transaction each, tracked by `PRAGMA user_version`.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** A better-sqlite3 database. */
export type Db = Database.Database;

/**
 * Append-only. Never edit a shipped entry; add a new one. Exported so tests can build a database
 * of an earlier schema (`MIGRATIONS.slice(0, v)`) and check that the upgrade keeps its data.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE turns (
     id TEXT PRIMARY KEY,
     source TEXT NOT NULL,
     client_key TEXT UNIQUE,
     conversation_id TEXT NOT NULL,
     session_key TEXT NOT NULL,
     message TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('accepted','delivering','done','failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     idempotency_key TEXT,
     run_id TEXT,
     gateway_generation INTEGER,
     reply TEXT,
     error_code TEXT,
     error_message TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     first_delivered_at INTEGER,
     deadline_at INTEGER,
     finished_at INTEGER
   );
   CREATE INDEX turns_state_created ON turns(state, created_at);
   CREATE INDEX turns_conversation ON turns(conversation_id, state, created_at);
   CREATE TABLE gateway_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     generation INTEGER NOT NULL,
     state TEXT NOT NULL,
     reason TEXT,
     pid INTEGER,
     exit_code INTEGER,
     signal TEXT
   );
   CREATE INDEX gateway_events_at ON gateway_events(at);
   CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 2: central turns. The lease a claimed turn is held under, and the result outbox: a finished
  // central turn whose reported_at is NULL is a result still to be acknowledged by the control
  // plane. Keeping the outbox in the turns row makes "finished" and "queued for report" one write.
  `ALTER TABLE turns ADD COLUMN lease_id TEXT;
   ALTER TABLE turns ADD COLUMN lease_expires_at INTEGER;
   ALTER TABLE turns ADD COLUMN lease_lost_at INTEGER;
   ALTER TABLE turns ADD COLUMN reported_at INTEGER;
   ALTER TABLE turns ADD COLUMN report_attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE turns ADD COLUMN next_report_at INTEGER;
   CREATE INDEX turns_outbox ON turns(source, reported_at, state);`,
  // 3: the gateway's RSS trend (memory watchdog), bounded by EventStore.recordRss.
  `CREATE TABLE rss_samples (at INTEGER NOT NULL, generation INTEGER NOT NULL, bytes INTEGER NOT NULL);
   CREATE INDEX rss_samples_at ON rss_samples(at);`,
  // 4: memory decay journal (src/workspace/decay-journal.ts). A plan is committed with all its
  // steps before any file moves; each step is marked once its effect is durable; a run left
  // 'running' by a crash is resumed. owner_pid + heartbeat_at make the run a lock.
  `CREATE TABLE decay_runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace_dir TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('running','done','partial')),
     plan_now_ms INTEGER NOT NULL,
     plan_today TEXT NOT NULL,
     owner_pid INTEGER NOT NULL,
     heartbeat_at INTEGER NOT NULL,
     started_at INTEGER NOT NULL,
     finished_at INTEGER
   );
   CREATE INDEX decay_runs_workspace_state ON decay_runs(workspace_dir, state);
   CREATE TABLE decay_steps (
     run_id INTEGER NOT NULL REFERENCES decay_runs(id) ON DELETE CASCADE,
     idx INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('rollup','archive','trash','purge')),
     step TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending','done','skipped','failed')),
     code TEXT,
     detail TEXT,
     finished_at INTEGER,
     PRIMARY KEY (run_id, idx)
   ) WITHOUT ROWID;`,
  // 5: turns are serialized per gateway session (TurnStore.deliverable), not per conversation.
  `CREATE INDEX turns_session ON turns(session_key, state, created_at);`,
  // 6: bounded history (issue 10). turn_counts holds the number of turns in each state, kept by
  // triggers, so TurnStore.counts (run on every submit, health snapshot and claim) reads four rows
  // instead of scanning a table that holds every finished turn; seeded from the rows already there.
  // turns_finished orders finished turns by age for the history pruner (store/history.ts).
  `CREATE TABLE turn_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO turn_counts (state, n)
     SELECT s.state, (SELECT COUNT(*) FROM turns WHERE turns.state = s.state)
       FROM (SELECT 'accepted' AS state UNION ALL SELECT 'delivering' UNION ALL SELECT 'done' UNION ALL SELECT 'failed') AS s;
   CREATE TRIGGER turn_counts_insert AFTER INSERT ON turns
   BEGIN UPDATE turn_counts SET n = n + 1 WHERE state = NEW.state; END;
   CREATE TRIGGER turn_counts_delete AFTER DELETE ON turns
   BEGIN UPDATE turn_counts SET n = n - 1 WHERE state = OLD.state; END;
   CREATE TRIGGER turn_counts_update AFTER UPDATE OF state ON turns WHEN OLD.state IS NOT NEW.state
   BEGIN
     UPDATE turn_counts SET n = n - 1 WHERE state = OLD.state;
     UPDATE turn_counts SET n = n + 1 WHERE state = NEW.state;
   END;
   CREATE INDEX turns_finished ON turns(finished_at) WHERE state IN ('done', 'failed');`,
  // token usage (issue 13). Each turn's usage as the gateway reported it (NULL when unknown), and
  // token_usage_days: per UTC day (YYYY-MM-DD of finished_at) the tokens of the turns that finished
  // that day, kept by a trigger in the same transaction as the verdict, so the daily budget reads
  // one row, survives restarts and is not lowered when the history pruner deletes turns.
  `ALTER TABLE turns ADD COLUMN usage_input INTEGER;
   ALTER TABLE turns ADD COLUMN usage_output INTEGER;
   ALTER TABLE turns ADD COLUMN usage_cache_read INTEGER;
   ALTER TABLE turns ADD COLUMN usage_cache_write INTEGER;
   ALTER TABLE turns ADD COLUMN usage_provider TEXT;
   ALTER TABLE turns ADD COLUMN usage_model TEXT;
   CREATE TABLE token_usage_days (
     day TEXT PRIMARY KEY,
     input INTEGER NOT NULL DEFAULT 0,
     output INTEGER NOT NULL DEFAULT 0,
     cache_read INTEGER NOT NULL DEFAULT 0,
     cache_write INTEGER NOT NULL DEFAULT 0,
     turns INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID;
   CREATE TRIGGER token_usage_days_finish AFTER UPDATE OF state ON turns
   WHEN NEW.state IN ('done', 'failed') AND OLD.state NOT IN ('done', 'failed') AND NEW.usage_input IS NOT NULL AND NEW.finished_at IS NOT NULL
   BEGIN
     INSERT INTO token_usage_days (day, input, output, cache_read, cache_write, turns)
       VALUES (strftime('%Y-%m-%d', NEW.finished_at / 1000, 'unixepoch'), NEW.usage_input, NEW.usage_output, NEW.usage_cache_read, NEW.usage_cache_write, 1)
       ON CONFLICT (day) DO UPDATE SET input = input + excluded.input, output = output + excluded.output,
         cache_read = cache_read + excluded.cache_read, cache_write = cache_write + excluded.cache_write, turns = turns + 1;
   END;`,
  // The audit trail (issue 13; store/audit.ts): every action the daemon takes on the host. `id` is
  // the idempotency key when shipped to the control plane, `seq` the order; append-only: the
  // trigger refuses any UPDATE but setting shipped_at once. Only retention deletes (audit-retention.ts).
  `CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     at INTEGER NOT NULL,
     actor TEXT NOT NULL CHECK (actor IN ('daemon','operator','control-plane')),
     action TEXT NOT NULL,
     cause TEXT NOT NULL,
     detail TEXT NOT NULL DEFAULT '{}',
     shipped_at INTEGER
   );
   CREATE INDEX audit_events_at ON audit_events(at);
   CREATE INDEX audit_events_unshipped ON audit_events(seq) WHERE shipped_at IS NULL;
   CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
   WHEN OLD.shipped_at IS NOT NULL OR NEW.shipped_at IS NULL
     OR NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
     OR NEW.action IS NOT OLD.action OR NEW.cause IS NOT OLD.cause OR NEW.detail IS NOT OLD.detail
   BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: only shipped_at may be set, once'); END;`,
];

/**
 * Run `write`, one autocommit statement outside any transaction, with `synchronous = NORMAL` for
 * that commit only, then set `FULL` again (also when `write` throws). The commit does not wait
 * for the disk (no fsync, about 0.5 ms less on this project's machine kind, several ms at its p99).
 * In WAL mode such a commit survives a crash of the process (`kill -9`) at once, because the WAL
 * frames are in the OS page cache; only a power cut or kernel crash before the next `FULL` commit
 * may undo it (that commit's fsync of the WAL makes the earlier frames durable too). The database
 * stays consistent either way. Source: SQLite, "PRAGMA synchronous" ("WAL mode is always
 * consistent with synchronous=NORMAL, but WAL mode does lose durability") and "Write-Ahead
 * Logging". Only for writes whose loss in a power cut the caller tolerates (a hint).
 * @returns what `write` returns. @throws what `write` throws
 */
export function commitWithoutFsync<T>(db: Db, write: () => T): T {
  if (db.inTransaction) return write(); // the enclosing transaction decides when and how it commits
  db.pragma("synchronous = NORMAL");
  try {
    return write();
  } finally {
    db.pragma("synchronous = FULL");
  }
}

/** Schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The daemon's busy timeout (ms). better-sqlite3 is synchronous, so SQLite's busy wait blocks the
 * whole event loop (the local API, heartbeats, liveness): while another process holds the write
 * lock, a long wait would freeze the daemon. Every daemon write is retried with backoff by its
 * loop instead (write-faults.ts), so a short wait suffices for the short transactions of the CLI.
 */
export const DAEMON_BUSY_TIMEOUT_MS = 250;

/** Options for {@link openDb}. */
export type OpenDbOptions = {
  /** A loaded better-sqlite3 addon (`module.exports` of the `.node` file), for the single executable. */
  nativeBinding?: unknown;
  /** How long a write waits for another connection's write lock before SQLITE_BUSY (ms); default 5000 (CLI commands). */
  busyTimeoutMs?: number;
};

/**
 * Open (creating if needed) the database at `path` and migrate it to {@link SCHEMA_VERSION}.
 * @throws SqliteError if the file is unreadable or the disk is full; Error if the file was
 *   written by a newer build (its user_version is above ours), so we never corrupt it.
 */
export function openDb(path: string, options: OpenDbOptions = {}): Db {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
  const db = new Database(path, options.nativeBinding ? { nativeBinding: options.nativeBinding as string } : {});
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  try {
    switchToWal(db, busyTimeoutMs);
  } catch (err) {
    db.close();
    throw err;
  }
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  migrate(db);
  return db;
}

/**
 * `PRAGMA journal_mode = WAL`, retried on SQLITE_BUSY for up to `timeoutMs` (ms) with 5-20 ms
 * sleeps. The switch of a new file needs its exclusive lock, and SQLite does not call the busy
 * handler for a lock upgrade that could deadlock (two connections each holding SHARED and
 * wanting more: https://www.sqlite.org/c3ref/busy_handler.html), so several processes opening
 * one new file at once get "database is locked" at once, whatever busy_timeout says. A file
 * already in WAL mode is read without a write lock, so the loop only ever runs on first creation.
 * @throws SqliteError (SQLITE_BUSY) if the lock stays held past `timeoutMs`, or any other error.
 */
function switchToWal(db: Db, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (db.pragma("journal_mode", { simple: true }) === "wal") return;
      db.pragma("journal_mode = WAL");
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY" || Date.now() >= deadline) throw err;
      Atomics.wait(SLEEPER, 0, 0, 5 + Math.floor(Math.random() * 15));
    }
  }
}

/** A never-signalled cell for Atomics.wait: a synchronous sleep while the database opens. */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    db.close();
    throw new Error(
      `database schema version ${current} is newer than this build supports (${MIGRATIONS.length}); upgrade agent-supervisor`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    // IMMEDIATE takes the write lock first and user_version is read again under it: another
    // process opening the same file at once (the daemon and a CLI command) may have applied
    // this step meanwhile, and running it twice fails ("table ... already exists").
    db.transaction(() => {
      if ((db.pragma("user_version", { simple: true }) as number) > v) return;
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
