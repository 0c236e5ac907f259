import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/health/metrics.ts";
import { healthDocumentSchema } from "../../src/health/wire.ts";
import { snapshot, TOKEN } from "./fakes.ts";
import { harness, NOW } from "./harness.ts";

describe("GET /livez", () => {
  it("200 while the loop ticks, 503 once the tick is older than the bound; no auth", async () => {
    const h = harness({ livenessStaleMs: 10_000 });
    h.state.snap = snapshot(NOW, { loopTickAt: NOW - 10_000 });
    expect((await h.get("/livez", {})).status).toBe(200);
    h.state.snap = snapshot(NOW, { loopTickAt: NOW - 10_001 });
    const res = await h.get("/livez", {});
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ alive: false, loopTickAgeMs: 10_001 });
  });

  it("with the tick's reader, builds no health snapshot (a probe every few seconds stays cheap)", async () => {
    let tick = NOW - 500;
    let snapshots = 0;
    const h = harness({ livenessStaleMs: 10_000, loopTickAt: () => tick, snapshot: () => (snapshots++, snapshot(NOW)) });
    expect(await (await h.get("/livez", {})).json()).toEqual({ alive: true, loopTickAgeMs: 500 });
    tick = NOW - 10_001;
    expect((await h.get("/livez", {})).status).toBe(503);
    expect(snapshots).toBe(0);
  });
});

describe("GET /readyz", () => {
  it.each([
    { name: "ready and connected", snap: snapshot(NOW), status: 200 },
    { name: "starting", snap: snapshot(NOW, { gateway: { state: "starting" } }), status: 503 },
    { name: "disconnected", snap: snapshot(NOW, { connection: { connected: false } }), status: 503 },
    { name: "draining", snap: snapshot(NOW, { draining: true }), status: 503 },
  ])("$name → $status; no auth", async ({ snap, status }) => {
    const h = harness();
    h.state.snap = snap;
    const res = await h.get("/readyz", {});
    expect(res.status).toBe(status);
    const body = (await res.json()) as { ready: boolean; reason: string | null };
    expect(body.ready).toBe(status === 200);
    expect(body.reason === null).toBe(status === 200);
  });
});

describe("GET /health", () => {
  it.each([
    { name: "pass", snap: snapshot(NOW), status: 200, doc: "pass" },
    { name: "warn", snap: snapshot(NOW, { gateway: { state: "backoff" } }), status: 200, doc: "warn" },
    { name: "fail", snap: snapshot(NOW, { gateway: { state: "failed" } }), status: 503, doc: "fail" },
  ])("$name → HTTP $status, application/health+json; no auth", async ({ snap, status, doc }) => {
    const h = harness();
    h.state.snap = snap;
    const res = await h.get("/health", {});
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/health+json");
    const body = healthDocumentSchema.parse(await res.json());
    expect(body).toMatchObject({ status: doc, version: "1", releaseId: "0.1.0", serviceId: "test-host" });
    expect(Object.keys(body.checks)).toEqual(["gateway:process", "gateway:connection", "queue:depth", "disk:free"]);
  });

  it("a disk read error warns instead of failing the request", async () => {
    const h = harness();
    h.state.disk = async () => {
      throw new Error("EIO");
    };
    const res = await h.get("/health", {});
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "warn", output: "cannot read disk usage: EIO" });
  });
});

