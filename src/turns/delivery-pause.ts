/**
 * Pauses of turn delivery as counted holds (issue 14). Two sequences pause delivery on their own:
 * a key/skills rotation or a memory restart (daemon/rotation.ts) and an OpenClaw version change
 * (daemon/upgrade.ts, from its drain to its health gate). A single paused flag let the first to
 * finish start delivery again in the middle of the other; here every pause is a hold of its own,
 * and delivery runs only while none is held.
 *
 * The API makes misuse hard: a pause hands back its own {@link DeliveryPause} whose `release` is
 * idempotent, so a release given twice, or one never taken, cannot free someone else's hold.
 */

/** One pause of delivery (TurnDelivery.pause): delivery starts again once every pause taken is released. */
export type DeliveryPause = {
  /** Turns still in flight when the pause's grace ended (they keep running; reconciled after a restart). */
  readonly left: number;
  /** Give this pause back. Idempotent: a second call does nothing. */
  release(): void;
};

/** The holds on delivery now; `onReleased` is called whenever one is given back (delivery may run again). */
export class PauseHolds {
  readonly #held = new Set<object>();
  readonly #onReleased: () => void;

  constructor(onReleased: () => void) {
    this.#onReleased = onReleased;
  }

  /** How many holds are outstanding (0: delivery may run). */
  get count(): number {
    return this.#held.size;
  }

  /** Take a hold. @returns its release (idempotent: only the first call gives the hold back) */
  take(): () => void {
    const token = {};
    this.#held.add(token);
    return () => {
      if (this.#held.delete(token)) this.#onReleased();
    };
  }
}

/**
 * A drain/resume pair over delivery's pauses, for a sequence that pauses at one step and resumes
 * at another, one pause at a time (the version change's `drain` / `resume` ports, daemon/upgrade.ts):
 * `drain` takes a pause and resolves with the turns still in flight after `graceMs` (ms);
 * `resume` gives it back (nothing when none is held, so a second `resume` is harmless). A
 * `drain` while one is held keeps one hold: the new one is taken before the old is given back.
 */
export function pausePorts(delivery: { pause(graceMs: number): Promise<DeliveryPause> }, graceMs: number): { drain: () => Promise<number>; resume: () => void } {
  let held: DeliveryPause | undefined;
  return {
    drain: async () => {
      const next = await delivery.pause(graceMs);
      held?.release();
      held = next;
      return next.left;
    },
    resume: () => {
      held?.release();
      held = undefined;
    },
  };
}
