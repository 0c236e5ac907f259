/**
 * Typed errors. Every error the daemon raises on purpose extends {@link SupervisorError} and
 * carries a stable `code`; callers branch on `code`, never on message text. `main.ts` maps
 * codes to process exit codes (sysexits.h: 78 EX_CONFIG, 69 EX_UNAVAILABLE, 75 EX_TEMPFAIL,
 * 70 EX_SOFTWARE).
 */

/** Base class: `code` is stable API, `message` is for humans. */
export class SupervisorError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Invalid or unreadable configuration. Exit code 78 (EX_CONFIG). */
export class ConfigError extends SupervisorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_CONFIG", message, options);
  }
}

/** A required external resource (registry, runtime, port) is unavailable. Exit code 69 (EX_UNAVAILABLE). */
export class UnavailableError extends SupervisorError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Not done yet, but nothing is broken: the work goes on (or can be retried) and may succeed later,
 * e.g. a turn still running when the CLI stops waiting for it. Exit code 75 (EX_TEMPFAIL).
 */
export class TempFailError extends SupervisorError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * sysexits.h codes used by the CLI (BSD sysexits(3)): 64 EX_USAGE, 69 EX_UNAVAILABLE,
 * 70 EX_SOFTWARE (internal error), 75 EX_TEMPFAIL (try again later), 78 EX_CONFIG.
 */
export const EXIT = { OK: 0, SOFTWARE: 70, UNAVAILABLE: 69, TEMPFAIL: 75, CONFIG: 78, USAGE: 64 } as const;

/** Map any thrown value to a process exit code: by error class, 70 (EX_SOFTWARE) for anything else. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError) return EXIT.CONFIG;
  if (err instanceof UnavailableError) return EXIT.UNAVAILABLE;
  if (err instanceof TempFailError) return EXIT.TEMPFAIL;
  return EXIT.SOFTWARE;
}

/** The turn queue is at TURN_QUEUE_LIMIT. HTTP 503 with Retry-After. */
export class QueueFullError extends SupervisorError {
  constructor(limit: number) {
    super("ERR_QUEUE_FULL", `turn queue is full (${limit} turns waiting); retry later`);
  }
}

/**
 * The day's token budget is used up and TOKEN_BUDGET_ACTION is `refuse`: no new local turn until
 * the next UTC day. HTTP 429 with `Retry-After: retryAfterS` (seconds to the next UTC midnight).
 */
export class BudgetExceededError extends SupervisorError {
  readonly retryAfterS: number;
  /** @param used tokens counted today, `limit` TOKEN_BUDGET_DAILY, `retryAfterS` seconds until the budget resets */
  constructor(used: number, limit: number, retryAfterS: number) {
    super("ERR_BUDGET_EXCEEDED", `the daily token budget is used up (${used} of ${limit} tokens today); new turns are refused until it resets at midnight UTC`);
    this.retryAfterS = retryAfterS;
  }
}

/** The daemon is draining for shutdown and takes no new turns. HTTP 503. */
export class DrainingError extends SupervisorError {
  constructor() {
    super("ERR_DRAINING", "agent-supervisor is shutting down and accepts no new turns");
  }
}

/** The disk holding the data directory is full (SQLITE_FULL / ENOSPC). HTTP 507. */
export class StorageFullError extends SupervisorError {
  constructor(cause: unknown) {
    super("ERR_STORAGE_FULL", "the data directory's disk is full; the turn was not accepted", { cause });
  }
}

/**
 * The turn store cannot be used now (SQLITE_BUSY: another process holds the write lock;
 * SQLITE_IOERR: the device failed; ...) and nothing was stored. HTTP 503 with Retry-After.
 */
export class StorageUnavailableError extends SupervisorError {
  /** @param sqliteCode SQLite's extended result code, e.g. `SQLITE_BUSY` */
  constructor(sqliteCode: string, cause: unknown) {
    super("ERR_STORAGE_UNAVAILABLE", `the turn store is unavailable now (${sqliteCode}); nothing was changed; retry later`, { cause });
  }
}
