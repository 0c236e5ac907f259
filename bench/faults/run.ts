/**
 * Runs the fault-injection suite, prints the results table and writes docs/reliability.md.
 *
 * Usage: .cache/node/bin/node bench/faults/run.ts [--fast] [--only id,id] [--no-write] [--keep]
 *   --fast      only the stand-in cases (as CI runs them); the real ones are listed as not run
 *   --only      only these case ids (see bench/faults/cases.ts)
 *   --no-write  print the table, leave docs/reliability.md alone
 *   --keep      keep the work directory (data dirs, databases) and print where it is
 *   --merge     with --only: the rows of the cases not run are kept from docs/reliability.md as it
 *               is (marked `[earlier run, <commit>]` with the commit that measured each), so one
 *               new case does not cost the whole suite; a doc that already keeps rows can be merged again
 * Needs the e2e runtime for the real cases (`npm test` installs it). Exit code 1 when a turn was
 * lost or duplicated or a case could not measure.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../test/e2e/harness.ts";
import { CASES } from "./cases.ts";
import { CP_SETTINGS, RealPool, SESSION_SETTINGS } from "./real-session.ts";
import { cell, earlierRun, failed, renderDoc, renderTable, type EarlierRun, type Machine, type Row } from "./report.ts";
import type { FaultCase } from "./types.ts";

const args = process.argv.slice(2);
const fast = args.includes("--fast");
const write = !args.includes("--no-write");
const keep = args.includes("--keep");
const merge = args.includes("--merge");
const onlyArg = args[args.indexOf("--only") + 1];
const only = args.includes("--only") && onlyArg ? new Set(onlyArg.split(",")) : undefined;
const unknown = only ? [...only].filter((id) => !CASES.some((c) => c.id === id)) : [];
if (unknown.length > 0) {
  console.error(`unknown case id(s): ${unknown.join(", ")}; known: ${CASES.map((c) => c.id).join(", ")}`);
  process.exit(64);
}

if (merge && (!only || fast || !write)) {
  console.error("--merge needs --only, and neither --fast nor --no-write");
  process.exit(64);
}
const docPath = join(ROOT, "docs", "reliability.md");
let earlier: EarlierRun | undefined;
if (merge) {
  try {
    earlier = earlierRun(readFileSync(docPath, "utf8"));
  } catch (err) {
    console.error(`--merge: ${(err as Error).message}`);
    process.exit(65);
  }
}

const runtimeDir = join(ROOT, ".cache", "e2e-runtime", "runtime");
if (CASES.some((c) => c.realGateway && selected(c) === null) && !existsSync(join(runtimeDir, "current.json"))) {
  // The same install the end-to-end tests' global setup does (test/e2e/global-setup.ts), once.
  const res = spawnSync(join(ROOT, "bin", "agent-supervisor"), ["--config", "/dev/null", "openclaw", "install"], {
    env: { ...process.env, AGENT_SUPERVISOR_DATA_DIR: join(ROOT, ".cache", "e2e-runtime") },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (res.status !== 0) {
    console.error(`openclaw install for the real-gateway cases failed (exit ${res.status}); --fast runs without it`);
    process.exit(69);
  }
}
const work = mkdtempSync(join(tmpdir(), "as-faults-"));
const log = (line: string) => console.error(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}`);
const pool = new RealPool(runtimeDir, join(work, "real"), log);

function selected(c: FaultCase): string | null {
  if (only && !only.has(c.id)) return "not run (--only)";
  if (fast && !c.fast) return "not run (--fast: needs the real gateway)";
  return null;
}

const rows: Row[] = [];
try {
  for (const c of CASES) {
    const skip = selected(c);
    const before = skip && earlier?.rows.get(cell(c.fault));
    if (skip && before) {
      rows.push({ kind: "kept", fault: c.fault, line: before.line, commit: before.commit });
      continue;
    }
    if (skip) {
      rows.push({ kind: "skipped", fault: c.fault, realGateway: c.realGateway, why: skip });
      continue;
    }
    const workDir = join(work, c.id);
    mkdirSync(workDir, { recursive: true });
    log(`case ${c.id}: ${c.fault}`);
    const started = Date.now();
    try {
      const result = await c.run({ runtimeDir, workDir, log, real: pool });
      rows.push({ kind: "result", result });
      log(`case ${c.id} finished in ${Math.round((Date.now() - started) / 1000)} s: detected ${result.detectedMs} ms, serving ${result.servingAgainMs} ms, lost ${result.lost}, duplicated ${result.duplicated}`);
    } catch (err) {
      rows.push({ kind: "error", fault: c.fault, realGateway: c.realGateway, error: (err as Error).message });
      log(`case ${c.id} FAILED: ${(err as Error).stack ?? String(err)}`);
    }
  }
} finally {
  await pool.release();
  if (keep) log(`work directory kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

const table = renderTable(rows);
console.log(table);
if (write) {
  const git = (a: string[]) => {
    try {
      return execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  };
  let openclaw = "not installed";
  try {
    openclaw = (JSON.parse(readFileSync(join(runtimeDir, "current.json"), "utf8")) as { openclawVersion: string }).openclawVersion;
  } catch {
    // the stand-in cases need no runtime
  }
  const machine: Machine = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "unknown CPU"}`,
    memory: `${Math.round(totalmem() / 1024 ** 3)} GiB RAM`,
    os: `Linux ${release()}`,
    node: process.versions.node,
    openclaw,
    commit: `${git(["rev-parse", "--short", "HEAD"])}${git(["status", "--porcelain", "--", "src"]) ? " (src/ modified)" : ""}`,
  };
  const list = (o: Readonly<Record<string, string>>) => Object.entries(o).map(([k, v]) => `\`${k}=${v}\``).join(", ");
  const settingsNote = [
    "Each case gets its own data directory, loopback ports and daemon (`agent-supervisor run`, started as",
    "`bin/agent-supervisor`); settings not named here or below are the defaults. The mock model",
    "(`src/dev/mock-model.ts`; `delay=<ms>` in a message slows its answer) stands in for the LLM provider.",
    "The real-gateway cases except the memory one share one daemon, connected to the reference control",
    "plane (provider keys come from its secrets), with",
    `${list(SESSION_SETTINGS)},`,
    `${list(CP_SETTINGS)};`,
    "the memory case runs its own daemon with the first line of these, no control plane. A killed daemon is",
    "relaunched at once, as systemd's `Restart=always` would. The short probe, sustain and sweep",
    "settings are chosen to make the suite quick; detection with the defaults takes correspondingly",
    "longer (a hang: 3 probes of up to 10 s every 15 s; memory: 5 minutes over the limit).",
  ].join("\n");
  writeFileSync(docPath, renderDoc(CASES, rows, machine, settingsNote, earlier));
  log("wrote docs/reliability.md");
}
process.exit(failed(rows) ? 1 : 0);
