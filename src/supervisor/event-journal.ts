/**
 * The supervisor's state writes on their way to SQLite (store/events.ts): its state events and
 * the gateway generation counter. A write the store refuses (a full disk, an I/O error, a lock
 * held elsewhere) loses no event: it is held in memory and written later, in order
 * (store/held-writes.ts); the counter is written after them. At most {@link MAX_UNWRITTEN_EVENTS}
 * are kept; beyond that the oldest are dropped and the count is logged.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { EventStore, NewGatewayEvent } from "../store/events.ts";
import { HeldWrites } from "../store/held-writes.ts";

/** State events kept in memory while the store refuses writes. */
export const MAX_UNWRITTEN_EVENTS = 1_000;

/** Records events, holding back and retrying those the store refuses (see the module comment). */
export class EventJournal {
  readonly #held: HeldWrites<NewGatewayEvent>;
  readonly #log: Logger;
  /** The generation counter still to be written, if any. */
  #generation: number | undefined;

  constructor(events: Pick<EventStore, "record" | "setValue">, clock: Clock, random: () => number, log: Logger) {
    this.#log = log;
    this.#held = new HeldWrites<NewGatewayEvent>({
      site: "events.record",
      what: "gateway events or the generation",
      write: (e) => events.record(e),
      afterFlush: () => {
        if (this.#generation === undefined) return;
        events.setValue("gateway.generation", String(this.#generation));
        this.#generation = undefined;
      },
      max: MAX_UNWRITTEN_EVENTS,
      clock,
      random,
      log,
      onDropped: (dropped) => log.warn({ dropped }, "gateway events were dropped while the store refused writes"),
    });
  }

  /** Retries may run until `signal` aborts or {@link stop}. Without it, refused events wait for the next record(). */
  start(signal: AbortSignal): void {
    this.#held.start(signal);
  }

  /** No more retries; events still refused are logged as lost. */
  stop(): void {
    const { unwritten, dropped } = this.#held.stop();
    if (unwritten + dropped > 0 || this.#generation !== undefined) {
      this.#log.error({ unwritten, dropped, generation: this.#generation }, "gateway events could not be written before stopping; they are lost");
    }
  }

  /** Append `e` behind any refused before. Never throws. */
  record(e: NewGatewayEvent): void {
    this.#held.push(e);
  }

  /** Store `generation` as the `gateway.generation` counter (after any held-back event). Never throws. */
  setGeneration(generation: number): void {
    this.#generation = generation;
    this.#held.flush();
  }
}
