/**
 * What the gateway supervisor (supervisor.ts) is given: its timing policy and its collaborators,
 * injected by the daemon (daemon/assemble.ts).
 */
import type { Logger } from "pino";
import type { AuditLog } from "../core/audit.ts";
import type { Clock } from "../core/clock.ts";
import type { SpawnFn } from "../core/os-process.ts";
import type { EventStore } from "../store/events.ts";
import type { LaunchSpec } from "./child.ts";
import type { BackoffPolicy, BreakerPolicy } from "./restart-policy.ts";
import type { SupervisorSnapshot } from "./state.ts";

/** Timing policy, all in milliseconds. */
export type SupervisorPolicy = BackoffPolicy & {
  /** Time from spawn to hello-ok before the child is killed and restarted. */
  startupTimeoutMs: number;
  /** Time from SIGTERM to SIGKILL. */
  stopGraceMs: number;
};

/** Collaborators, injected by the daemon (daemon/assemble.ts). */
export type SupervisorDeps = {
  spawn: SpawnFn;
  clock: Clock;
  random: () => number;
  log: Logger;
  events: EventStore;
  policy: SupervisorPolicy;
  /** Where the running child's pid is kept, to reap it if this daemon is killed. */
  pidFile: string;
  /** Called before every spawn: sweep /tmp, write config, resolve the runtime. May throw. */
  prepare: (generation: number) => Promise<LaunchSpec>;
  /** Values to scrub from the child's output lines. */
  secrets: () => readonly string[];
  /** The crash-loop circuit breaker; without it only the backoff applies. */
  breaker?: BreakerPolicy;
  /**
   * Run `openclaw doctor --fix --yes --non-interactive` against the same state and environment
   * (docs/gateway/embedding.md) after the gateway exits 78 (EX_CONFIG), scrubbing `secrets` (those
   * of {@link SupervisorDeps.secrets}) from its output. Resolves with its exit code.
   */
  doctor?: (spec: LaunchSpec, secrets: readonly string[]) => Promise<number | null>;
  /**
   * The current version of the launch inputs (GatewayLaunch.inputsVersion). A gateway that becomes
   * ready on a spec with an older `inputsVersion` is restarted once (cause rotation): a rotation
   * stored while it was being prepared or spawned found no running gateway to restart.
   */
  inputsVersion?: () => number;
  /** The runtime's OpenClaw version, for the newer-config message. */
  openclawVersion?: string | null;
  /**
   * The audit trail: every start, stop, restart decision, hold and doctor run of the gateway, with
   * its cause (core/audit.ts). Default: none.
   */
  audit?: AuditLog;
  /** Notified on every state change (main wires the connection and systemd here). */
  onState?: (snapshot: SupervisorSnapshot) => void;
};

