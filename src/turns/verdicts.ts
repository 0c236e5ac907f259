/**
 * Writing a turn's verdict (its reply, or its failure) and the other writes a delivery job must
 * land: each is retried with backoff until it is written or the job's signal aborts
 * (store/write-faults.ts), so a job keeps its turn until the verdict is stored and no turn is left
 * `delivering` without a job. Used by delivery.ts.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { Turn, TurnStore } from "../store/turns.ts";
import type { TurnUsage } from "../store/usage.ts";
import { untilWritten } from "../store/write-faults.ts";

/** What {@link Verdicts} needs (a subset of DeliveryDeps). */
export type VerdictDeps = {
  turns: TurnStore;
  clock: Clock;
  random: () => number;
  log: Logger;
  /** Called once per turn when its verdict was written. */
  onFinished?: ((turn: Turn) => void) | undefined;
};

/** The verdict writer of the delivery jobs (see the module comment). */
export class Verdicts {
  readonly #d: VerdictDeps;

  constructor(deps: VerdictDeps) {
    this.#d = deps;
  }

  /**
   * Run `write` until it lands; undefined if `signal` aborted first. `retried`: an earlier attempt
   * threw (it may still have been committed, e.g. an I/O error reported after the commit).
   */
  write<T>(site: string, turnId: string, write: () => T, signal: AbortSignal): Promise<{ value: T; retried: boolean } | undefined> {
    const { clock, log, random } = this.#d;
    let attempts = 0;
    return untilWritten(site, () => ({ value: write(), retried: ++attempts > 1 }), { clock, random, log, signal, fields: { turnId } });
  }

  /**
   * Record the reply and the turn's token usage when the gateway reported it, retrying until it
   * lands or `signal` aborts (the turn is then reconciled later).
   */
  async complete(t: Turn, reply: string, signal: AbortSignal, usage?: TurnUsage): Promise<void> {
    const { turns, clock, log } = this.#d;
    const written = await this.write("turns.complete", t.id, () => turns.complete(t.id, reply, clock.now(), usage), signal);
    if (written?.value || (written?.retried && this.#landed(t.id, (x) => x.state === "done" && x.reply === reply))) {
      log.info({ turnId: t.id, conversationId: t.conversationId, attempts: t.attempts, usage }, "turn done");
      this.#finished(t.id);
    }
  }

  /** Record a failure with a stable code (and the tokens the failed run spent, if reported), retrying as {@link complete} does. */
  async fail(t: Turn, code: string, message: string, signal: AbortSignal, usage?: TurnUsage): Promise<void> {
    const { turns, clock, log } = this.#d;
    const written = await this.write("turns.fail", t.id, () => turns.fail(t.id, code, message, clock.now(), usage), signal);
    if (written?.value || (written?.retried && this.#landed(t.id, (x) => x.state === "failed" && x.errorCode === code && x.errorMessage === message))) {
      log.warn({ turnId: t.id, code, message }, "turn failed");
      this.#finished(t.id);
    }
  }

  /** After a retried write that changed nothing: did an attempt that reported failure land after all? */
  #landed(id: string, ours: (t: Turn) => boolean): boolean {
    try {
      const t = this.#d.turns.get(id);
      return t !== undefined && ours(t);
    } catch {
      return false;
    }
  }

  /** Tell the daemon a verdict was written; its callback's errors are logged, never the job's. */
  #finished(id: string): void {
    try {
      const t = this.#d.turns.get(id);
      if (t) this.#d.onFinished?.(t);
    } catch (err) {
      this.#d.log.error({ err, turnId: id }, "onFinished failed");
    }
  }
}
