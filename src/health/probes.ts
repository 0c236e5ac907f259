/** Liveness and readiness decisions, pure (the `/livez` and `/readyz` routes only serialize them). */
import type { HealthSnapshot } from "./ports.ts";
import type { Readyz } from "./wire.ts";

/**
 * Is the daemon's own loop alive? Alive when `snapshot.loopTickAt` is at most `staleMs` (ms) before `nowMs`.
 * @returns `alive` and the tick's age in ms (negative ages, from clock steps, count as alive)
 */
export function assessLiveness(
  snapshot: Pick<HealthSnapshot, "loopTickAt">,
  nowMs: number,
  staleMs: number,
): { alive: boolean; loopTickAgeMs: number } {
  const loopTickAgeMs = nowMs - snapshot.loopTickAt;
  return { alive: loopTickAgeMs <= staleMs, loopTickAgeMs };
}

/**
 * Can the daemon deliver turns now? Ready when the gateway process is `ready`, its connection is
 * up and the daemon is not draining; otherwise `reason` says which (draining first, as it is final).
 */
export function assessReadiness(snapshot: HealthSnapshot): Readyz {
  if (snapshot.draining) return { ready: false, reason: "draining: agent-supervisor is shutting down" };
  const g = snapshot.gateway;
  if (g.state !== "ready") return { ready: false, reason: `gateway is ${g.state}${g.reason ? `: ${g.reason}` : ""}` };
  const c = snapshot.connection;
  if (!c.connected) return { ready: false, reason: `gateway connection is down${c.lastError ? `: ${c.lastError}` : ""}` };
  return { ready: true, reason: null };
}
