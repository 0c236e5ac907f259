/**
 * A virtual clock for the idle-fleet simulation: the src/core/clock.ts Clock with time that moves
 * only when the simulation says so. Sleeps and scheduled callbacks sit in one min-heap; `runUntil`
 * fires them in time order, those within {@link QUANTUM_MS} of each other together, then lets the
 * promise chains they started run to their next sleep (macrotask rounds until a round schedules
 * nothing new).
 */
import type { Clock } from "../../src/core/clock.ts";

type Timer = { at: number; seq: number; fire: () => void; cancelled: boolean };

/** Wall-clock origin of virtual time 0 (epoch ms): 2026-11-30T00:00:00Z. */
export const EPOCH_MS = Date.UTC(2026, 10, 30);

/** Timers due within this many virtual ms of the earliest fire together (see runUntil). */
export const QUANTUM_MS = 5;

const immediate = () => new Promise<void>((r) => setImmediate(r));

/** Virtual time in ms from 0; `now()` is {@link EPOCH_MS} plus it. */
export class VirtualClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Timer[] = [];

  now(): number {
    return EPOCH_MS + this.#now;
  }

  monotonic(): number {
    return this.#now;
  }

  /** Resolve after `ms` virtual ms, or as soon as `signal` aborts. Never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        t.cancelled = true;
        resolve();
      };
      const t = this.#push(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Call `fn` after `ms` virtual ms. @returns a cancel function */
  at(ms: number, fn: () => void): () => void {
    const t = this.#push(ms, fn);
    return () => {
      t.cancelled = true;
    };
  }

  /** Fire every timer due up to `endMs` (virtual), in order; time then stands at `endMs`. */
  async runUntil(endMs: number): Promise<void> {
    for (;;) {
      await this.settle();
      const next = this.#heap[0];
      if (next === undefined || next.at > endMs) break;
      // Everything due within one quantum fires together, then runs on together: far fewer
      // settle rounds for a large fleet, at the cost of up to QUANTUM_MS of error per event.
      const horizon = Math.min(endMs, next.at + QUANTUM_MS);
      while (this.#heap[0] !== undefined && this.#heap[0].at <= horizon) {
        const t = this.#pop();
        this.#now = Math.max(this.#now, t.at);
        if (!t.cancelled) t.fire();
      }
    }
    this.#now = Math.max(this.#now, endMs);
  }

  /** Let started work run until a macrotask round schedules no new timer. */
  async settle(): Promise<void> {
    let seen;
    do {
      seen = this.#seq;
      await immediate();
      await immediate();
    } while (seen !== this.#seq);
  }

  #push(ms: number, fire: () => void): Timer {
    // As Node's setTimeout: a delay that is not a finite 32-bit count of ms becomes 1 ms.
    const delay = Number.isFinite(ms) && ms <= 2 ** 31 - 1 ? Math.max(0, ms) : 1;
    const t: Timer = { at: this.#now + delay, seq: this.#seq++, fire, cancelled: false };
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, t)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = t;
    return t;
  }

  #pop(): Timer {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
        if (less(last, h[c]!)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function less(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
