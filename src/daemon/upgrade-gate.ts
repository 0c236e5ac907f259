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
  /** One request over the gateway connection (GatewayConnection.request fits); `signal` cancels it. */
  request: <T>(method: string, params: unknown, opts: { expectFinal?: boolean; timeoutMs: number; signal?: AbortSignal }) => Promise<T>;
  tail: () => string[];
  /** UPGRADE_HEALTH_DEADLINE_MS: the whole gate, the stability period included. */
  deadlineMs: number;
  /** LIVENESS_TIMEOUT_MS. */
  livenessTimeoutMs: number;
  /** UPGRADE_STABLE_MS: how long the new gateway must stay up after its first answers (0: no period, no second health RPC). */
  stableMs: number;
  /** When PROBE_TURN_INTERVAL_MS > 0: the probe message and its timeout (ms). */
  probe?: { message: string; timeoutMs: number } | undefined;
  /** The daemon's stop: the gate then returns at once (the caller looks at the signal, not at the reason). */
  signal?: AbortSignal | undefined;
};

/** The reason {@link healthGate} gives when `signal` aborted it. */
export const GATE_STOPPING = "the daemon is stopping";

/**
 * The health gate after a switch, within `deadlineMs` in all:
 * 1. hello-ok: the supervisor `ready` and the connection up;
 * 2. the liveness RPC (`health`);
 * 3. with the probe turn enabled, one real turn in the daemon's probe session answered `ok`;
 * 4. the stability period: for `stableMs` the same process (the pid and generation seen at
 *    hello-ok) stays `ready` with the connection up, looked at every {@link UPGRADE_POLL_MS}; then a
 *    second `health` RPC. A gateway that crashes or is restarted seconds after its first answer
 *    (a late migration, a plugin that loads after hello-ok) thus fails here, not after the switch.
 * A gateway that exits or is held on the way fails at once. A period that no longer fits in what
 * is left of the deadline fails at once too (the deadline bounds the whole gate; the setting is
 * validated to be shorter than it, config/schema.ts). With `signal` aborted it returns at once
 * with {@link GATE_STOPPING}. Never throws.
 */
export async function healthGate(g: GatePorts): Promise<GateResult> {
  const start = g.clock.monotonic();
  const left = () => g.deadlineMs - (g.clock.monotonic() - start);
  const fail = (reason: string): GateResult => ({ ok: false, reason: g.signal?.aborted ? GATE_STOPPING : reason, lines: g.tail() });
  // A backoff or hold entered from now on is the new gateway's (one left from before is older).
  const since = g.clock.now();
  let first: SupervisorSnapshot;
  for (;;) {
    if (g.signal?.aborted) return fail(GATE_STOPPING);
    const s = g.supervisor();
    if (s.state === "ready" && g.connected()) {
      first = s;
      break;
    }
    if ((s.state === "backoff" || s.state === "failed") && s.since >= since) return fail(`the new gateway did not start: ${s.reason ?? s.state}`);
    if (left() <= 0) return fail(`no hello-ok within ${g.deadlineMs} ms (gateway ${s.state}: ${s.reason ?? ""})`);
    await g.clock.sleep(Math.min(UPGRADE_POLL_MS, left()), g.signal);
  }
  const health = async (): Promise<string | undefined> => {
    try {
      await g.request("health", {}, { timeoutMs: Math.max(1, Math.min(g.livenessTimeoutMs, left())), signal: g.signal });
      return undefined;
    } catch (err) {
      return `liveness: the health RPC failed: ${(err as Error).message}`;
    }
  };
  const firstHealth = await health();
  if (firstHealth !== undefined) return fail(firstHealth);
  if (g.probe) {
    const params = { message: g.probe.message, sessionKey: PROBE_SESSION_KEY, idempotencyKey: `agent-supervisor-upgrade-${randomUUID()}` };
    try {
      const res = await g.request<{ status?: unknown } | null>("agent", params, { expectFinal: true, timeoutMs: Math.max(1, Math.min(g.probe.timeoutMs, left())), signal: g.signal });
      if (res?.status !== "ok") return fail(`probe turn: the run ended with status ${String(res?.status)}`);
    } catch (err) {
      return fail(`probe turn: ${(err as Error).message}`);
    }
  }
  if (g.stableMs <= 0) return { ok: true };
  if (left() < g.stableMs) return fail(`the stability period (${g.stableMs} ms) does not fit in the ${Math.max(0, Math.round(left()))} ms left of the ${g.deadlineMs} ms deadline`);
  const why = await watchStable(g, first, g.clock.monotonic() + g.stableMs);
  if (why !== undefined) return fail(`the new gateway did not stay up for ${g.stableMs} ms: ${why}`);
  const secondHealth = await health();
  return secondHealth === undefined ? { ok: true } : fail(`after the stability period: ${secondHealth}`);
}

/**
 * Watch the gateway until the monotonic time `until` (ms): it must stay the process seen at
 * hello-ok (`first`: same pid and generation), `ready`, with the connection up.
 * @returns why it did not, or undefined when it did (or the signal aborted: the caller looks)
 */
async function watchStable(g: GatePorts, first: SupervisorSnapshot, until: number): Promise<string | undefined> {
  for (;;) {
    if (g.signal?.aborted) return GATE_STOPPING;
    const s = g.supervisor();
    if (s.pid !== first.pid || s.generation !== first.generation) {
      if (s.state === "ready") return `it was restarted (pid ${first.pid} -> ${s.pid}, generation ${first.generation} -> ${s.generation})`;
      return `it left ready (${s.state}: ${s.reason ?? ""})`;
    }
    if (s.state !== "ready") return `it left ready (${s.state}: ${s.reason ?? ""})`;
    if (!g.connected()) return "the connection to it dropped";
    const wait = until - g.clock.monotonic();
    if (wait <= 0) return undefined;
    await g.clock.sleep(Math.min(UPGRADE_POLL_MS, wait), g.signal);
  }
}

/**
 * Stop the gateway for a change and keep it stopped: close the hold, and ask for a restart (cause
 * `upgrade`) of a `ready` gateway, until the supervisor is parked at the hold or holds no process
 * in backoff/failed. The supervisor's own stop escalates to SIGKILL after its grace.
 *
 * A gateway `starting` with a process is never asked to stop: killing OpenClaw in the middle of
 * its boot can leave its gateway-lifecycle lease held in its state, and the next version's
 * migration then cannot run (`StateDatabaseCoordinatorContentionError`, exit 78). It is waited
 * for: once `ready` it is stopped here; if its startup times out (GATEWAY_STARTUP_TIMEOUT_MS) the
 * supervisor kills it itself and its next start parks at the (closed) hold.
 *
 * Returns as soon as `signal` aborts (the daemon is stopping; its supervisor stops the gateway),
 * the hold left closed: the caller looks at the signal.
 */
export async function stopAndHold(o: { hold: GatewayHold; clock: Clock; supervisor: () => SupervisorSnapshot; requestRestart: () => void; signal?: AbortSignal | undefined }): Promise<void> {
  o.hold.close();
  for (;;) {
    if (o.signal?.aborted) return;
    const s = o.supervisor();
    if (o.hold.parked) return;
    if (s.pid === null && (s.state === "backoff" || s.state === "failed")) return;
    if (s.pid !== null && s.state === "ready") o.requestRestart();
    await o.clock.sleep(UPGRADE_POLL_MS, o.signal);
  }
}
