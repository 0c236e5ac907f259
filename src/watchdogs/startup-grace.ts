/**
 * The gateway's startup window, which no probe may cut short (upstream openclaw/openclaw#74281:
 * an outside watchdog with a 5 s health check killed a gateway that needed 3-4 minutes to boot,
 * every 5 minutes, forever). Here the startup window is bounded by the supervisor's own
 * `GATEWAY_STARTUP_TIMEOUT_MS` alone; every other watchdog that can restart the gateway (liveness,
 * memory, event loop, probe turn, stuck runs) asks {@link startupGrace} first and only acts once it
 * says the window is over:
 * - while the gateway is not `ready` (spawned, waiting for hello-ok);
 * - for `graceMs` after it became ready (the first turn after a boot loads the agent runtime
 *   lazily, 3.5-9 s, and the gateway reports CPU pressure for its first seconds: OPENCLAW_FACTS);
 * - while an in-process restart the gateway announced (`shutdown` event with `restartExpectedMs`,
 *   docs/gateway/embedding.md) is under way: until hello-ok comes back, bounded by
 *   `restartExpectedMs + startupTimeoutMs`, then `graceMs` after it came back.
 */
import type { ShutdownAnnouncement } from "../gateway/connection.ts";

/** What the verdict reads. Times are epoch ms. */
export type StartupView = {
  /** The supervisor's state is `ready` (hello-ok seen for this generation). */
  ready: boolean;
  /** When the supervisor's state last changed (so: when it became ready, if ready). */
  since: number;
  /** The connection's latest shutdown announcement for this generation, or null. */
  announced: ShutdownAnnouncement | null;
};

/** The window's settings (ms). */
export type GracePolicy = { graceMs: number; startupTimeoutMs: number };

/** The verdict: `inGrace` true while no watchdog may restart the gateway, and why. */
export type GraceVerdict = { inGrace: boolean; why: string | null };

/**
 * Whether the gateway is still inside its startup window. Pure.
 * @param now epoch ms
 */
export function startupGrace(v: StartupView, now: number, policy: GracePolicy): GraceVerdict {
  if (!v.ready) return { inGrace: true, why: "starting (waiting for hello-ok)" };
  const a = v.announced;
  if (a !== null && a.restartExpectedMs !== null) {
    if (a.backAt === null && now < a.at + a.restartExpectedMs + policy.startupTimeoutMs) {
      return { inGrace: true, why: `restarting in process (announced: ${a.reason})` };
    }
    if (a.backAt !== null && now - a.backAt < policy.graceMs) {
      return { inGrace: true, why: `back from an announced restart ${now - a.backAt} ms ago` };
    }
  }
  if (now - v.since < policy.graceMs) return { inGrace: true, why: `ready for ${now - v.since} ms only` };
  return { inGrace: false, why: null };
}
