/** In-memory fakes of the health server's dependencies (not of the server itself). */
import { SupervisorError } from "../../src/core/errors.ts";
import type { HealthSnapshot, TurnsPort, TurnView } from "../../src/health/ports.ts";

type Wait = { id: string; timeoutMs: number; settle: () => void };

/**
 * A TurnsPort over a Map. `waitFinished` parks until the test calls {@link FakeTurns.finish} or
 * {@link FakeTurns.expireWaits}, so long-poll tests need no sleeps.
 */
export class FakeTurns implements TurnsPort {
  readonly turns = new Map<string, TurnView>();
  readonly submitted: Parameters<TurnsPort["submit"]>[0][] = [];
  readonly waits: Wait[] = [];
  /** When set, `submit` throws it (QueueFullError, DrainingError, ...). */
  submitError: Error | undefined;
  #keys = new Map<string, string>();
  #seq = 0;
  #started: Wait[] = [];
  #seen = 0;
  #waitListeners: ((w: Wait) => void)[] = [];

  submit(input: Parameters<TurnsPort["submit"]>[0]): { turnId: string; created: boolean } {
    if (this.submitError) throw this.submitError;
    this.submitted.push(input);
    const prior = input.idempotencyKey === undefined ? undefined : this.#keys.get(input.idempotencyKey);
    if (prior !== undefined) return { turnId: prior, created: false };
    const turnId = `turn-${++this.#seq}`;
    if (input.idempotencyKey !== undefined) this.#keys.set(input.idempotencyKey, turnId);
    this.turns.set(turnId, {
      turnId,
      conversationId: input.conversationId,
      state: "accepted",
      reply: null,
      error: null,
      attempts: 0,
      createdAt: "2026-01-01T00:00:00.000Z",
      finishedAt: null,
    });
    return { turnId, created: true };
  }

  get(turnId: string): TurnView | undefined {
    return this.turns.get(turnId);
  }

  waitFinished(turnId: string, timeoutMs: number): Promise<TurnView | undefined> {
    return new Promise((resolve) => {
      const w: Wait = { id: turnId, timeoutMs, settle: () => resolve(this.get(turnId)) };
      this.waits.push(w);
      this.#started.push(w);
      const l = this.#waitListeners.shift();
      if (l) {
        this.#seen++;
        l(w);
      }
    });
  }

  /**
   * The next `waitFinished` call not yet returned by nextWait (i.e. the route is long-polling);
   * resolves at once if it already happened, so call order does not matter.
   */
  nextWait(): Promise<Wait> {
    const w = this.#started[this.#seen];
    if (w) {
      this.#seen++;
      return Promise.resolve(w);
    }
    return new Promise((resolve) => this.#waitListeners.push(resolve));
  }

  /** Mark a turn done and wake its waiters. */
  finish(turnId: string, reply: string): void {
    const t = this.turns.get(turnId);
    if (!t) throw new Error(`no turn ${turnId}`);
    this.turns.set(turnId, { ...t, state: "done", reply, attempts: 1, finishedAt: "2026-01-01T00:00:05.000Z" });
    this.#wake((w) => w.id === turnId);
  }

  /** Wake every waiter as if its timeout had passed. */
  expireWaits(): void {
    this.#wake(() => true);
  }

  #wake(pred: (w: Wait) => boolean): void {
    for (let i = this.waits.length - 1; i >= 0; i--) {
      const w = this.waits[i]!;
      if (pred(w)) {
        this.waits.splice(i, 1);
        w.settle();
      }
    }
  }
}

/** A healthy snapshot at `now`, with overrides merged one level deep. */
export function snapshot(now: number, o: SnapshotOverrides = {}): HealthSnapshot {
  return {
    loopTickAt: o.loopTickAt ?? now - 1000,
    gateway: {
      state: "ready",
      pid: 4242,
      since: now - 3_600_000,
      reason: null,
      generation: 3,
      restarts: 2,
      lastExit: { code: 1, signal: null, at: now - 3_700_000 },
      openclawVersion: "2026.9.6",
      ...o.gateway,
    },
    connection: { connected: true, since: now - 3_500_000, lastError: null, ...o.connection },
    queue: { accepted: 3, delivering: 1, done: 10, failed: 1, limit: 100, ...o.queue },
    draining: o.draining ?? false,
  };
}

/** Overrides for {@link snapshot}: each part is merged over the healthy default. */
export type SnapshotOverrides = {
  loopTickAt?: number;
  gateway?: Partial<HealthSnapshot["gateway"]>;
  connection?: Partial<HealthSnapshot["connection"]>;
  queue?: Partial<HealthSnapshot["queue"]>;
  draining?: boolean;
};

/** A store error with a given code, as the real TurnsPort would throw. */
export const storeError = (code: string, message = code) => new SupervisorError(code, message);

/** A fixed bearer token for tests; distinctive so a leak is easy to find. */
export const TOKEN = "tok_9f2c7e1a5b3d4c6e8f0a2b4c6d8e0f1a";
