/**
 * Event-loop watchdog: while the gateway is ready, read the event-loop block of its `/readyz`
 * (gateway-readyz.ts) every EVENT_LOOP_SAMPLE_MS. Upstream operators report gateways whose event
 * loop stalls for seconds to minutes (upstream #96622, #99681, #144460): the process lives, the
 * port is open, and replies crawl or stop. A `health` RPC answered between two stalls passes the
 * liveness probe; this watchdog sees the stalls themselves.
 *
 * - Lag: every sample through EVENT_LOOP_SUSTAIN_MS shows a delay p99 at or above
 *   EVENT_LOOP_WARN_MS (OpenClaw's own `event_loop_delay` threshold is 1000 ms): /health
 *   `gateway:event-loop` warns and the status report says degraded. Nothing is restarted.
 * - Stall: every sample through EVENT_LOOP_SUSTAIN_MS shows a block of EVENT_LOOP_STALL_MS or
 *   more (its largest delay, or /readyz unanswered within EVENT_LOOP_STALL_MS), with the gateway
 *   answering in between: it is restarted, cause `stall`, once per gateway generation.
 * - Silence (every sample unanswered): that is a hang, and the liveness probe restarts it (cause
 *   `hang`); this watchdog only reports it, so one stall is one restart. Both name the generation
 *   they judged, and the supervisor drops a restart asked for a generation no longer running.
 *
 * Startup: nothing is sampled until hello-ok, each generation starts an empty window, and no
 * verdict comes before a whole window of samples: OpenClaw's CPU pressure right after a boot
 * (`degraded: true, reasons: ["cpu"]`, p99 ~250-400 ms on 2 cores) never alarms. A single sample
 * never does either. The gateway's own `cpu` and `degraded` flags are not used.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { ReadyzReading } from "./gateway-readyz.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** One sample. `at`: when the read began (ms, monotonic). Delays in ms. */
export type EventLoopSample =
  | { at: number; kind: "answered"; delayP99Ms: number; delayMaxMs: number }
  /** /readyz gave no answer within EVENT_LOOP_STALL_MS: the loop was blocked at least that long. */
  | { at: number; kind: "unanswered" };

/** Thresholds, all ms (EVENT_LOOP_WARN_MS, EVENT_LOOP_STALL_MS, EVENT_LOOP_SUSTAIN_MS). */
export type EventLoopPolicy = { warnMs: number; stallMs: number; sustainMs: number };

/** The verdict on the samples. `sinceAt`: when the condition's first sample began (ms, monotonic). */
export type EventLoopVerdict =
  | { kind: "ok" }
  | { kind: "lagging"; sinceAt: number; p99Ms: number }
  | { kind: "stalled"; sinceAt: number; worstMs: number }
  | { kind: "unresponsive"; sinceAt: number };

const isStall = (s: EventLoopSample, p: EventLoopPolicy) => s.kind === "unanswered" || s.delayMaxMs >= p.stallMs;
const isLag = (s: EventLoopSample, p: EventLoopPolicy) => isStall(s, p) || (s.kind === "answered" && s.delayP99Ms >= p.warnMs);

/** The newest samples that all satisfy `pred` (oldest first); empty when the newest does not. */
function trailing(samples: readonly EventLoopSample[], pred: (s: EventLoopSample) => boolean): EventLoopSample[] {
  let i = samples.length;
  while (i > 0 && pred(samples[i - 1]!)) i--;
  return samples.slice(i);
}

/**
 * The verdict on the samples of one gateway generation (oldest first) at `nowMs` (monotonic).
 * Pure. A condition counts once its samples cover the whole window: its first sample began at
 * least `sustainMs` before `nowMs` and every later one shows it. Stalls are judged first (a
 * stall is also lag), then lag; see the module comment for what each leads to.
 */
export function eventLoopVerdict(samples: readonly EventLoopSample[], policy: EventLoopPolicy, nowMs: number): EventLoopVerdict {
  const covered = (run: EventLoopSample[]) => run.length > 1 && nowMs - run[0]!.at >= policy.sustainMs;
  const stalls = trailing(samples, (s) => isStall(s, policy));
  if (covered(stalls)) {
    const answered = stalls.filter((s) => s.kind === "answered");
    if (answered.length === 0) return { kind: "unresponsive", sinceAt: stalls[0]!.at };
    return { kind: "stalled", sinceAt: stalls[0]!.at, worstMs: Math.max(...answered.map((s) => s.delayMaxMs)) };
  }
  const lags = trailing(samples, (s) => isLag(s, policy));
  if (covered(lags)) {
    const answered = lags.filter((s) => s.kind === "answered");
    return { kind: "lagging", sinceAt: lags[0]!.at, p99Ms: answered.length > 0 ? Math.max(...answered.map((s) => s.delayP99Ms)) : policy.stallMs };
  }
  return { kind: "ok" };
}

/** Key of the /health check. */
export const GATEWAY_EVENT_LOOP_CHECK = "gateway:event-loop";

/**
 * The /health check, pure: none before the first sample of a ready gateway; `pass` with the latest
 * delay p99 (ms; null when that read was unanswered); `warn` while lagging, stalled or
 * unresponsive, with the reason also given to the status report (degraded).
 * @param nowMs monotonic ms, for "for N s"
 */
