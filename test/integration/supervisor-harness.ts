/**
 * Shared set-up for the GatewaySupervisor integration tests (supervisor.test.ts,
 * supervisor-restart.test.ts): the stand-in gateway scripts, the harness factory `supervisor()`
 * over real child processes, a real SQLite EventStore, the system clock and short policy values.
 *
 * Call {@link useSupervisorHarness} at the top of a test file to register the beforeEach/afterEach
 * that make a fresh temp dir with the scripts and, after each test, stop every harness and kill
 * every child's process group. `dir`, `spawned` and `extraPids` are live bindings renewed per test.
 *
 * Readiness normally comes from the WebSocket hello-ok; here the test calls markReady itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import type { GatewayEvent } from "../../src/store/events.ts";
import type { SpawnFn } from "../../src/core/os-process.ts";
import type { LaunchSpec } from "../../src/supervisor/child.ts";
import type { SupervisorSnapshot } from "../../src/supervisor/state.ts";
import { GatewaySupervisor, type SupervisorPolicy } from "../../src/supervisor/supervisor.ts";
import { AuditStore } from "../../src/store/audit.ts";
import { AuditJournal } from "../../src/store/audit-log.ts";
import { killGroup, memoryLogger, openTestDb, removeTempDirs, tempDir, waitFor, type LogSink, type TestDb } from "./helpers.ts";

export const SECRET = "sk-test-SECRET-abcdef0123456789";

/** Stand-in gateways, plain ESM so they need no type stripping. */
const SCRIPTS: Record<string, string> = {
  "never-ready.mjs": `console.log("stand-in up"); setInterval(() => {}, 1 << 30);`,
  "ignore-term.mjs": `process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
console.log("armed"); setInterval(() => {}, 1 << 30);`,
  "crash.mjs": `console.error("fatal: something broke"); process.exit(3);`,
  // A gateway that shuts down on its own a while after it is up (and announced it first).
  "exit-later.mjs": `console.log("armed"); setTimeout(() => process.exit(0), 1500);`,
  // Stands in for a gateway that authenticates to its provider with the key in its environment.
  "keyed.mjs": `console.log("ready with key " + process.env.OPENAI_COMPAT_API_KEY); setInterval(() => {}, 1 << 30);`,
  "exit78.mjs": `console.error("Invalid config: gateway.bogus is not allowed"); process.exit(78);`,
  // Exits 78 as the gateway; run as \`<entry> doctor ...\` it prints the secret from its environment,
  // on both streams and in lines longer than a 64 KiB pipe read, so some copy is cut by one.
  "exit78-doctor.mjs": `const s = process.env.TEST_SECRET;
if (process.argv[2] === "doctor") {
  console.log("doctor: checking provider key " + s);
  console.error("doctor: warning, token=" + s);
  for (let i = 0; i < 4; i++) process.stdout.write(s.repeat(4096) + "\\n"); // 124 KiB a line, one write each
  console.log("doctor: done"); // and exit 0 once the output is flushed (process.exit could cut it)
} else {
  console.error("Invalid config: gateway.bogus is not allowed"); process.exit(78);
}`,
  // openclaw 2026.9.6 after an earlier gateway was killed mid-startup: its database maintenance
  // lease is still held (5 min TTL; openclaw/openclaw#103145), so startup refuses with exit 78.
  // Refuses the first two starts (counted in a file beside it), then starts.
  "lease-held.mjs": `import { existsSync, readFileSync, writeFileSync } from "node:fs";
const f = new URL("./lease-starts", import.meta.url);
const n = existsSync(f) ? Number(readFileSync(f, "utf8")) : 0;
writeFileSync(f, String(n + 1));
if (n < 2) {
  console.error("OpenClaw startup migrations did not complete cleanly; refusing to report the gateway ready.");
  console.error("- Agent database maintenance deferred: agent database maintenance lease core:agent-database-maintenance/global is held by 277e7932-3a5f-42c9-9fea-ebe856191da9 (lease epoch 1796003807383)");
  console.error('- Migration step "profile-workspace" was not run because prior step "media-persistence" refused execution.');
  process.exit(78);
}
console.log("armed"); setInterval(() => {}, 1 << 30);`,
  "newer-config.mjs": `console.error("Refusing to run automatic gateway startup migrations because this OpenClaw binary (2026.9.6) is older than the config last written by OpenClaw 2099.1.1."); process.exit(1);`,
  // Spawns a grandchild in its own process group that ignores SIGTERM, then waits (or crashes).
  "with-grandchild.mjs": `import { spawn } from "node:child_process";
const g = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); console.log('gc armed'); setInterval(() => {}, 1 << 30)"], { stdio: ["ignore", "pipe", "inherit"] });
g.stdout.on("data", (d) => { if (String(d).includes("gc armed")) { console.log("grandchild " + g.pid); if (process.argv[2] === "crash") setTimeout(() => process.exit(3), 50); } });
setInterval(() => {}, 1 << 30);`,
  "noisy.mjs": `const secret = process.env.TEST_SECRET;
console.log("\\u001b[32mgateway\\u001b[39m listening with key " + secret);
console.error("warning: auth " + secret);
const line = "y".repeat(1023) + "\\n";
const chunk = line.repeat(256); // 256 KiB
let left = 16; // 4 MiB on stdout
const big = "z".repeat(2 * 1024 * 1024); // one 2 MiB line on stderr
process.stderr.write(big + "\\n");
function pump() {
  while (left > 0) {
    left--;
    if (!process.stdout.write(chunk)) return process.stdout.once("drain", pump);
  }
  console.log("finished writing");
}
pump();
setInterval(() => {}, 1 << 30);`,
};

