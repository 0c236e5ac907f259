/** Table tests of the pure readers the monitoring tests rely on (test/monitoring/promql.ts). */
import { describe, expect, it } from "vitest";
import { dashboardExpressions, equalityMatchers, metricNames, parseExposition, ruleExpressions, seriesNames } from "./promql.ts";

describe("metricNames", () => {
  it.each([
    ["a bare name", "agent_supervisor_gateway_up == 0", ["agent_supervisor_gateway_up"]],
    ["labels, ranges and functions", 'increase(foo_total{cause="memory"}[1h]) > 0', ["foo_total"]],
    ["grouping labels are no names", "sum without (outcome) (increase(a_total[15m])) / sum by (le, phase) (b_bucket)", ["a_total", "b_bucket"]],
    ["aggregation with a trailing by", "sum(rate(a_total[5m])) by (instance) and on() b > 0", ["a_total", "b"]],
    ["quantiles and numbers", 'histogram_quantile(0.95, rate(h_bucket{phase="total"}[15m])) > 3e1', ["h_bucket"]],
    ["strings and Grafana variables", 'up{job="x", instance=~"$instance"} or vector(0) * $__range_s', ["up"]],
    ["keywords", "a >= bool b unless c offset 5m or d and e", ["a", "b", "c", "d", "e"]],
    ["a name with colons (recording rules)", "job:requests:rate5m > 1", ["job:requests:rate5m"]],
    ["label value that looks like a name", 'a{state="failed"} == 1', ["a"]],
  ])("%s", (_what, expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe("equalityMatchers", () => {
  it("keeps = and drops =~, != and !~", () => {
    expect(equalityMatchers('a{x="1", y=~"2", z!="3"} and b{w!~"4",v = "5"}')).toEqual([
      { metric: "a", label: "x", value: "1" },
      { metric: "b", label: "v", value: "5" },
    ]);
  });
});

describe("ruleExpressions", () => {
  const yaml = [
    "groups:",
    "  - name: g",
    "    rules:",
    "      - alert: One",
    "        expr: a == 0",
    "        for: 5m",
    "      - alert: Two",
    "        expr: |",
    "          sum(b)",
    "",
    "            > 1",
    "        labels:",
    "          severity: P1",
    "      - record: job:c:sum",
    '        expr: "sum(c{x=\\"y\\"})"',
  ].join("\n");

  it("reads one-line, block and quoted expressions", () => {
    expect(ruleExpressions(yaml)).toEqual([
      { name: "One", expr: "a == 0" },
      { name: "Two", expr: "sum(b)\n\n> 1" },
      { name: "job:c:sum", expr: 'sum(c{x="y"})' },
    ]);
  });

  it("refuses a rule without expr", () => {
    expect(() => ruleExpressions("      - alert: One\n        for: 5m\n      - alert: Two\n        expr: a\n")).toThrow("rule One has no expr");
  });
});

describe("the exposition", () => {
  const text = [
    "# HELP a_total A counter",
    "# TYPE a_total counter",
    'a_total{cause="memory"} 0',
    "# TYPE h_seconds histogram",
    'h_seconds_bucket{le="1"} 0',
    "h_seconds_sum 0",
    "h_seconds_count 0",
    "# TYPE g gauge",
    "g 1 1700000000000",
    "",
  ].join("\n");

  it("gives names with the histogram's series and every sample's labels", () => {
    const e = parseExposition(text);
    expect([...seriesNames(e)].sort()).toEqual(["a_total", "g", "h_seconds", "h_seconds_bucket", "h_seconds_count", "h_seconds_sum"]);
    expect(e.samples[0]).toEqual({ name: "a_total", labels: { cause: "memory" } });
    expect(e.samples.at(-1)).toEqual({ name: "g", labels: {} });
  });
});

describe("dashboardExpressions", () => {
  it("reads targets inside and outside rows, and label_values variables", () => {
    const d = {
      panels: [{ type: "row", title: "r", panels: [{ type: "stat", title: "s", targets: [{ refId: "A", expr: "a" }] }] }, { type: "timeseries", title: "t", targets: [{ refId: "B", expr: "b" }] }],
      templating: { list: [{ name: "instance", type: "query", query: { query: "label_values(c{x=\"1\"}, instance)" } }, { name: "datasource", type: "datasource", query: "prometheus" }] },
    };
    expect(dashboardExpressions(d)).toEqual([
      { name: "s A", expr: "a" },
      { name: "t B", expr: "b" },
      { name: "variable instance", expr: 'c{x="1"}' },
    ]);
  });
});
