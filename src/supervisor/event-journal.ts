/**
 * The supervisor's state writes on their way to SQLite (store/events.ts): its state events and
 * the gateway generation counter. A write the store refuses (a full disk, an I/O error, a lock
 * held elsewhere) loses no event: it is kept in memory, behind it every later one, and all are
 * written in order once the store takes writes again, retried with backoff (store/write-faults.ts
 * WRITE_RETRY); the counter is written after them. At most {@link MAX_UNWRITTEN_EVENTS} are kept;
 * beyond that the oldest are dropped and the count is logged.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { EventStore, NewGatewayEvent } from "../store/events.ts";
import { untilWritten, writeErrorCode } from "../store/write-faults.ts";

/** State events kept in memory while the store refuses writes. */
export const MAX_UNWRITTEN_EVENTS = 1_000;

/** Records events, holding back and retrying those the store refuses (see the module comment). */
export class EventJournal {
  readonly #events: Pick<EventStore, "record" | "setValue">;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #log: Logger;
  /** Refused events, oldest first, and how many were dropped beyond the bound. */
  readonly #unwritten: NewGatewayEvent[] = [];
  #dropped = 0;
  /** The generation counter still to be written, if any. */
  #generation: number | undefined;
  /** Set while a retry loop runs. */
  #retry: AbortController | undefined;
  #running: AbortSignal | undefined;

  constructor(events: Pick<EventStore, "record" | "setValue">, clock: Clock, random: () => number, log: Logger) {
    this.#events = events;
    this.#clock = clock;
    this.#random = random;
    this.#log = log;
  }

  /** Retries may run until `signal` aborts or {@link stop}. Without it, refused events wait for the next record(). */
  start(signal: AbortSignal): void {
    this.#running = signal;
  }

  /** No more retries; events still refused are logged as lost. */
  stop(): void {
    this.#running = undefined;
    this.#retry?.abort();
    if (this.#unwritten.length + this.#dropped > 0 || this.#generation !== undefined) {
      this.#log.error({ unwritten: this.#unwritten.length, dropped: this.#dropped, generation: this.#generation }, "gateway events could not be written before stopping; they are lost");
    }
  }

  /** Append `e` behind any refused before. Never throws. */
  record(e: NewGatewayEvent): void {
    this.#unwritten.push(e);
    if (this.#unwritten.length > MAX_UNWRITTEN_EVENTS) {
      this.#unwritten.shift();
      this.#dropped += 1;
    }
    this.#write();
  }

  /** Store `generation` as the `gateway.generation` counter (after any held-back event). Never throws. */
  setGeneration(generation: number): void {
    this.#generation = generation;
    this.#write();
  }

  #write(): void {
    if (this.#retry !== undefined) return;
    try {
      this.#flush();
    } catch (err) {
      this.#log.error({ code: writeErrorCode(err), err: (err as Error).message, unwritten: this.#unwritten.length }, "cannot record gateway events or the generation (SQLite write failed); retrying");
      void this.#retryLoop();
    }
  }

  /** Write the held-back events in order, then the counter. @throws SqliteError (what was written stays written) */
  #flush(): void {
    while (this.#unwritten.length > 0) {
      this.#events.record(this.#unwritten[0]!);
      this.#unwritten.shift();
    }
    if (this.#generation !== undefined) {
      this.#events.setValue("gateway.generation", String(this.#generation));
      this.#generation = undefined;
    }
    if (this.#dropped > 0) this.#log.warn({ dropped: this.#dropped }, "gateway events were dropped while the store refused writes");
    this.#dropped = 0;
  }

  /** Retry {@link #flush} with backoff (untilWritten) until it succeeds or the run ends. Never rejects. */
  async #retryLoop(): Promise<void> {
    const running = this.#running;
    if (running === undefined || running.aborted) return;
    const stop = (this.#retry = new AbortController());
    const signal = AbortSignal.any([running, stop.signal]);
    try {
      await untilWritten("events.record", () => this.#flush(), { clock: this.#clock, random: this.#random, log: this.#log, signal });
    } finally {
      if (this.#retry === stop) this.#retry = undefined;
    }
  }
}
