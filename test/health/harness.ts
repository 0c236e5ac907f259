/** Builds the real app over fakes of its dependencies. */
import { createHealthApp, type HealthAppOptions } from "../../src/health/app.ts";
import { createMetrics } from "../../src/health/metrics.ts";
import type { DiskUsage, HealthSnapshot } from "../../src/health/ports.ts";
import { FakeTurns, snapshot, TOKEN } from "./fakes.ts";

export const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const GiB = 1024 ** 3;

/** App plus the knobs a test turns: the fake store, the snapshot and the disk reading. */
export function harness(o: Partial<HealthAppOptions> = {}) {
  const turns = new FakeTurns();
  const state: { snap: HealthSnapshot; disk: () => Promise<DiskUsage> } = {
    snap: snapshot(NOW),
    disk: async () => ({ path: "/data", freeBytes: 50 * GiB, totalBytes: 100 * GiB }),
  };
  const metrics = o.metrics ?? createMetrics({ processMetrics: false });
  const app = createHealthApp({
    turns,
    snapshot: () => state.snap,
    disk: () => state.disk(),
    metrics,
    now: () => NOW,
    token: TOKEN,
    maxMessageBytes: 1000,
    service: { version: "1", releaseId: "0.1.0", serviceId: "test-host", description: "agent-supervisor test" },
    ...o,
  });
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const post = (body: unknown, headers: Record<string, string> = auth) =>
    app.request("/v1/turns", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const get = (path: string, headers: Record<string, string> = auth) => app.request(path, { headers });
  return { app, turns, state, metrics, auth, post, get };
}
