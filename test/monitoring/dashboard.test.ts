/**
 * docs/monitoring/dashboard.json: valid JSON that Grafana imports as is: a `datasource` variable
 * every panel and the `instance` variable use, every panel with a target and an expression, each
 * restricted to the chosen hosts, and the panels the fleet plan asks for.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { allPanels, dashboardExpressions, equalityMatchers, metricNames, type Dashboard } from "./promql.ts";

const FILE = resolve(import.meta.dirname, "../../docs/monitoring/dashboard.json");
const d = JSON.parse(readFileSync(FILE, "utf8")) as Dashboard & { uid?: string; title?: string };
const panels = allPanels(d).filter((p) => p.type !== "row");
const DS = { type: "prometheus", uid: "${datasource}" };

describe("docs/monitoring/dashboard.json", () => {
  it("has a uid, a title, the datasource and instance variables", () => {
    expect(d.uid).toBe("agent-supervisor");
    expect(d.title).toBeTruthy();
    const vars = new Map((d.templating?.list ?? []).map((v) => [v.name, v]));
    expect(vars.get("datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(vars.get("instance")).toMatchObject({ type: "query", datasource: DS, multi: true, includeAll: true });
  });

  it("gives every panel the datasource variable and a target with an expression", () => {
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual(DS);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.expr?.trim(), `${p.title} ${t.refId}`).toBeTruthy();
    }
  });

  it("has unique panel ids and refIds unique within each panel", () => {
    const ids = allPanels(d).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      const refs = p.targets!.map((t) => t.refId);
      expect(new Set(refs).size, p.title).toBe(refs.length);
    }
  });

  it("restricts every selector of a panel to the chosen hosts", () => {
    for (const p of panels) {
      for (const t of p.targets!) {
        // Each selector of a metric carries a label block with instance=~"$instance" (strings are
        // skipped whole, so a name inside a label value is no selector).
        const names = new Set(metricNames(t.expr!));
        const selectors = [...t.expr!.matchAll(/"(?:[^"\\]|\\.)*"|([a-zA-Z_:][\w:]*)(\s*\{[^}]*\})?/g)].filter((m) => names.has(m[1]!));
        expect(selectors.length, `${p.title} ${t.refId}`).toBeGreaterThan(0);
        for (const s of selectors) expect(s[2] ?? "", `${p.title}: ${s[1]}`).toContain('instance=~"$instance"');
      }
    }
  });

  it.each([
    ["gateway up and state", ["agent_supervisor_gateway_up", "agent_supervisor_gateway_state", "up"]],
    ["turn rate and failure share by class", ["agent_supervisor_turns_total", "agent_supervisor_turn_failures_total"]],
    ["latency quantiles by phase", ["agent_supervisor_turn_phase_seconds_bucket"]],
    ["tokens by provider, model and kind", ["agent_supervisor_tokens_total"]],
    ["budget used and limit", ["agent_supervisor_token_budget_used_tokens", "agent_supervisor_token_budget_limit_tokens"]],
    ["restarts by cause", ["agent_supervisor_gateway_restarts_total"]],
    ["memory RSS vs limit", ["agent_supervisor_gateway_rss_bytes", "agent_supervisor_gateway_rss_limit_bytes"]],
    ["disk free", ["agent_supervisor_disk_free_bytes", "agent_supervisor_disk_total_bytes"]],
    ["queue", ["agent_supervisor_queue_turns", "agent_supervisor_queue_limit"]],
    ["store write failures", ["agent_supervisor_store_write_failing_sites"]],
    ["audit unshipped", ["agent_supervisor_audit_unshipped_events"]],
  ])("charts %s", (_what, names) => {
    const used = new Set(dashboardExpressions(d).flatMap((e) => metricNames(e.expr)));
    expect(names.filter((n) => !used.has(n))).toEqual([]);
  });

  it("breaks down by the labels the fleet plan names", () => {
    const exprs = dashboardExpressions(d).map((e) => e.expr);
    for (const [metric, grouping] of [
      ["agent_supervisor_turn_failures_total", "by (class)"],
      ["agent_supervisor_turn_phase_seconds_bucket", "by (phase, le)"],
      ["agent_supervisor_tokens_total", "by (provider, model, kind)"],
      ["agent_supervisor_gateway_restarts_total", "by (cause)"],
    ]) {
      expect(exprs.some((e) => e.includes(metric!) && e.includes(grouping!)), `${metric} ${grouping}`).toBe(true);
    }
    // The scrape target's health is read from the daemon's own job only.
    expect(exprs.flatMap(equalityMatchers).filter((m) => m.metric === "up")).toEqual([{ metric: "up", label: "job", value: "agent-supervisor" }]);
  });
});
