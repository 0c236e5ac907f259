/**
 * The provider credential watchdog (issue 12, failure mode 3; upstream openclaw#23516, #70903):
 * checks every configured provider's key with a call that costs no tokens (provider-probe.ts) at
 * start, after every key rotation ({@link ProviderCredentialsWatchdog.recheck}) and every
 * `intervalMs`, and hears about finished turns ({@link ProviderCredentialsWatchdog.noteTurn}), so
 * that a key revoked mid-day shows between checks. Its `/health` check is `provider:auth`; a
 * refused key fails it and makes the status report `degraded` naming the provider and status
 * (provider-verdict.ts). It repairs nothing itself: clearing the gateway's stale cooldown on a
 * rotation is part of the gateway's launch (supervisor/auth-cooldown.ts).
 *
 * It never talks to the gateway, so the gateway's startup window changes nothing for it.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import type { ProviderEndpoint } from "../supervisor/gateway-config.ts";
import type { ProviderReading } from "./provider-probe.ts";
import { providersCheck, readingVerdict, turnEvidence, turnProvider, type ProviderState, type ProviderVerdict } from "./provider-verdict.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** The soonest a failed turn triggers another check after the last one (ms): a burst of failures costs one free call per 15 s at most. */
export const TURN_RECHECK_MIN_MS = 15_000;

/** Options of {@link ProviderCredentialsWatchdog}. Times are ms. */
export type ProviderCredentialsOptions = {
  /** The providers as the next gateway start will use them (keys from settings and the control plane). */
  endpoints: () => ProviderEndpoint[];
  /** One check (provider-probe.ts `probeProvider`). Never rejects. */
  probe: (ep: ProviderEndpoint) => Promise<ProviderReading>;
  /** Between checks; 0: only at start, after rotations and after failed turns. */
  intervalMs: number;
  clock: Clock;
  log: Logger;
  /** Called with each check's verdict (the `agent_supervisor_provider_check_total` counter). */
  onChecked?: (provider: string, verdict: ProviderVerdict) => void;
};

/** See the module comment. */
export class ProviderCredentialsWatchdog implements Watchdog {
  readonly name = "provider-credentials";
  readonly #o: ProviderCredentialsOptions;
  readonly #states = new Map<string, ProviderState>();
  #wake: (() => void) | undefined;
  #wanted = false;
  #lastCheckAt = Number.NEGATIVE_INFINITY;

  constructor(opts: ProviderCredentialsOptions) {
    this.#o = opts;
  }

  /** @inheritdoc */
  check(): WatchdogCheck | undefined {
    const configured = new Set(this.#o.endpoints().map((e) => e.provider));
    return providersCheck([...this.#states.values()].filter((s) => configured.has(s.provider)));
  }

  /** Check every provider again as soon as possible (after a key rotation). */
  recheck(): void {
    this.#wanted = true;
    this.#wake?.();
  }

  /**
   * A turn finished. A failure that says something about credentials (provider-verdict.ts
   * `turnEvidence`) is kept against its provider until a later successful turn or passing check,
   * and asks for a check (at most once per {@link TURN_RECHECK_MIN_MS}); a success clears it.
   */
  noteTurn(t: { state: string; errorCode: string | null; errorMessage: string | null }): void {
    const providers = this.#o.endpoints().map((e) => e.provider);
    if (t.state === "done") {
      for (const st of this.#states.values()) delete st.turn;
      return;
    }
    if (t.state !== "failed") return;
    const verdict = turnEvidence(t.errorCode, t.errorMessage);
    const provider = turnProvider(t.errorMessage, providers);
    if (!verdict || provider === undefined) return;
    const st = this.#state(provider);
    const first = st.turn === undefined;
    st.turn = { verdict, at: this.#o.clock.now() };
    if (first) this.#o.log.warn({ provider, reason: verdict.reason }, "a turn failed for the provider's credentials");
    if (this.#o.clock.monotonic() - this.#lastCheckAt >= TURN_RECHECK_MIN_MS) this.recheck();
  }

  /** Check every configured provider once (in parallel; each bounded by the probe's timeout). */
  async checkAll(): Promise<void> {
    const { clock, log, probe, onChecked } = this.#o;
    this.#lastCheckAt = clock.monotonic();
    await Promise.all(
      this.#o.endpoints().map(async (ep) => {
        const verdict = readingVerdict(await probe(ep));
        const st = this.#state(ep.provider);
        const before = st.check?.verdict;
        st.check = { verdict, at: clock.now() };
        if (verdict.status === "pass") delete st.turn;
        onChecked?.(ep.provider, verdict);
        if (before?.status !== verdict.status || before?.reason !== verdict.reason) {
          const line = { provider: ep.provider, status: verdict.status, reason: verdict.reason };
          if (verdict.status === "pass") log.info(line, "provider key checked");
          else log.warn(line, "provider key check did not pass");
        }
      }),
    );
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#wanted = false;
      await this.checkAll();
      if (this.#wanted) continue; // a rotation or failed turn during the check: its keys may be new
      await this.#sleepUntilDue(signal);
    }
  }

  /** Sleep `intervalMs`, or until {@link recheck}; with 0, only until then (a day at a time). */
  async #sleepUntilDue(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs } = this.#o;
    const woken = new AbortController();
    this.#wake = () => woken.abort();
    const until = AbortSignal.any([signal, woken.signal]);
    do await clock.sleep(intervalMs > 0 ? intervalMs : 86_400_000, until);
    while (intervalMs === 0 && !until.aborted);
    this.#wake = undefined;
  }

  #state(provider: string): ProviderState {
    let st = this.#states.get(provider);
    if (!st) this.#states.set(provider, (st = { provider }));
    return st;
  }
}
