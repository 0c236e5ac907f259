/**
 * One read of the gateway's own readiness probe, `GET /readyz` on its loopback port, for the
 * event-loop block it gives local callers (openclaw docs/gateway/health.md, "CPU pressure and
 * event-loop delay"): the latest completed window of its event-loop sampler, ~1 s long (a block of
 * 1 s or more closes a window at once), with `delayP99Ms` and `delayMaxMs`. The probe needs no
 * auth; it answers 200 when ready and 503 otherwise, with the same `eventLoop` block either way.
 *
 * Read leniently: every field may be missing (no window has completed yet right after a start,
 * or a future version renames it), unknown fields are ignored, and a body that is not JSON is an
 * answer without a reading. Sent strictly: a plain GET, no body, no credentials.
 */
import { z } from "zod";
import type { Clock } from "../core/clock.ts";

/** The part of the gateway's `eventLoop` block the watchdog reads (ms). Source: openclaw 2026.9.6 GatewayEventLoopHealthSchema. */
export type GatewayEventLoop = {
  /** 99th percentile of the sampler's tick intervals in the window (ms; ~20 when idle). */
  delayP99Ms: number;
  /** Longest tick interval in the window (ms): the longest block of the event loop. */
  delayMaxMs: number;
  /** The gateway's own verdict and reasons (`event_loop_delay`, `event_loop_utilization`, `cpu`), when given. */
  degraded: boolean | null;
  reasons: string[];
};

const eventLoopSchema = z
  .object({
    delayP99Ms: z.number().nonnegative(),
    delayMaxMs: z.number().nonnegative(),
    degraded: z.boolean().optional().catch(undefined),
    reasons: z.array(z.string()).optional().catch(undefined),
  })
  .loose();

/** The event-loop block of a /readyz body, or null when there is none usable. Pure, never throws. */
export function parseReadyzEventLoop(body: unknown): GatewayEventLoop | null {
  if (typeof body !== "object" || body === null) return null;
  const parsed = eventLoopSchema.safeParse((body as { eventLoop?: unknown }).eventLoop);
  if (!parsed.success) return null;
  const e = parsed.data;
  return { delayP99Ms: e.delayP99Ms, delayMaxMs: e.delayMaxMs, degraded: e.degraded ?? null, reasons: e.reasons ?? [] };
}

/** What one /readyz read gave. `latencyMs`: request to the end of the body (ms, the daemon's monotonic clock). */
export type ReadyzReading =
  | { kind: "answered"; status: number; latencyMs: number; eventLoop: GatewayEventLoop | null }
  | { kind: "timeout"; latencyMs: number }
  /** No HTTP answer at all (connection refused or reset): the gateway is not listening; not evidence of a block. */
  | { kind: "error"; message: string };

/** Options of {@link readGatewayReadyz}. */
export type ReadyzProbeOptions = {
  fetch: typeof fetch;
  clock: Pick<Clock, "monotonic" | "sleep">;
  /** `http://127.0.0.1:<OPENCLAW_GATEWAY_PORT>/readyz`. */
  url: string;
  /** The answer, body included, must arrive within this many ms. */
  timeoutMs: number;
};

/**
 * Read /readyz once. The timeout runs on the injected clock, so tests drive it.
 * @returns the reading; never rejects
 */
export async function readGatewayReadyz(o: ReadyzProbeOptions): Promise<ReadyzReading> {
  const started = o.clock.monotonic();
  const elapsed = () => Math.round((o.clock.monotonic() - started) * 10) / 10;
  const ac = new AbortController();
  const timer = new AbortController();
  const read = (async (): Promise<ReadyzReading> => {
    const res = await o.fetch(o.url, { method: "GET", headers: { accept: "application/json" }, signal: ac.signal, redirect: "error" });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // an answer all the same
    }
    return { kind: "answered", status: res.status, latencyMs: elapsed(), eventLoop: parseReadyzEventLoop(body) };
  })().catch((err: unknown): ReadyzReading => {
    if (ac.signal.aborted) return { kind: "timeout", latencyMs: elapsed() };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { kind: "error", message: cause?.code ?? cause?.message ?? (err as Error).message };
  });
  const timedOut = o.clock.sleep(o.timeoutMs, timer.signal).then((): ReadyzReading | null => {
    if (timer.signal.aborted) return null;
    ac.abort();
    return { kind: "timeout", latencyMs: elapsed() };
  });
  const first = await Promise.race([read, timedOut]);
  timer.abort();
  return first ?? (await read);
}