export function eventLoopCheck(v: EventLoopVerdict, latest: EventLoopSample | undefined, policy: EventLoopPolicy, nowMs: number): WatchdogCheck | undefined {
  if (!latest) return undefined;
  const observed = latest.kind === "answered" ? { observedValue: latest.delayP99Ms, details: { delayMaxMs: latest.delayMaxMs } } : { observedValue: null, details: { answered: false } };
  const base = { key: GATEWAY_EVENT_LOOP_CHECK, componentType: "component" as const, observedUnit: "ms", ...observed };
  if (v.kind === "ok") return { ...base, status: "pass", output: null };
  const secs = Math.round((nowMs - v.sinceAt) / 1000);
  const [output, reason] =
    v.kind === "lagging"
      ? [`gateway event loop lagging: delay p99 up to ${Math.round(v.p99Ms)} ms (warns at ${policy.warnMs} ms) for ${secs} s`, `gateway event loop lagging (delay p99 ${Math.round(v.p99Ms)} ms for ${secs} s)`]
      : v.kind === "stalled"
        ? [`gateway event loop stalled: blocks of up to ${Math.round(v.worstMs)} ms (stall at ${policy.stallMs} ms) for ${secs} s; it is restarted (cause stall)`, `gateway event loop stalled (blocks up to ${Math.round(v.worstMs)} ms for ${secs} s); restarting it`]
        : [`gateway /readyz unanswered for ${secs} s: its event loop is blocked (the liveness probe restarts a hung gateway)`, `gateway not answering (event loop blocked for ${secs} s)`];
  return { ...base, status: "warn", output, degradedReason: reason };
}

/** Options of {@link EventLoopWatchdog}. Times are ms. */
export type EventLoopOptions = {
  /** The gateway process is ready (hello-ok) and which generation it is. */
  gateway: () => { ready: boolean; generation: number };
  /** One /readyz read with this timeout (gateway-readyz.ts `readGatewayReadyz`); never rejects. */
  probe: (timeoutMs: number) => Promise<ReadyzReading>;
  clock: Clock;
  log: Logger;
  /** EVENT_LOOP_SAMPLE_MS; 0 turns the watchdog off. */
  intervalMs: number;
  policy: EventLoopPolicy;
  /** The gateway of `generation` stalled: restart it (cause "stall"). Called once per generation. */
  onStall: (reason: string, generation: number) => void;
};

/** Samples the gateway's event loop and calls `onStall` on a sustained stall. */
export class EventLoopWatchdog implements Watchdog {
  readonly name = "event-loop";
  readonly #o: EventLoopOptions;
  #samples: EventLoopSample[] = [];
  #verdict: EventLoopVerdict = { kind: "ok" };
  #generation = -1;
  #stalledGeneration = -1;

  constructor(opts: EventLoopOptions) {
    this.#o = opts;
  }

  /** @inheritdoc */
  check(): WatchdogCheck | undefined {
    return eventLoopCheck(this.#verdict, this.#samples.at(-1), this.#o.policy, this.#o.clock.monotonic());
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs } = this.#o;
    if (intervalMs <= 0) return;
    while (!signal.aborted) {
      await clock.sleep(intervalMs, signal);
      if (signal.aborted) break;
      const g = this.#o.gateway();
      this.#follow(g.generation);
      if (!g.ready || this.#stalledGeneration === g.generation) continue;
      await this.sampleOnce(g.generation);
    }
  }

  /** Take one sample of generation `generation` and judge; exposed for tests. */
  async sampleOnce(generation: number): Promise<void> {
    const { clock, policy, log } = this.#o;
    this.#follow(generation);
    const at = clock.monotonic();
    const r = await this.#o.probe(policy.stallMs);
    if (r.kind === "error" || this.#generation !== generation) return; // not listening (it is restarting): no evidence
    const sample: EventLoopSample =
      r.kind === "timeout"
        ? { at, kind: "unanswered" }
        : // Without an eventLoop block (no window completed yet) the answer's own latency is all there is.
          { at, kind: "answered", delayP99Ms: r.eventLoop?.delayP99Ms ?? r.latencyMs, delayMaxMs: Math.max(r.eventLoop?.delayMaxMs ?? 0, r.latencyMs) };
    this.#samples.push(sample);
    const now = clock.monotonic();
    // Enough to judge a window: samples older than two windows are never looked at.
    this.#samples = this.#samples.filter((s) => s.at >= now - 2 * policy.sustainMs - policy.stallMs).slice(-1000);
    const before = this.#verdict.kind;
    this.#verdict = eventLoopVerdict(this.#samples, policy, now);
    const v = this.#verdict;
    if (v.kind !== before) {
      const c = this.check();
      if (v.kind === "ok") log.info({ generation }, "gateway event loop back to normal");
      else log.warn({ generation, verdict: v.kind, output: c?.output }, "gateway event loop check");
    }
    if (v.kind === "stalled" && this.#stalledGeneration !== generation) {
      this.#stalledGeneration = generation;
      this.#o.onStall(this.check()?.output ?? "gateway event loop stalled", generation);
    }
  }

  /** A new generation starts a new window. */
  #follow(generation: number): void {
    if (generation === this.#generation) return;
    this.#generation = generation;
    this.#samples = [];
    this.#verdict = { kind: "ok" };
  }
}
