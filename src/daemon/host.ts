/**
 * What the daemon takes from the process it runs in, handed over by main.ts (the only module
 * that touches `process`): the environment, time, randomness, child processes, the network and
 * signals. Tests of the daemon's parts pass their own.
 */
import type { Clock } from "../core/clock.ts";
import type { SpawnFn } from "../core/os-process.ts";

/** The process's services (see the module comment). */
export type Host = {
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** Returns [0, 1); Math.random in production. */
  random: () => number;
  spawn: SpawnFn;
  fetch: typeof fetch;
  /** Our uid (the gateway's too when it runs as the daemon's user, without GATEWAY_USER). */
  uid: number;
  /**
   * How to run this program again: its executable and the arguments before a command (the
   * hidden `sweep-tmp` run as the gateway's user). Absent: sweeps as another user are refused.
   */
  self?: { command: string; args: string[] };
  /** The process's stdin (the hidden `gateway-files` reads its request there). */
  stdin?: () => AsyncIterable<Buffer | string>;
  /** Set the process umask (process.umask). Absent: left as it is. */
  setUmask?: (mask: number) => void;
  /** Call `handler` on every delivery of `signal`. */
  onSignal: (signal: NodeJS.Signals, handler: (signal: NodeJS.Signals) => void) => void;
  /** End the process at once with `code` (a second stop signal). */
  exit: (code: number) => void;
  /**
   * Call `handler` for every promise rejection nobody handled (Node's `unhandledRejection`),
   * instead of the process crashing; the daemon logs it and goes on. Absent: Node's default.
   */
  onUnhandledRejection?: (handler: (reason: unknown) => void) => void;
};
