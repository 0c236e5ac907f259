/**
 * Unauthenticated probes: `/livez`, `/readyz`, `/health` (application/health+json) and `/metrics`.
 * They expose no secrets; as a second line of defence every body is scrubbed of the given
 * secret strings (the bearer token) in case one ever reaches an error text in the snapshot.
 */
import { Hono } from "hono";
import { assessHealth, type DiskReading, type HealthThresholds } from "./assess.ts";
import type { Metrics } from "./metrics.ts";
import type { DiskUsage, HealthSnapshot } from "./ports.ts";
import { assessLiveness, assessReadiness } from "./probes.ts";
import type { HealthDocument } from "./wire.ts";

/** Identity fields of the health document (draft-inadarei-api-health-check sections 3.2-3.6). */
export type ServiceInfo = {
  /** Public version of the service's interface, e.g. "1". */
  version: string;
  /** Release of the build, e.g. the package version "0.1.0". */
  releaseId: string;
  /** Which daemon this is, e.g. the host name. */
  serviceId: string;
  description: string;
};

/** What the probe routes need. */
export type ProbeRoutesDeps = {
  snapshot: () => HealthSnapshot;
  /** The liveness tick's time (epoch ms) for `/livez`, without a whole snapshot; default `snapshot().loopTickAt`. */
  loopTickAt?: (() => number) | undefined;
  /** Reads the data directory's disk; a rejection makes `disk:free` warn, it never fails the request. */
  disk: () => Promise<DiskUsage>;
  /** Epoch ms. */
  now: () => number;
  /** `/livez` fails when the loop last ticked more than this many ms ago. */
  livenessStaleMs: number;
  thresholds: HealthThresholds;
  service: ServiceInfo;
  metrics: Metrics;
  /** Strings that must never appear in a probe body; each is replaced by `[REDACTED]`. */
  secrets: readonly string[];
};

const NO_STORE = { "Cache-Control": "no-store" };

/** The probe routes, mounted at `/`. */
export function probeRoutes(deps: ProbeRoutesDeps): Hono {
  const app = new Hono();
  const secrets = deps.secrets.filter((s) => s.length > 0);
  const scrub = (text: string) => secrets.reduce((t, s) => t.replaceAll(s, "[REDACTED]"), text);
  const readDisk = (): Promise<DiskReading> =>
    deps.disk().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));

  app.get("/livez", (c) => {
    const live = assessLiveness({ loopTickAt: deps.loopTickAt ? deps.loopTickAt() : deps.snapshot().loopTickAt }, deps.now(), deps.livenessStaleMs);
    return c.json(live, live.alive ? 200 : 503, NO_STORE);
  });

  app.get("/readyz", (c) => {
    const ready = assessReadiness(deps.snapshot());
    return c.body(scrub(JSON.stringify(ready)), ready.ready ? 200 : 503, {
      ...NO_STORE,
      "Content-Type": "application/json",
    });
  });

  app.get("/health", async (c) => {
    const snapshot = deps.snapshot();
    const disk = await readDisk();
    const a = assessHealth(snapshot, disk, deps.now(), deps.thresholds);
    const doc: HealthDocument = {
      status: a.status,
      ...deps.service,
      ...(a.output === undefined ? {} : { output: a.output }),
      checks: a.checks,
    };
    // The draft: 2xx for pass and warn, 4xx/5xx for fail.
    return c.body(scrub(JSON.stringify(doc)), a.status === "fail" ? 503 : 200, {
      ...NO_STORE,
      "Content-Type": "application/health+json",
    });
  });

  app.get("/metrics", async (c) => {
    deps.metrics.observe(deps.snapshot(), await readDisk());
    const text = await deps.metrics.registry.metrics();
    return c.body(scrub(text), 200, { ...NO_STORE, "Content-Type": deps.metrics.registry.contentType });
  });

  return app;
}