describe("GET /metrics", () => {
  it("serves Prometheus text with every metric name; no auth", async () => {
    const h = harness({ metrics: createMetrics() });
    h.metrics.turnsTotal.inc({ outcome: "done" });
    h.metrics.gatewayRestartsTotal.inc({ cause: "exit" });
    h.metrics.turnDurationSeconds.observe(3.2);
    h.metrics.auditEventsTotal.inc({ action: "gateway.restart" });
    h.metrics.auditUnshippedEvents.set(7);
    const res = await h.get("/metrics", {});
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const line of [
      'agent_supervisor_turns_total{outcome="done"} 1',
      'agent_supervisor_turns_total{outcome="failed"} 0',
      'agent_supervisor_gateway_restarts_total{cause="exit"} 1',
      // Every known cause from 0, for increase() in docs/monitoring/alerts.yml.
      'agent_supervisor_gateway_restarts_total{cause="memory"} 0',
      "agent_supervisor_turn_duration_seconds_count 1",
      'agent_supervisor_queue_turns{state="accepted"} 3',
      'agent_supervisor_queue_turns{state="delivering"} 1',
      "agent_supervisor_queue_limit 100",
      "agent_supervisor_gateway_up 1",
      'agent_supervisor_gateway_state{state="ready"} 1',
      'agent_supervisor_gateway_state{state="backoff"} 0',
      "agent_supervisor_draining 0",
      'agent_supervisor_audit_events_total{action="gateway.restart"} 1',
      'agent_supervisor_audit_events_total{action="config.rewrite"} 0',
      "agent_supervisor_audit_unshipped_events 7",
      "agent_supervisor_disk_free_bytes 53687091200",
      "process_cpu_user_seconds_total",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(text).toContain(line);
    }
  });

  it("gauges follow the snapshot at scrape time", async () => {
    const h = harness();
    h.state.snap = snapshot(NOW, { connection: { connected: false } });
    expect(await (await h.get("/metrics", {})).text()).toContain("agent_supervisor_gateway_up 0");
  });
});

describe("secrets", () => {
  it("the bearer token never appears in /health, /readyz, /livez or /metrics, even inside an error text", async () => {
    const h = harness();
    // Worst case: some subsystem put the token into an error message.
    h.state.snap = snapshot(NOW, {
      gateway: { state: "backoff", reason: `spawn failed with env TOKEN=${TOKEN}` },
      connection: { connected: false, lastError: `401 for Bearer ${TOKEN}` },
    });
    h.state.disk = async () => {
      throw new Error(`statfs ${TOKEN}`);
    };
    for (const path of ["/health", "/readyz", "/livez", "/metrics"]) {
      const res = await h.get(path, h.auth); // even when the caller sent it
      const text = await res.text();
      expect(text, path).not.toContain(TOKEN);
    }
    expect(await (await h.get("/health", {})).text()).toContain("[REDACTED]");
  });
});

describe("GET /v1/gateway/rss", () => {
  it("returns the trend since the given time, needs the token, and rejects a bad since", async () => {
    const { createHealthApp } = await import("../../src/health/app.ts");
    const { createMetrics } = await import("../../src/health/metrics.ts");
    const { snapshot } = await import("./fakes.ts");
    const calls: number[] = [];
    const app = createHealthApp({
      turns: { submit: () => ({ turnId: "t", created: true }), get: () => undefined, waitFinished: async () => undefined },
      snapshot: () => snapshot(1_000_000, {}),
      disk: async () => ({ path: "/d", freeBytes: 1, totalBytes: 2 }),
      metrics: createMetrics({ processMetrics: false }),
      now: () => 1_000_000_000,
      token: "tok-rss-0123456789",
      maxMessageBytes: 100,
      service: { version: "1", releaseId: "1", serviceId: "s", description: "d" },
      rssTrend: (since) => (calls.push(since), [{ at: since + 1, generation: 3, bytes: 123 }]),
    });
    const auth = { authorization: "Bearer tok-rss-0123456789" };
    expect((await app.request("/v1/gateway/rss")).status).toBe(401);
    const res = await app.request("/v1/gateway/rss?since=5000", { headers: auth });
    expect(await res.json()).toEqual({ samples: [{ at: 5001, generation: 3, bytes: 123 }] });
    await app.request("/v1/gateway/rss", { headers: auth });
    expect(calls).toEqual([5000, 1_000_000_000 - 24 * 3_600_000]);
    expect((await app.request("/v1/gateway/rss?since=abc", { headers: auth })).status).toBe(400);
  });
});
