/**
 * The monitoring files name only what the daemon really exports: a real daemon
 * (`bin/agent-supervisor run`, a child process) with a stand-in gateway (bench/faults/stand-in.ts:
 * it listens and never answers, so no OpenClaw is needed) is scraped at its live `/metrics`, and
 * every metric name in docs/monitoring/alerts.yml and dashboard.json must be there (a histogram
 * offers its `_bucket`, `_sum` and `_count`; `up` is Prometheus's own). Every equality matcher
 * (`cause="memory"`, `state="failed"`...) must match a series the daemon exports, where the metric
 * already has series at start (a labelled histogram gets its first series with its first turn).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startStandIn, stopDaemon, type StandInSite } from "../../bench/faults/stand-in.ts";
import { dashboardExpressions, equalityMatchers, metricNames, parseExposition, ruleExpressions, seriesNames, type Exposition, type RuleExpr } from "./promql.ts";

const DIR = resolve(import.meta.dirname, "../../docs/monitoring");
/** Series Prometheus makes itself for every target, not the daemon. */
const PROMETHEUS_OWN = new Set(["up"]);
/** Labels the scrape adds (target labels), never in the exposition. */
const TARGET_LABELS = new Set(["job", "instance"]);

const sources: [string, RuleExpr[]][] = [
  ["alerts.yml", ruleExpressions(readFileSync(join(DIR, "alerts.yml"), "utf8"))],
  ["dashboard.json", dashboardExpressions(JSON.parse(readFileSync(join(DIR, "dashboard.json"), "utf8")))],
];

const work = mkdtempSync(join(tmpdir(), "as-monitoring-live-"));
let standIn: StandInSite | undefined;
let exposition: Exposition;

beforeAll(async () => {
  standIn = await startStandIn(work, inject("e2eRuntimeDir"), {}, {});
  const res = await fetch(`http://127.0.0.1:${standIn.site.httpPort}/metrics`);
  expect(res.status).toBe(200);
  exposition = parseExposition(await res.text());
}, 60_000);

afterAll(async () => {
  if (standIn) await stopDaemon(standIn.site, standIn.daemon);
  rmSync(work, { recursive: true, force: true });
});

describe("the live /metrics of a daemon", () => {
  it("exports the daemon's own metrics (the scrape is real)", () => {
    expect(exposition.types.get("agent_supervisor_gateway_up")).toBe("gauge");
    expect(exposition.types.get("agent_supervisor_turn_duration_seconds")).toBe("histogram");
  });

  it.each(sources)("has every metric name %s uses", (_file, exprs) => {
    const exported = seriesNames(exposition);
    const used = [...new Set(exprs.flatMap((e) => metricNames(e.expr)))].sort();
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((n) => !exported.has(n) && !PROMETHEUS_OWN.has(n))).toEqual([]);
  });

  it.each(sources)("has a series for every label value %s matches on", (_file, exprs) => {
    const missing: string[] = [];
    for (const m of exprs.flatMap((e) => equalityMatchers(e.expr))) {
      if (PROMETHEUS_OWN.has(m.metric) || TARGET_LABELS.has(m.label)) continue;
      const series = exposition.samples.filter((s) => s.name === m.metric);
      if (series.length === 0) continue; // no series yet: the value cannot be judged from a fresh daemon
      if (!series.some((s) => s.labels[m.label] === m.value)) missing.push(`${m.metric}{${m.label}="${m.value}"}`);
    }
    expect(missing).toEqual([]);
  });
});
