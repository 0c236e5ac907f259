/** The provider credential watchdog's loop and evidence (issue 12), with fake timers and a fake probe. */
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import type { ProviderEndpoint } from "../../src/supervisor/gateway-config.ts";
import { ProviderCredentialsWatchdog, TURN_RECHECK_MIN_MS } from "../../src/watchdogs/provider-credentials.ts";
import type { ProviderReading } from "../../src/watchdogs/provider-probe.ts";

const COMPAT: ProviderEndpoint = { provider: "compat", baseUrl: "http://127.0.0.1:1/v1", apiKey: "sk-one" };
const ok: ProviderReading = { kind: "http", status: 200, message: null, retryAfterS: null, models: 1 };
const refused: ProviderReading = { kind: "http", status: 401, message: "Incorrect API key provided.", retryAfterS: null, models: null };
const AUTH_ERROR = "Authentication failed (provider returned HTTP 401). Your provider token may have expired";

function setup(o: { intervalMs?: number; readings?: Record<string, ProviderReading> } = {}) {
  const readings: Record<string, ProviderReading> = { "sk-one": ok, ...o.readings };
  let endpoints = [COMPAT];
  const probed: string[] = [];
  const checked: string[] = [];
  const w = new ProviderCredentialsWatchdog({
    endpoints: () => endpoints,
    probe: async (ep) => {
      probed.push(ep.apiKey);
      return readings[ep.apiKey] ?? ok;
    },
    intervalMs: o.intervalMs ?? 600_000,
    clock: systemClock,
    log: pino({ level: "silent" }),
    onChecked: (p, v) => checked.push(`${p}:${v.status}`),
  });
  return { w, probed, checked, readings, setEndpoints: (e: ProviderEndpoint[]) => (endpoints = e) };
}

describe("ProviderCredentialsWatchdog", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("checks at start, then every interval, and stops without a timer left", async () => {
    const { w, probed, checked } = setup({ intervalMs: 60_000 });
    const ac = new AbortController();
    const running = w.run(ac.signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(probed).toEqual(["sk-one"]);
    expect(w.check()).toMatchObject({ key: "provider:auth", status: "pass", output: null });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(probed).toHaveLength(2);
    expect(checked).toEqual(["compat:pass", "compat:pass"]);
    ac.abort();
    await running;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a refused key fails the check naming provider and status, and degrades the runtime", async () => {
    const { w } = setup({ readings: { "sk-one": refused } });
    await w.checkAll();
    expect(w.check()).toMatchObject({
      status: "fail",
      output: "provider compat: 401 invalid key (Incorrect API key provided.)",
      degradedReason: "provider compat: 401 invalid key (Incorrect API key provided.)",
    });
  });

  it("recheck() after a rotation checks the new key at once, with interval 0 too", async () => {
    const { w, probed, readings, setEndpoints } = setup({ intervalMs: 0, readings: { "sk-one": refused } });
    const ac = new AbortController();
    const running = w.run(ac.signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(w.check()?.status).toBe("fail");
    await vi.advanceTimersByTimeAsync(3 * 86_400_000);
    expect(probed).toEqual(["sk-one"]); // 0: no periodic check
    readings["sk-two"] = ok;
    setEndpoints([{ ...COMPAT, apiKey: "sk-two" }]);
    w.recheck();
    await vi.advanceTimersByTimeAsync(0);
    expect(probed).toEqual(["sk-one", "sk-two"]);
    expect(w.check()).toMatchObject({ status: "pass", output: null });
    expect(w.check()?.degradedReason).toBeUndefined();
    ac.abort();
    await running;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a turn refused for its key fails the check between checks and asks for one; a done turn clears it", async () => {
    const { w, probed } = setup();
    await w.checkAll();
    vi.advanceTimersByTime(TURN_RECHECK_MIN_MS);
    const wake = vi.spyOn(w, "recheck");
    w.noteTurn({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: AUTH_ERROR });
    expect(wake).toHaveBeenCalledTimes(1);
    expect(w.check()).toMatchObject({ status: "fail", degradedReason: `provider compat: 401 turns refused: ${AUTH_ERROR}` });
    // Within TURN_RECHECK_MIN_MS of the last check another failure asks for no second check.
    await w.checkAll();
    w.noteTurn({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: AUTH_ERROR });
    expect(wake).toHaveBeenCalledTimes(1);
    expect(probed).toHaveLength(2);
    // The passing check cleared the first turn's evidence; the second one stands until a done turn.
    expect(w.check()?.status).toBe("fail");
    w.noteTurn({ state: "done", errorCode: null, errorMessage: null });
    expect(w.check()).toMatchObject({ status: "pass", output: null });
  });

  it("a passing check clears a failed turn's evidence; other failures say nothing", async () => {
    const { w } = setup();
    w.noteTurn({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: 'Inline API key for provider "compat" is temporarily disabled after a provider auth/billing failure.' });
    expect(w.check()?.status).toBe("fail");
    await w.checkAll();
    expect(w.check()?.status).toBe("pass");
    w.noteTurn({ state: "failed", errorCode: "TURN_TIMEOUT", errorMessage: "no reply within 600000 ms" });
    w.noteTurn({ state: "failed", errorCode: "GATEWAY_RUN_FAILED", errorMessage: "Context overflow: prompt too large for the model." });
    expect(w.check()?.status).toBe("pass");
  });

  it("reports only providers still configured", async () => {
    const { w, setEndpoints } = setup({ readings: { "sk-one": refused } });
    await w.checkAll();
    expect(w.check()?.status).toBe("fail");
    setEndpoints([]);
    expect(w.check()).toBeUndefined();
  });
});
