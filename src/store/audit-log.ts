/**
 * The daemon's {@link AuditLog}: each entry gets its id (a UUID) and time when the action is
 * recorded, and goes to SQLite through {@link HeldWrites}, so an entry the store refuses is kept
 * in memory and written later, in order. Entries dropped past {@link MAX_UNWRITTEN_AUDIT} are
 * counted and recorded as an `audit.dropped` entry once the store takes writes again: never
 * silently lost. {@link openDirectAuditLog} is the CLI's: it writes the file at once (the daemon
 * may be down) and says so on stderr when it cannot.
 */
import { randomUUID } from "node:crypto";
import { chownSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import type { AuditInput, AuditLog } from "../core/audit.ts";
import type { Clock } from "../core/clock.ts";
import { auditEntry, AuditStore, redactAuditInput, type NewAuditEntry } from "./audit.ts";
import { openDb } from "./db.ts";
import { HeldWrites } from "./held-writes.ts";
import { writeErrorCode } from "./write-faults.ts";

/** Audit entries kept in memory while the store refuses writes. */
export const MAX_UNWRITTEN_AUDIT = 10_000;

/** Options of {@link AuditJournal}. */
export type AuditJournalOptions = {
  store: Pick<AuditStore, "append">;
  clock: Clock;
  random: () => number;
  log: Logger;
  /** Told of every recorded action (the `agent_supervisor_audit_events_total{action}` counter); must not throw. */
  onRecorded?: (e: NewAuditEntry) => void;
  /** Default randomUUID. */
  newId?: () => string;
  /** Every secret value the daemon knows now, replaced in each entry's cause and detail (redactAuditInput). */
  secrets?: () => readonly string[];
  /** Default {@link MAX_UNWRITTEN_AUDIT}. */
  max?: number;
};

/** The daemon's audit log (see the module comment). */
export class AuditJournal implements AuditLog {
  readonly #o: AuditJournalOptions;
  readonly #held: HeldWrites<NewAuditEntry>;

  constructor(o: AuditJournalOptions) {
    this.#o = o;
    this.#held = new HeldWrites<NewAuditEntry>({
      site: "audit.append",
      what: "audit entries",
      write: (e) => o.store.append(e),
      max: o.max ?? MAX_UNWRITTEN_AUDIT,
      clock: o.clock,
      random: o.random,
      log: o.log,
      onDropped: (dropped) => {
        o.log.error({ dropped }, "audit entries were dropped while the store refused writes");
        this.record({ actor: "daemon", action: "audit.dropped", cause: "SQLite refused writes longer than the in-memory bound", detail: { dropped } });
      },
    });
  }

  /** Entries held in memory now. */
  get pending(): number {
    return this.#held.pending;
  }

  /** Retries may run until `signal` aborts or {@link stop}. */
  start(signal: AbortSignal): void {
    this.#held.start(signal);
  }

  /** No more retries; entries still held are logged as lost (the daemon is stopping). */
  stop(): void {
    const { unwritten, dropped } = this.#held.stop();
    if (unwritten + dropped > 0) this.#o.log.error({ unwritten, dropped }, "audit entries could not be written before stopping; they are lost");
  }

  /** @inheritdoc */
  record(input: AuditInput): void {
    const e = auditEntry(redactAuditInput(input, this.#o.secrets?.() ?? []), (this.#o.newId ?? randomUUID)(), this.#o.clock.now());
    try {
      this.#o.onRecorded?.(e);
    } catch {
      // a metric must not cost an entry
    }
    this.#held.push(e);
  }
}

/** Options of {@link openDirectAuditLog}. */
export type DirectAuditOptions = {
  /** The daemon's database file (core/data-dir.ts); its directory must exist (it is never created here). */
  dbPath: string;
  /** Epoch ms. */
  now: () => number;
  /** One line to stderr. */
  writeErr: (line: string) => void;
  newId?: () => string;
  /** The single executable's SQLite addon (store/native.ts), if any. */
  nativeBinding?: unknown;
  /**
   * Run as root: give the database file and its -wal/-shm back to this owner (the data
   * directory's) after each write, so the daemon, running as its own user, can still open them.
   */
  chownTo?: { uid: number; gid: number } | undefined;
  /** Secret values the command knows (the settings' keys and tokens), replaced in each entry (redactAuditInput). */
  secrets?: readonly string[];
};

/** chown the database and its WAL sidecars to `to` (those that exist); for CLI commands run as root. */
export function chownDbFiles(dbPath: string, to: { uid: number; gid: number }): void {
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
    try {
      chownSync(f, to.uid, to.gid);
    } catch {
      // absent sidecar (checkpointed and removed at close)
    }
  }
}

/**
 * An audit log for one CLI command: each entry is written to the database file at `dbPath` at
 * once (opened and closed per entry: the command may run for minutes while the daemon writes).
 * A write that fails is reported on `writeErr` with the entry's action and cause, never thrown:
 * the command's own outcome is what counts.
 */
export function openDirectAuditLog(o: DirectAuditOptions): AuditLog {
  return {
    record(input) {
      const e = auditEntry(redactAuditInput(input, o.secrets ?? []), (o.newId ?? randomUUID)(), o.now());
      if (!existsSync(dirname(o.dbPath))) {
        o.writeErr(`agent-supervisor: ${e.action} (${e.cause}) is not recorded in the audit trail: the data directory ${dirname(o.dbPath)} does not exist yet`);
        return;
      }
      try {
        const db = openDb(o.dbPath, { nativeBinding: o.nativeBinding });
        try {
          new AuditStore(db).append(e);
        } finally {
          db.close();
          if (o.chownTo) chownDbFiles(o.dbPath, o.chownTo);
        }
      } catch (err) {
        o.writeErr(`agent-supervisor: could not record ${e.action} (${e.cause}) in the audit trail: ${writeErrorCode(err)}: ${(err as Error).message}`);
      }
    },
  };
}
