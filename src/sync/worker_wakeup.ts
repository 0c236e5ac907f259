/** A sleep that another part of the daemon can cut short, without losing a wake that comes early. */
import type { Clock } from "../core/clock.ts";

/**
 * A one-slot wake-up flag. {@link wake} ends the current {@link sleep}, or, when nobody sleeps,
 * makes the next sleep return at once; any number of wakes in between coalesce into one.
 */
export class Wakeup {
  readonly #clock: Clock;
  #pending = false;
  #current: AbortController | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** End the current sleep, or the next one if none is running. */
  wake(): void {
    this.#pending = true;
    this.#current?.abort();
  }

  /**
   * Sleep `ms` milliseconds, until {@link wake} or until `signal` aborts. Never rejects.
   * @returns true if woken (or a wake was pending), false if the time ran out or the signal aborted
   */
  async sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.#pending) {
      this.#pending = false;
      return true;
    }
    if (signal.aborted) return false;
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    this.#current = ac;
    try {
      await this.#clock.sleep(Math.max(0, ms), ac.signal);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#current = undefined;
    }
    const woken = this.#pending;
    this.#pending = false;
    return woken;
  }
}
