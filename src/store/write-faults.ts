/**
 * Failed SQLite writes, seen in one place. Any write can fail (`SQLITE_FULL` on a full disk,
 * `SQLITE_IOERR` on a failing device, `SQLITE_BUSY` while another process holds the write lock
 * longer than the busy timeout). The stores report the outcome of every write to a
 * {@link WriteObserver}; {@link WriteFaults} keeps the sites failing now for /health and the
 * metrics, and {@link untilWritten} is the retry loop the daemon's loops use for a write that must
 * land (a turn's verdict, the start of a delivery).
 *
 * A site is one write method of a store (`turns.complete`, `central.extendLease`, ...). It stops
 * failing when a write there succeeds, or when a write elsewhere succeeded after its last failure
 * and {@link WRITE_FAULT_SETTLE_MS} have passed since that failure (a site only its caller retries,
 * like a local submit, must not keep /health failing after the disk was freed and the daemon went
 * idle; a site retried with backoff fails again well within that time, so it stays).
 */
import type { Logger } from "pino";
import { backoffDelay } from "../core/backoff.ts";
import type { Clock } from "../core/clock.ts";

/** Told the outcome of each write (see the module comment). Must not throw. */
export interface WriteObserver {
  failed(site: string, err: unknown): void;
  succeeded(site: string): void;
}

/**
 * Run `write` (one store write at `site`) and tell `observer` how it went.
 * @throws whatever `write` throws (after telling the observer)
 */
export function observeWrite<T>(observer: WriteObserver | undefined, site: string, write: () => T): T {
  if (observer === undefined) return write();
  let out: T;
  try {
    out = write();
  } catch (err) {
    observer.failed(site, err);
    throw err;
  }
  observer.succeeded(site);
  return out;
}

/** A write site failing now. Times are epoch ms. */
export type WriteFault = {
  /** The store method, e.g. `turns.complete`. */
  site: string;
  /** SQLite's extended result code (`SQLITE_FULL`, `SQLITE_BUSY`, ...), else the error's code or name. */
  code: string;
  message: string;
  /** First failure of this episode. */
  since: number;
  /** Latest failure. */
  lastAt: number;
  /** Failures in this episode. */
  failures: number;
};

/** Writes elsewhere must succeed this long after a site's last failure to clear it (ms). */
export const WRITE_FAULT_SETTLE_MS = 120_000;

/** The code of a failed write: better-sqlite3's SqliteError carries SQLite's in `code`. */
export function writeErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code !== "") return code;
  return err instanceof Error ? err.name : "UNKNOWN";
}

/** True for an error of SQLite itself (better-sqlite3's SqliteError: `code` starts with `SQLITE_`). */
export function isStoreError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_");
}

/** The sites failing now (see the module comment). */
export class WriteFaults implements WriteObserver {
  readonly #now: () => number;
  readonly #settleMs: number;
  readonly #onFailure: ((fault: WriteFault, err: unknown) => void) | undefined;
  readonly #onRecovered: ((fault: WriteFault) => void) | undefined;
  readonly #faults = new Map<string, WriteFault>();
  /** The latest successful write anywhere (epoch ms). */
  #lastSuccessAt = Number.NEGATIVE_INFINITY;

  /**
   * @param o.now epoch ms
   * @param o.settleMs default {@link WRITE_FAULT_SETTLE_MS}
   * @param o.onFailure called on every failure (metrics); must not throw
   * @param o.onRecovered called when a site stops failing (a log line); must not throw
   */
  constructor(o: { now: () => number; settleMs?: number; onFailure?: (fault: WriteFault, err: unknown) => void; onRecovered?: (fault: WriteFault) => void }) {
    this.#now = o.now;
    this.#settleMs = o.settleMs ?? WRITE_FAULT_SETTLE_MS;
    this.#onFailure = o.onFailure;
    this.#onRecovered = o.onRecovered;
  }

  /** @inheritdoc */
  failed(site: string, err: unknown): void {
    const at = this.#now();
    const prior = this.#faults.get(site);
    const fault: WriteFault = {
      site,
      code: writeErrorCode(err),
      message: err instanceof Error ? err.message : String(err),
      since: prior?.since ?? at,
      lastAt: at,
      failures: (prior?.failures ?? 0) + 1,
    };
    this.#faults.set(site, fault);
    this.#onFailure?.(fault, err);
  }

  /** @inheritdoc */
  succeeded(site: string): void {
    if (this.#faults.size === 0) return;
    this.#lastSuccessAt = this.#now();
    const f = this.#faults.get(site);
    if (f) this.#recovered(f);
  }

  /** The sites failing now, the longest-failing first (settled ones are dropped here; see the module comment). */
  current(): WriteFault[] {
    const at = this.#now();
    for (const f of this.#faults.values()) {
      if (this.#lastSuccessAt > f.lastAt && at - f.lastAt >= this.#settleMs) this.#recovered(f);
    }
    return [...this.#faults.values()].sort((a, b) => a.since - b.since);
  }

  #recovered(f: WriteFault): void {
    this.#faults.delete(f.site);
    this.#onRecovered?.(f);
  }
}

/** Backoff of {@link untilWritten}: 0.5 s doubling to 30 s (below the settle time, so a site retried there stays visible). */
export const WRITE_RETRY = { initialMs: 500, maxMs: 30_000 } as const;

/**
 * Run `write` until it succeeds, pausing with backoff and jitter ({@link WRITE_RETRY}) after each
 * failure, each logged at warn with `site`. For writes that must land: a turn's verdict, the
 * start of a delivery.
 * @returns what `write` returned, or undefined if `signal` aborted first
 */
export async function untilWritten<T>(
  site: string,
  write: () => T,
  o: { clock: Clock; random: () => number; log: Logger; signal: AbortSignal; fields?: Record<string, unknown> },
): Promise<T | undefined> {
  for (let attempt = 0; !o.signal.aborted; attempt++) {
    try {
      return write();
    } catch (err) {
      const delayMs = backoffDelay(attempt, WRITE_RETRY, o.random);
      o.log.warn({ ...o.fields, site, code: writeErrorCode(err), err: (err as Error)?.message, retryInMs: delayMs }, "SQLite write failed; retrying");
      await o.clock.sleep(delayMs, o.signal);
    }
  }
  return undefined;
}
