/**
 * Pure readers for the monitoring files (docs/monitoring/): the PromQL expressions of the alert
 * rules and of the Grafana dashboard, the metric names and label matchers those expressions use,
 * and the metric names and samples of a Prometheus text exposition (format 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/). No YAML library is in the
 * project, so the rules file is read line by line in the shape alerts.yml keeps (each `expr:` on
 * one line or as a `|`/`>` block scalar); {@link ruleExpressions} counts rules to catch a miss.
 */

/** One rule of a Prometheus rules file: its alert (or record) name and its expression. */
export type RuleExpr = { name: string; expr: string };

/**
 * The rules of a Prometheus rules file, in order.
 * @throws Error when a `- alert:`/`- record:` entry has no `expr:` or an `expr:` no rule
 */
export function ruleExpressions(yaml: string): RuleExpr[] {
  const lines = yaml.split("\n");
  const rules: RuleExpr[] = [];
  let current: { name: string; expr?: string } | undefined;
  const close = () => {
    if (current === undefined) return;
    if (current.expr === undefined) throw new Error(`rule ${current.name} has no expr`);
    rules.push({ name: current.name, expr: current.expr });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const rule = /^\s*-\s+(?:alert|record):\s*(\S+)\s*$/.exec(line);
    if (rule) {
      close();
      current = { name: rule[1]! };
      continue;
    }
    const expr = /^(\s*)expr:\s*(.*?)\s*$/.exec(line);
    if (!expr) continue;
    if (current === undefined || current.expr !== undefined) throw new Error(`line ${i + 1}: expr outside a rule`);
    const [, indent, value] = expr;
    if (/^[|>][-+]?$/.test(value!)) {
      // A block scalar: the lines indented deeper than `expr:` (blank lines included).
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]!.trim() === "" || lines[i + 1]!.search(/\S/) > indent!.length)) body.push(lines[++i]!.trim());
      current.expr = body.join("\n").trim();
    } else {
      current.expr = unquote(value!);
    }
  }
  close();
  return rules;
}

function unquote(v: string): string {
  if (v.startsWith('"') && v.endsWith('"')) return JSON.parse(v) as string;
  if (v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1).replaceAll("''", "'");
  return v;
}

/** A Grafana dashboard as far as these tests read it. */
export type Dashboard = {
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; query?: unknown; datasource?: unknown }[] };
};
/** A dashboard panel: rows carry nested panels, others targets. */
export type Panel = { id?: number; type: string; title?: string; datasource?: unknown; targets?: { refId?: string; expr?: string }[]; panels?: Panel[] };

/** Every panel of a dashboard, rows' nested panels included, in order. */
export function allPanels(d: Dashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * The PromQL of a dashboard: every target's `expr`, and the metric selector of each query
 * variable `label_values(<selector>, <label>)` (Grafana's Prometheus variable syntax).
 */
export function dashboardExpressions(d: Dashboard): RuleExpr[] {
  const out: RuleExpr[] = [];
  for (const p of allPanels(d)) {
    for (const t of p.targets ?? []) if (t.expr) out.push({ name: `${p.title} ${t.refId}`, expr: t.expr });
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : (v.query as { query?: string } | undefined)?.query ?? "";
    const m = /^\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*$/.exec(q);
    if (m) out.push({ name: `variable ${v.name}`, expr: m[1]! });
  }
  return out;
}

/** PromQL words that look like identifiers but name no metric. */
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "atan2", "inf", "nan"]);

/**
 * The metric names an expression selects, sorted and unique. Grafana variables (`$instance`,
 * `${x}`, `$__rate_interval`) are dropped; so are strings, label matchers, ranges, grouping
 * labels, functions and aggregations (an identifier followed by `(`), keywords and numbers.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\$\{\w+\}|\$\w+/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*(?!\s*\()/g)) {
    // A partial identifier before `(` (the regex backtracked into `foo(`) is no name either.
    const after = bare.slice(m.index + m[0].length);
    if (/^[\w:]/.test(after) || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names].sort();
}

/** A selector's equality matcher `metric{label="value"}`. */
export type Matcher = { metric: string; label: string; value: string };

/** The equality matchers (`=`, not `=~`/`!=`) of an expression's selectors, in order. */
export function equalityMatchers(expr: string): Matcher[] {
  const out: Matcher[] = [];
  for (const sel of expr.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    for (const m of sel[2]!.matchAll(/(\w+)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      if (m[2] === "=") out.push({ metric: sel[1]!, label: m[1]!, value: m[3]! });
    }
  }
  return out;
}

/** A parsed exposition: metric families by name and type, and every sample's name and labels. */
export type Exposition = { types: Map<string, string>; samples: { name: string; labels: Record<string, string> }[] };

/** Parse Prometheus text format 0.0.4 (HELP lines and sample values are not kept). */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Exposition["samples"] = [];
  for (const line of text.split("\n")) {
    const type = /^# TYPE ([a-zA-Z_:][\w:]*) (\w+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels });
  }
  return { types, samples };
}

/**
 * The series names an exposition offers to PromQL: each family's name, plus `_bucket`, `_sum`
 * and `_count` for a histogram and `_sum`, `_count` for a summary.
 */
export function seriesNames(e: Exposition): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of e.types) {
    names.add(name);
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
    if (type === "summary") for (const s of ["_sum", "_count"]) names.add(name + s);
  }
  return names;
}