export const policy: SupervisorPolicy = { startupTimeoutMs: 1_500, stopGraceMs: 500, initialMs: 50, maxMs: 200, resetAfterMs: 3_600_000 };

export type Harness = {
  sup: GatewaySupervisor;
  db: TestDb;
  sink: LogSink;
  states: SupervisorSnapshot[];
  controller: AbortController;
  run: () => Promise<void>;
  pidFile: string;
  prepared: number[];
  /** The audit trail the supervisor records into (a real AuditStore over the same file). */
  audit: AuditStore;
};

/** The current test's temp dir, holding the stand-in scripts. */
export let dir: string;
/** Children to kill (by process group) after the test. */
export let spawned: ChildProcess[];
/** More process groups to kill after the test (e.g. grandchildren). */
export let extraPids: number[];
let harnesses: Harness[];

function reset(): void {
  dir = tempDir("as-sup-");
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(join(dir, name), text);
  spawned = [];
  extraPids = [];
  harnesses = [];
}

async function teardown(): Promise<void> {
  for (const h of harnesses) h.controller.abort();
  await Promise.allSettled(harnesses.map((h) => h.run()));
  for (const c of spawned) if (c.pid !== undefined) killGroup(c.pid);
  for (const pid of extraPids) killGroup(pid);
  for (const h of harnesses) h.db.close();
  removeTempDirs();
}

/** Registers the beforeEach/afterEach of the supervisor tests; call once at the top of a test file. */
export function useSupervisorHarness(): void {
  beforeEach(reset);
  afterEach(teardown);
}

/** `child_process.spawn`, remembering every child so afterEach can kill its group. */
const trackingSpawn: SpawnFn = (command, args, options) => {
  const c = spawn(command, args, options);
  spawned.push(c);
  return c;
};

type Options = {
  script: string;
  args?: string[];
  /** Call markReady once the child has printed this line (or at once with `true`). */
  readyOn?: string | true;
  pidFile?: string;
  env?: Record<string, string>;
  onPrepare?: (generation: number) => void;
  breaker?: { windowMs: number; maxRestarts: number };
  doctor?: (spec: LaunchSpec, secrets: readonly string[]) => Promise<number | null>;
  /** Thrown by prepare() for this generation, if returned. */
  prepareError?: (generation: number) => Error | undefined;
  /** The launch spec (e.g. a real GatewayLaunch's prepare) instead of `script` in the test's dir. */
  spec?: () => Promise<LaunchSpec>;
  /** The current version of the launch inputs (SupervisorDeps.inputsVersion). */
  inputsVersion?: () => number;
};

/** A GatewaySupervisor over the stand-in `o.script` in the test's dir; afterEach stops it. */
export function supervisor(o: Options): Harness {
  const db = openTestDb();
  const sink = memoryLogger("info");
  const states: SupervisorSnapshot[] = [];
  const controller = new AbortController();
  const pidFile = o.pidFile ?? join(dir, "gateway.pid");
  const prepared: number[] = [];
  let running: Promise<void> | undefined;
  const audit = new AuditStore(db.db);
  const sup: GatewaySupervisor = new GatewaySupervisor({
    audit: new AuditJournal({ store: audit, clock: systemClock, random: () => 0, log: sink.log }),
    spawn: trackingSpawn,
    clock: systemClock,
    random: () => 0,
    log: sink.log,
    events: db.events,
    policy,
    pidFile,
    secrets: () => [SECRET],
    breaker: o.breaker,
    doctor: o.doctor,
    inputsVersion: o.inputsVersion,
    openclawVersion: "2026.9.6",
    prepare: async (generation): Promise<LaunchSpec> => {
      prepared.push(generation);
      o.onPrepare?.(generation);
      const err = o.prepareError?.(generation);
      if (err) throw err;
      if (o.spec) return o.spec();
      return {
        command: process.execPath,
        args: [join(dir, o.script), ...(o.args ?? [])],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...o.env },
        cwd: dir,
      };
    },
    onState: (snap) => {
      states.push(snap);
      if (o.readyOn !== undefined && snap.state === "starting" && snap.pid !== null) {
        const gen = snap.generation;
        const marker = o.readyOn;
        void (async () => {
          // Like hello-ok, readiness arrives asynchronously, after the supervisor started watching.
          if (marker === true) await new Promise((r) => setImmediate(r));
          else await waitFor(() => sink.text().includes(marker), `"${marker}" from the child`);
          sup.markReady(gen);
        })().catch(() => {});
      }
    },
  });
  const h: Harness = {
    sup,
    db,
    sink,
    states,
    controller,
    pidFile,
    prepared,
    audit,
    run: () => (running ??= sup.run(controller.signal)),
  };
  harnesses.push(h);
  return h;
}

/** Events oldest first. */
export function events(h: Harness): GatewayEvent[] {
  return h.db.events.recent(1_000).reverse();
}

/** Stops the supervisor (as on daemon shutdown) and waits for its run loop to end. */
export async function stop(h: Harness): Promise<void> {
  h.controller.abort();
  await h.run();
}
