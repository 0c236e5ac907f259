/**
 * The suite's output, pure: result rows in, a markdown table and the docs/reliability.md text out.
 */
import type { FaultCase, FaultResult } from "./types.ts";

/** One row of the table: a result, or why there is none. */
export type Row =
  | { kind: "result"; result: FaultResult }
  | { kind: "error"; fault: string; realGateway: boolean; error: string }
  | { kind: "skipped"; fault: string; realGateway: boolean; why: string }
  /** A row of an earlier docs/reliability.md, as it was rendered there (`run.ts --merge`), and the commit that measured it. */
  | { kind: "kept"; fault: string; line: string; commit: string };

/** The Notes prefix of a row kept from an earlier run: `[earlier run, <commit>]`. */
export const KEPT_MARK = "[earlier run";

/** `[earlier run, <commit>]`. Pure. */
export function keptMark(commit: string): string {
  return `${KEPT_MARK}, ${commit}]`;
}

/** A result line of an earlier docs/reliability.md and the commit that measured it. */
export type EarlierRow = { line: string; commit: string };

/**
 * What an earlier docs/reliability.md holds: its result lines by fault cell (each with the commit
 * that measured it, its own or, for a row it kept, that row's), and the "measured ..." text of
 * every commit named (the doc's own Measured line, and its kept rows' runs).
 */
export type EarlierRun = { rows: Map<string, EarlierRow>; measured: Map<string, string> };

/** The commit at the end of a "... commit abc1234." text, or undefined. */
function commitOf(text: string): string | undefined {
  return /commit ([0-9a-f]{4,40})\.?\s*$/.exec(text)?.[1];
}

/**
 * Read the results of an earlier docs/reliability.md, so `--merge` can keep them. Rows it kept
 * itself keep the commit that measured them: from their mark `[earlier run, <commit>]`, or for the
 * first format (`[earlier run]`, one earlier run) from its "Rows marked ..." line. Pure.
 * @throws Error when it has no results table or "Measured" line
 */
export function earlierRun(doc: string): EarlierRun {
  const lines = doc.split("\n");
  const start = lines.indexOf("## Results");
  const own = lines.find((l) => l.startsWith("Measured "));
  const ownCommit = own && commitOf(own);
  if (start < 0 || !own || !ownCommit) throw new Error("docs/reliability.md has no results table to merge with; run the whole suite");
  const measured = new Map<string, string>([[ownCommit, own.replace(/^Measured /, "measured ")]]);
  // The runs of rows it kept: one line each ("Kept rows [earlier run, c]: measured ..."), or the first format's single line.
  let legacy: string | undefined;
  for (const l of lines) {
    const kept = /^Kept rows \[earlier run, ([0-9a-f]+)\]: (.*)$/.exec(l);
    if (kept) measured.set(kept[1]!, kept[2]!);
    if (l.startsWith("Rows marked [earlier run] ")) {
      legacy = commitOf(l);
      if (legacy) measured.set(legacy, l.slice(l.indexOf("): ") + 3));
    }
  }
  const rows = new Map<string, EarlierRow>();
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith("Measured ")) break;
    if (!l.startsWith("| ") || l.startsWith("| Fault |") || l.startsWith("| --- |")) continue;
    const mark = /\| \[earlier run(?:, ([0-9a-f]+))?\] /.exec(l);
    const commit = mark ? (mark[1] ?? legacy) : ownCommit;
    if (!commit) throw new Error(`docs/reliability.md keeps a row without saying where it was measured: ${l.slice(0, 80)}`);
    rows.set(l.slice(2, l.indexOf(" | ")), { line: mark ? l.replace(mark[0], "| ") : l, commit });
  }
  return { rows, measured };
}

/** Where and when the suite ran. */
export type Machine = { date: string; cpus: string; memory: string; os: string; node: string; openclaw: string; commit: string };

