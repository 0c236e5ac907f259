/**
 * What the version change needs from the running daemon (issue 14): a hold that keeps the
 * supervisor from starting the gateway, the gateway's last output lines (its own error lines
 * for `upgrade failed: ...`), and the health gate a new version must pass.
 */
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import type { Clock } from "../core/clock.ts";
import type { SpawnFn } from "../core/os-process.ts";
import { sanitizeLine } from "../supervisor/child.ts";
import type { SupervisorSnapshot } from "../supervisor/state.ts";
import { PROBE_SESSION_KEY } from "../watchdogs/probe-turn.ts";
import type { GateResult } from "./upgrade.ts";

/** How often the gate and the stop look at the supervisor (ms). */
export const UPGRADE_POLL_MS = 250;

/**
 * Keeps the gateway from starting: the supervisor's `prepare` awaits {@link wait} before every
 * start, so a closed hold parks the supervisor loop there (its state `starting`, no process).
 */
export class GatewayHold {
  #closed = false;
  #waiting = 0;
  #release: Array<() => void> = [];

  /** Resolves at once while open; otherwise when {@link open} is called. */
  async wait(): Promise<void> {
    if (!this.#closed) return;
    this.#waiting += 1;
    await new Promise<void>((r) => this.#release.push(r));
    this.#waiting -= 1;
  }

  /** Park the next start. */
  close(): void {
    this.#closed = true;
  }

  /** Let parked and later starts go on. */
  open(): void {
    this.#closed = false;
    for (const r of this.#release.splice(0)) r();
  }

  /** Whether a start is parked here now. */
  get parked(): boolean {
    return this.#waiting > 0;
  }
}

/**
 * The last `max` output lines (stdout and stderr, sanitized) of the latest gateway process: a
 * `spawn` wrapper that reads the child's pipes beside the supervisor (readline on the same
 * stream; both get every chunk). A new gateway process starts an empty tail.
 */
export class OutputTail {
  #lines: string[] = [];
  readonly #max: number;
  readonly #secrets: () => readonly string[];

  /** @param max lines kept; @param secrets values scrubbed from each line */
  constructor(max: number, secrets: () => readonly string[]) {
    this.#max = max;
    this.#secrets = secrets;
  }

  /** A `spawn` that records the output of gateway processes (`... gateway run ...`). */
  wrap(spawn: SpawnFn): SpawnFn {
    return (cmd, args, opts) => {
      const child = spawn(cmd, args, opts);
      if (args.includes("gateway")) {
        this.#lines = [];
        for (const stream of [child.stdout, child.stderr]) {
          if (!stream) continue;
          createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
            if (line.trim() === "") return;
            this.#lines.push(sanitizeLine(line, this.#secrets()));
            if (this.#lines.length > this.#max) this.#lines.shift();
          });
        }
      }
      return child;
    };
  }

  /** The lines kept, oldest first. */
  lines(): string[] {
    return [...this.#lines];
  }
}

/** What the health gate reads and calls. */
export type GatePorts = {
  clock: Clock;
  supervisor: () => SupervisorSnapshot;
  /** The gateway connection is up (hello-ok). */
  connected: () => boolean;
  /** One request over the gateway connection (GatewayConnection.request fits). */
  request: <T>(method: string, params: unknown, opts: { expectFinal?: boolean; timeoutMs: number }) => Promise<T>;
  tail: () => string[];
  /** UPGRADE_HEALTH_DEADLINE_MS. */
  deadlineMs: number;
  /** LIVENESS_TIMEOUT_MS. */
  livenessTimeoutMs: number;
  /** When PROBE_TURN_INTERVAL_MS > 0: the probe message and its timeout (ms). */
  probe?: { message: string; timeoutMs: number } | undefined;
};

/**
 * The health gate after a switch: hello-ok (the supervisor `ready` and the connection up), then
 * the liveness RPC (`health`), then, with the probe turn enabled, one real turn in the daemon's
 * probe session answered `ok`; all within `deadlineMs`. A gateway that exits or is held on the
 * way fails at once. Never throws.
 */
export async function healthGate(g: GatePorts): Promise<GateResult> {
  const start = g.clock.monotonic();
  const left = () => g.deadlineMs - (g.clock.monotonic() - start);
  const fail = (reason: string): GateResult => ({ ok: false, reason, lines: g.tail() });
  // A backoff or hold entered from now on is the new gateway's (one left from before is older).
  const since = g.clock.now();
  for (;;) {
    const s = g.supervisor();
    if (s.state === "ready" && g.connected()) break;
    if ((s.state === "backoff" || s.state === "failed") && s.since >= since) return fail(`the new gateway did not start: ${s.reason ?? s.state}`);
    if (left() <= 0) return fail(`no hello-ok within ${g.deadlineMs} ms (gateway ${s.state}: ${s.reason ?? ""})`);
    await g.clock.sleep(Math.min(UPGRADE_POLL_MS, left()));
  }
  try {
    await g.request("health", {}, { timeoutMs: Math.max(1, Math.min(g.livenessTimeoutMs, left())) });
  } catch (err) {
    return fail(`liveness: the health RPC failed: ${(err as Error).message}`);
  }
  if (g.probe) {
    const params = { message: g.probe.message, sessionKey: PROBE_SESSION_KEY, idempotencyKey: `agent-supervisor-upgrade-${randomUUID()}` };
    try {
      const res = await g.request<{ status?: unknown } | null>("agent", params, { expectFinal: true, timeoutMs: Math.max(1, Math.min(g.probe.timeoutMs, left())) });
      if (res?.status !== "ok") return fail(`probe turn: the run ended with status ${String(res?.status)}`);
    } catch (err) {
      return fail(`probe turn: ${(err as Error).message}`);
    }
  }
  return { ok: true };
}

/**
 * Stop the gateway for a change and keep it stopped: close the hold, ask for a restart (cause
 * `upgrade`) while a process runs, until the supervisor is parked at the hold or holds no
 * process in backoff/failed. The supervisor's own stop escalates to SIGKILL after its grace.
 */
export async function stopAndHold(o: { hold: GatewayHold; clock: Clock; supervisor: () => SupervisorSnapshot; requestRestart: () => void }): Promise<void> {
  o.hold.close();
  for (;;) {
    const s = o.supervisor();
    if (o.hold.parked) return;
    if (s.pid === null && (s.state === "backoff" || s.state === "failed")) return;
    if (s.pid !== null && (s.state === "ready" || s.state === "starting")) o.requestRestart();
    await o.clock.sleep(UPGRADE_POLL_MS);
  }
}
