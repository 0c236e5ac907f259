/**
 * Writes that must not be lost when SQLite refuses them (a full disk, an I/O error, a lock held
 * elsewhere), generalised from the supervisor's event journal: an item the store refuses is kept
 * in memory, behind it every later one, and all are written in order once the store takes writes
 * again, retried with backoff (write-faults.ts {@link untilWritten}, WRITE_RETRY) while a run
 * signal is set. At most `max` items are kept; beyond that the oldest are dropped and counted, and
 * the count is handed to `onDropped` once the store takes writes again (the owner logs it or
 * records it as an entry of its own).
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import { untilWritten, writeErrorCode } from "./write-faults.ts";

/** Options of {@link HeldWrites}. */
export type HeldWritesOptions<T> = {
  /** The write site, for the retry's log lines (e.g. `events.record`, `audit.append`). */
  site: string;
  /** Write one item. @throws SqliteError when the store refuses it (it is kept and retried) */
  write: (item: T) => void;
  /** Runs after every flush that wrote all items (e.g. a counter written after the events). @throws like `write` */
  afterFlush?: () => void;
  /** Most items kept in memory; beyond it the oldest are dropped and counted. */
  max: number;
  clock: Clock;
  random: () => number;
  log: Logger;
  /** What is held, for log lines ("gateway events", "audit entries"). */
  what: string;
  /** Told how many items were dropped, once a flush after the drops succeeded. Must not throw. */
  onDropped?: (count: number) => void;
};

/** Items on their way to SQLite (see the module comment). */
export class HeldWrites<T> {
  readonly #o: HeldWritesOptions<T>;
  readonly #unwritten: T[] = [];
  #dropped = 0;
  #retry: AbortController | undefined;
  #running: AbortSignal | undefined;
  /** Set while {@link #flush} runs: an item pushed from inside it (by `onDropped`) is written by that flush. */
  #flushing = false;

  constructor(o: HeldWritesOptions<T>) {
    this.#o = o;
  }

  /** Items held now (refused, not yet written). */
  get pending(): number {
    return this.#unwritten.length;
  }

  /** Retries may run until `signal` aborts or {@link stop}. Without it, refused items wait for the next push. */
  start(signal: AbortSignal): void {
    this.#running = signal;
  }

  /**
   * No more retries, after one last synchronous try to write what is held (a lock held by a CLI
   * command when the daemon stops may be gone by now). @returns what is still held and what was
   * dropped (the owner logs them as lost)
   */
  stop(): { unwritten: number; dropped: number } {
    this.#running = undefined;
    this.#retry?.abort();
    if (this.#unwritten.length > 0 && !this.#flushing) {
      try {
        this.#flush();
      } catch {
        // still refused: reported as lost by the owner
      }
    }
    return { unwritten: this.#unwritten.length, dropped: this.#dropped };
  }

  /** Append `item` behind any held before and try to write them all. Never throws. */
  push(item: T): void {
    this.#unwritten.push(item);
    if (this.#unwritten.length > this.#o.max) {
      this.#unwritten.shift();
      this.#dropped += 1;
    }
    this.flush();
  }

  /** Try to write what is held (and `afterFlush`), unless a retry loop is already at it. Never throws. */
  flush(): void {
    if (this.#retry !== undefined || this.#flushing) return;
    try {
      this.#flush();
    } catch (err) {
      this.#o.log.error(
        { code: writeErrorCode(err), err: (err as Error).message, unwritten: this.#unwritten.length },
        `cannot record ${this.#o.what} (SQLite write failed); retrying`,
      );
      void this.#retryLoop();
    }
  }

  /**
   * Write the held items in order, then `afterFlush`, then report drops; items `onDropped` pushes
   * are written in the same call. @throws SqliteError (what was written stays written)
   */
  #flush(): void {
    this.#flushing = true;
    try {
      for (;;) {
        while (this.#unwritten.length > 0) {
          this.#o.write(this.#unwritten[0]!);
          this.#unwritten.shift();
        }
        this.#o.afterFlush?.();
        const dropped = this.#dropped;
        this.#dropped = 0;
        if (dropped > 0) this.#o.onDropped?.(dropped);
        if (this.#unwritten.length === 0) return;
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Retry {@link #flush} with backoff until it succeeds or the run ends. Never rejects. */
  async #retryLoop(): Promise<void> {
    const running = this.#running;
    if (running === undefined || running.aborted) return;
    const stop = (this.#retry = new AbortController());
    const signal = AbortSignal.any([running, stop.signal]);
    try {
      await untilWritten(this.#o.site, () => this.#flush(), { clock: this.#o.clock, random: this.#o.random, log: this.#o.log, signal });
    } finally {
      if (this.#retry === stop) this.#retry = undefined;
    }
  }
}