/** `1234` → `1.23 s`, `340` → `340 ms`, null → `—`. */
export function formatMs(v: number | null): string {
  if (v === null) return "—";
  if (v < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
}

/** Escape a cell for a markdown table (pipes and line breaks). */
export function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** True when the run must fail: a turn lost or duplicated, or a case that could not measure. */
export function failed(rows: readonly Row[]): boolean {
  return rows.some((r) => r.kind === "error" || (r.kind === "result" && (r.result.lost > 0 || r.result.duplicated > 0)));
}

/** The results table (markdown). */
export function renderTable(rows: readonly Row[]): string {
  const lines = ["| Fault | Gateway | Detected after | Serving again after | Lost | Duplicated | Notes |", "| --- | --- | --- | --- | --- | --- | --- |"];
  for (const r of rows) {
    if (r.kind === "result") {
      const x = r.result;
      lines.push(
        `| ${cell(x.fault)} | ${x.realGateway ? "real" : "stand-in"} | ${formatMs(x.detectedMs)} | ${formatMs(x.servingAgainMs)} | ${x.lost} | ${x.duplicated} | ${cell(x.notes)} |`,
      );
    } else if (r.kind === "error") {
      lines.push(`| ${cell(r.fault)} | ${r.realGateway ? "real" : "stand-in"} | ? | ? | ? | ? | case failed: ${cell(r.error)} |`);
    } else if (r.kind === "kept") {
      const notesAt = r.line.lastIndexOf(" | ", r.line.length - 3) + 3;
      lines.push(`${r.line.slice(0, notesAt)}${keptMark(r.commit)} ${r.line.slice(notesAt)}`);
    } else {
      lines.push(`| ${cell(r.fault)} | ${r.realGateway ? "real" : "stand-in"} | — | — | — | — | ${cell(r.why)} |`);
    }
  }
  return lines.join("\n");
}

/** The whole docs/reliability.md. */
export function renderDoc(cases: readonly FaultCase[], rows: readonly Row[], m: Machine, settingsNote: string, earlier?: EarlierRun): string {
  const keptCommits = [...new Set(rows.flatMap((r) => (r.kind === "kept" ? [r.commit] : [])))];
  const kept = keptCommits.map((c) => `\nKept rows ${keptMark(c)}: ${earlier?.measured.get(c) ?? `commit ${c}.`}`).join("");
  const keptHow = keptCommits.length > 0 ? `\nRows marked ${KEPT_MARK}, <commit>] were kept from an earlier run (\`--merge\`); each such run:` : "";
  const how = cases.map((c) => `| ${cell(c.fault)} | ${c.realGateway ? "real" : "stand-in"} | ${c.fast ? "yes" : "no"} | ${cell(c.how)} |`);
  return `# Reliability: fault injection

Generated by \`bench/faults/run.ts\` (\`npm run faults\`); do not edit by hand. Each fault is
injected into a running daemon and measured from the outside: its SQLite file, its HTTP
endpoints, the gateway's own transcripts and the reference control plane.

- **Detected after**: from the moment the fault is injected to the daemon's first recorded
  reaction (a \`gateway_events\` row, a \`/health\` change, swept files, a journal step).
- **Serving again after**: from the injection until \`/readyz\` is 200 again *and* a turn submitted
  after that has completed. "—" where nothing can serve (a stand-in gateway cannot run a turn).
- **Lost / Duplicated**: turns accepted before or during the fault that did not end \`done\` exactly
  once. With the real gateway: the daemon's row is \`done\` with the model's reply, and the session
  transcript holds the message and its answer exactly once; through the control plane, exactly
  one accepted result report per turn. With a stand-in: every accepted turn is still queued, in
  one row. For memory decay: every daily note is held by exactly one roll-up. An action of the
  daemon missing from its audit trail counts as lost too: every gateway start, stop, restart and
  hold in \`gateway_events\` needs its \`audit_events\` entry of the same generation, every session
  repair and EX_CONFIG doctor step its entry, every rotation restart a \`secrets.apply\` or
  \`skills.apply\` before it (\`bench/faults/audit-check.ts\`). Both must be 0.
- **Real vs stand-in**: the real OpenClaw gateway where the fault can be provoked in it; a small
  Node script in its place (\`OPENCLAW_NODE\`/\`OPENCLAW_ENTRY\`) where it cannot be made to do so on
  demand (never answering, exiting 78).

${settingsNote}

## Faults and how they are provoked

| Fault | Gateway | In CI (\`--fast\`) | How |
| --- | --- | --- | --- |
${how.join("\n")}

## Results

${renderTable(rows)}

Measured ${m.date} on ${m.cpus}, ${m.memory}, ${m.os}; Node ${m.node}, openclaw ${m.openclaw}, commit ${m.commit}.${keptHow}${kept}
Single runs: times vary by a few hundred milliseconds between runs and depend on the settings
above (probe intervals, grace periods, backoff); the loss and duplication counts must not.

## Reproduce

\`\`\`sh
npm test                                       # once: Node 24, dependencies and the e2e runtime
npm run faults                                 # every case (about 35 minutes), rewrites this file
.cache/node/bin/node bench/faults/run.ts --fast          # stand-in cases only (as in CI)
.cache/node/bin/node bench/faults/run.ts --only gateway-sigstop --no-write --keep
.cache/node/bin/node bench/faults/run.ts --only startup-grace --merge  # one row anew, the others kept
\`\`\`

The fast cases also run under vitest (\`test/faults/fast.test.ts\`). The exit code is 1 when any
turn was lost or duplicated or a case could not measure.
`;
}
