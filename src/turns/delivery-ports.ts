/**
 * What turn delivery (delivery.ts) is configured with and talks to: its policy, the gateway
 * connection's port and its collaborators.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { Turn, TurnStore } from "../store/turns.ts";
import type { RunProgress } from "./run-progress.ts";

/** Limits, in milliseconds and counts. */
export type DeliveryPolicy = {
  /** Turns in flight at once. */
  concurrency: number;
  /** A turn's deadline, from its first delivery. */
  turnTimeoutMs: number;
  /** Sends of one turn before it fails with TOO_MANY_ATTEMPTS. */
  maxAttempts: number;
  /** Pause between transcript checks while a recovered turn is still running. */
  reconcilePollMs: number;
  /**
   * After a turn's deadline, how long to wait for the gateway to be reachable to read the
   * transcript before failing it with TURN_TIMEOUT (ms; default {@link EXPIRY_CHECK_MS}).
   */
  expiryCheckMs?: number;
  /**
   * How long the dispatcher sleeps when nothing wakes it (ms; default {@link IDLE_LOOK_MS}). Every
   * change that can let a turn start wakes it (`notify`: a submit, a claim, hello-ok, a released
   * pause or session, a finished job), so this look is only a safety net.
   */
  idleLookMs?: number;
};

/** Default {@link DeliveryPolicy.expiryCheckMs}: the gateway's default startup timeout (ms). */
export const EXPIRY_CHECK_MS = 240_000;

/**
 * Default {@link DeliveryPolicy.idleLookMs} (ms). It was 1 s, a wake-up a second on an idle daemon
 * (issue 15, goal 2: no timer that polls what could be an event).
 */
export const IDLE_LOOK_MS = 30_000;

/** While an abort waits to be sent again, or the turns left delivering to be read, the dispatcher looks this often (ms). */
export const RETRY_LOOK_MS = 1_000;

/** What delivery needs from the gateway connection. */
export type GatewayPort = {
  readonly ready: boolean;
  readonly generation: number;
  waitReady(signal: AbortSignal): Promise<void>;
  request<T>(
    method: string,
    params: unknown,
    opts?: { expectFinal?: boolean; timeoutMs?: number | null; onAccepted?: (payload: unknown) => void; signal?: AbortSignal },
  ): Promise<T>;
};

/**
 * A delivery slot reserved for one local turn that the caller commits straight into `delivering`
 * (TurnDelivery.reserve; TurnStore.insert with `start`). The caller ends it exactly once, before
 * it yields to the event loop: `launch` with the committed turn (its job starts sending it), or
 * `release` when the turn was not started (its session was busy, or the insert threw).
 */
export type DeliverySlot = {
  /** The deadline to commit: `now + timeoutMs` (ms), the policy's turn timeout. */
  readonly timeoutMs: number;
  launch(turn: Turn): void;
  release(): void;
};

/** Collaborators. */
export type DeliveryDeps = {
  turns: TurnStore;
  gateway: GatewayPort;
  clock: Clock;
  /** Returns [0, 1), for the jitter of write retries; default Math.random. */
  random?: () => number;
  log: Logger;
  policy: DeliveryPolicy;
  /** Called once per turn when it reaches `done` or `failed`. */
  onFinished?: (turn: Turn) => void;
  /** True while no turn may start in this session (e.g. it is being repaired); its turns wait. */
  sessionHeld?: (sessionKey: string) => boolean;
  /** Where in-flight runs and their progress are kept (shared with the stuck-run watchdog); default a private one. */
  progress?: RunProgress;
};
