/**
 * The alert rules and the dashboard's PromQL, checked by Prometheus's own promtool (Debian package
 * `prometheus`, which .ci/run installs): `promtool check rules` on alerts.yml and on the dashboard's
 * expressions, and `promtool test rules` on alerts.test.yml, whose recorded series make every
 * alert fire where it should and stay silent elsewhere. Without promtool these are skipped, saying so.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dashboardExpressions, ruleExpressions, type Dashboard } from "./promql.ts";

const DIR = resolve(import.meta.dirname, "../../docs/monitoring");
const RULES = join(DIR, "alerts.yml");
const TESTS = join(DIR, "alerts.test.yml");
const HAS_PROMTOOL = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;
const work = mkdtempSync(join(tmpdir(), "as-monitoring-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync("promtool", args, { encoding: "utf8", cwd: DIR });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("docs/monitoring/alerts.yml", () => {
  if (!HAS_PROMTOOL) it.skip("promtool is not installed (Debian package prometheus): the rules were not checked", () => {});

  it.skipIf(!HAS_PROMTOOL)("passes promtool check rules", () => {
    const r = promtool("check", "rules", RULES);
    expect(r.output).toContain(`SUCCESS: ${ruleExpressions(readFileSync(RULES, "utf8")).length} rules found`);
    expect(r.status).toBe(0);
  });

  it.skipIf(!HAS_PROMTOOL)("passes its promtool unit tests (alerts.test.yml)", () => {
    const r = promtool("test", "rules", TESTS);
    expect(r.output).toContain("SUCCESS");
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!HAS_PROMTOOL)("fails a unit test when a threshold moves (the tests can fail)", () => {
    // The error-rate alert at 20 % instead of 5 %: its recorded 10 % must then go unnoticed.
    const moved = readFileSync(RULES, "utf8").replace(") > 0.05", ") > 0.2");
    expect(moved).not.toBe(readFileSync(RULES, "utf8"));
    writeFileSync(join(work, "alerts.yml"), moved);
    writeFileSync(join(work, "alerts.test.yml"), readFileSync(TESTS, "utf8"));
    const r = spawnSync("promtool", ["test", "rules", "alerts.test.yml"], { encoding: "utf8", cwd: work });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain("alertname: AgentSupervisorTurnErrorRate");
  });

  it("every alert has a unit test where it fires and one where it stays silent", () => {
    const alerts = ruleExpressions(readFileSync(RULES, "utf8")).map((r) => r.name);
    // Each alert_rule_test entry: `alertname: X` then `exp_alerts: []` (silent) or `exp_alerts:` + items.
    const entries = [...readFileSync(TESTS, "utf8").matchAll(/alertname: (\w+)\n\s*exp_alerts:( \[\])?\n(\s*- exp_labels:)?/g)];
    const fires = new Set(entries.filter((m) => m[3] !== undefined).map((m) => m[1]));
    const silent = new Set(entries.filter((m) => m[2] !== undefined).map((m) => m[1]));
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.filter((a) => !fires.has(a))).toEqual([]);
    expect(alerts.filter((a) => !silent.has(a))).toEqual([]);
    expect([...fires, ...silent].filter((a) => !alerts.includes(a!))).toEqual([]);
  });

  it("every alert has a severity P0, P1 or P2 and a summary, description and runbook_url", () => {
    const text = readFileSync(RULES, "utf8");
    const readme = readFileSync(join(DIR, "README.md"), "utf8");
    const blocks = text.split(/\n(?=[ \t]*- alert: )/).slice(1);
    expect(blocks.length).toBe(ruleExpressions(text).length);
    for (const b of blocks) {
      const name = /- alert: (\w+)/.exec(b)![1]!;
      expect(b, name).toMatch(/\n\s+severity: P[012]\n/);
      for (const key of ["summary", "description", "runbook_url"]) expect(b, `${name} ${key}`).toMatch(new RegExp(`\\n\\s+${key}: "`));
      // The runbook anchor is the alert's own section of docs/monitoring/README.md.
      expect(b, name).toContain(`runbook_url: "docs/monitoring/README.md#${name.toLowerCase()}"`);
      expect(readme, name).toContain(`\n### ${name}\n`);
    }
  });
});

describe("docs/monitoring/dashboard.json", () => {
  it.skipIf(!HAS_PROMTOOL)("has only expressions promtool parses (Grafana variables filled in)", () => {
    const d = JSON.parse(readFileSync(join(DIR, "dashboard.json"), "utf8")) as Dashboard;
    const exprs = dashboardExpressions(d);
    expect(exprs.length).toBeGreaterThan(0);
    const fill = (e: string) => e.replaceAll("$__rate_interval", "5m").replaceAll("$__range", "6h").replaceAll("$instance", ".*");
    const yaml = ["groups:", "  - name: dashboard", "    rules:", ...exprs.flatMap((e, i) => [`      - record: dashboard_expr_${i}`, `        expr: ${JSON.stringify(fill(e.expr))}`])];
    const file = join(work, "dashboard-rules.yml");
    writeFileSync(file, `${yaml.join("\n")}\n`);
    const r = promtool("check", "rules", file);
    expect(r.output).toContain(`SUCCESS: ${exprs.length} rules found`);
  });
});
