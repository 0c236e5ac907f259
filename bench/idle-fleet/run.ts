/**
 * A fleet that idles cheaply (issue 15, goal 4): N runtimes' worth of the REAL sync loops (the
 * sync worker and secrets poller over the real control-plane client, runtime.ts) on a virtual
 * clock (virtual-clock.ts) against a counting control plane (counting-cp.ts), for N = 100, 1,000
 * and 10,000. Three set-ups side by side, each with its own source tree's setting defaults:
 * - today: the code of a baseline commit (default: the one this work started from), extracted with
 *   `git archive` into .cache/bench-baseline/<commit>/, against a control plane on contract 1 as
 *   first published;
 * - new, older control plane: this checkout's code against that same control plane (no versions
 *   on claim answers, waitMs at most 60 s): what a fleet gets before its control plane is updated;
 * - new: this checkout's code against a control plane with issue 15's additions.
 *
 * Each run, in virtual time: runtimes start at random in the first 30 s; after a 5 min warm-up the
 * idle window counts requests (no turns, no changes); then every runtime's secrets are rotated
 * once, at a random time within 5 min, and the time from the rotation to its application by the
 * poller is recorded (the run waits up to 5 min more for it); then the busy window: each runtime
 * gets a turn every `turnEvery` s on average (Poisson), each taking 5 s, 4 at most at once;
 * requests are counted after 2 min of it. Every answer takes `latency` ms to arrive.
 *
 * Usage: sh scripts/setup.sh && .cache/node/bin/node bench/idle-fleet/run.ts [--n 100,1000,10000]
 *   [--baseline <commit>] [--idle-min 20] [--busy-min 10] [--turn-every 60] [--latency 20] [--seed 1]
 * (`npm run bench:idle -- --n 100`). Prints a Markdown table and a JSON line per run.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CountingControlPlane, type Op } from "./counting-cp.ts";
import { loadImpl, startRuntime, type Impl } from "./runtime.ts";
import { VirtualClock } from "./virtual-clock.ts";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "100,1000,10000" },
    baseline: { type: "string", default: "48963b4" },
    "idle-min": { type: "string", default: "20" },
    "busy-min": { type: "string", default: "10" },
    "turn-every": { type: "string", default: "60" },
    latency: { type: "string", default: "20" },
    seed: { type: "string", default: "1" },
  },
});
const MIN = 60_000;
const SIZES = args.n.split(",").map(Number);
const IDLE_MS = Number(args["idle-min"]) * MIN;
const BUSY_MS = Number(args["busy-min"]) * MIN;
const TURN_EVERY_MS = Number(args["turn-every"]) * 1000;
const LATENCY_MS = Number(args.latency);
const WARMUP_MS = 5 * MIN;
const ROTATE_SPREAD_MS = 5 * MIN;
const ROTATE_WAIT_MS = 5 * MIN;
const BUSY_WARMUP_MS = 2 * MIN;

/** mulberry32: a small seeded PRNG, [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The baseline's src/ tree, extracted once. @returns its path */
function baselineSrc(commit: string): string {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  const sha = execFileSync("git", ["-C", repo, "rev-parse", "--verify", `${commit}^{commit}`], { encoding: "utf8" }).trim();
  const dir = `${repo}.cache/bench-baseline/${sha}`;
  if (!existsSync(`${dir}/src/sync/worker.ts`)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync("git", ["-C", repo, "archive", sha, "src"], { maxBuffer: 1 << 30 });
    execFileSync("tar", ["-x", "-C", dir], { input: tar });
  }
  return `${dir}/src`;
}

type Result = {
  setup: string;
  n: number;
  idle: { perRuntime: number; total: number; byOp: Partial<Record<Op, number>> };
  busy: { perRuntime: number; total: number; byOp: Partial<Record<Op, number>>; turns: number };
  secretToApplyMs: { p50: number; p99: number; max: number; notApplied: number };
};

const perSecond = (count: number, windowMs: number) => count / (windowMs / 1000);
const rates = (counts: Map<Op, number>, windowMs: number, n: number) =>
  Object.fromEntries([...counts].sort().map(([op, c]) => [op, Number(perSecond(c, windowMs) / n).toPrecision(3)]));

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function simulate(setup: string, impl: Impl, announce: boolean, n: number, seed: number): Promise<Result> {
  const clock = new VirtualClock();
  const random = prng(seed);
  const cp = new CountingControlPlane(clock, { announce, latencyMs: LATENCY_MS, leaseMs: 60_000, check: n <= 100 });
  // One controller per runtime, as each daemon has its own: thousands of listeners on one signal
  // would make every add and remove a linear scan.
  const controllers: AbortController[] = [];
  const rotatedAt = new Map<string, { version: string; atMs: number }>();
  const latencies: number[] = [];
  const ids = Array.from({ length: n }, (_, i) => `rt-${i}`);
  const running: Promise<unknown>[] = [];
  const onSecretsApplied = (rt: string, version: string, atMs: number) => {
    const r = rotatedAt.get(rt);
    if (r?.version === version) {
      latencies.push(atMs - r.atMs);
      rotatedAt.delete(rt);
    }
  };
  for (const runtimeId of ids) {
    clock.at(random() * 30_000, () => {
      const ac = new AbortController();
      controllers.push(ac);
      running.push(startRuntime({ impl, cp, clock, runtimeId, random, deliverMs: 5_000, concurrency: 4, onSecretsApplied }, ac.signal));
    });
  }
  let t = WARMUP_MS;
  await clock.runUntil(t);

  cp.startCounting();
  await clock.runUntil((t += IDLE_MS));
  cp.stopCounting();
  const idleCounts = new Map(cp.counts);

  const rotateStart = t;
  for (const rt of ids) clock.at(random() * ROTATE_SPREAD_MS, () => rotatedAt.set(rt, { version: cp.rotateSecrets(rt), atMs: clock.monotonic() }));
  await clock.runUntil((t += ROTATE_SPREAD_MS + ROTATE_WAIT_MS));
  void rotateStart;

  const busyStart = t;
  let turns = 0;
  const arrivals = (rt: string) => {
    const gap = -Math.log(1 - random()) * TURN_EVERY_MS;
    clock.at(gap, () => {
      if (clock.monotonic() >= busyStart + BUSY_WARMUP_MS + BUSY_MS) return;
      cp.enqueue(rt);
      turns++;
      arrivals(rt);
    });
  };
  for (const rt of ids) arrivals(rt);
  await clock.runUntil((t += BUSY_WARMUP_MS));
  const turnsBefore = turns;
  cp.startCounting();
  await clock.runUntil((t += BUSY_MS));
  cp.stopCounting();
  const busyTurns = turns - turnsBefore;

  // Requests in flight at the abort that take no signal (the poller's) still get their answers.
  for (const ac of controllers) ac.abort();
  await clock.runUntil(t + MIN);
  await Promise.all(running);

  const idleTotal = perSecond([...idleCounts.values()].reduce((a, b) => a + b, 0), IDLE_MS);
  const busyTotal = perSecond(cp.total(), BUSY_MS);
  return {
    setup,
    n,
    idle: { perRuntime: idleTotal / n, total: idleTotal, byOp: rates(idleCounts, IDLE_MS, n) as Result["idle"]["byOp"] },
    busy: { perRuntime: busyTotal / n, total: busyTotal, byOp: rates(cp.counts, BUSY_MS, n) as Result["busy"]["byOp"], turns: busyTurns },
    secretToApplyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: pct(latencies, 100), notApplied: rotatedAt.size },
  };
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));
const secs = (ms: number) => (Number.isNaN(ms) ? "-" : `${(ms / 1000).toFixed(ms < 1000 ? 3 : 1)} s`);

const today = await loadImpl(baselineSrc(args.baseline), `baseline ${args.baseline}`);
const current = await loadImpl(fileURLToPath(new URL("../../src", import.meta.url)), "this checkout");
const setups: [string, Impl, boolean][] = [
  [`today (${args.baseline})`, today, false],
  ["new daemon, older control plane", current, false],
  ["new daemon and control plane", current, true],
];
console.log(`idle window ${IDLE_MS / MIN} min, busy window ${BUSY_MS / MIN} min (a turn every ${TURN_EVERY_MS / 1000} s per runtime, 5 s each), answers after ${LATENCY_MS} ms, seed ${args.seed}\n`);
console.log("| N | set-up | idle req/s per runtime | idle req/s, fleet | busy req/s per runtime | busy req/s, fleet | secret change → applied p50 / p99 / max | real time |");
console.log("| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |");
const results: Result[] = [];
for (const n of SIZES) {
  for (const [name, impl, announce] of setups) {
    const t0 = performance.now();
    const r = await simulate(name, impl, announce, n, Number(args.seed));
    const took = (performance.now() - t0) / 1000;
    results.push(r);
    const l = r.secretToApplyMs;
    const late = l.notApplied > 0 ? ` (${l.notApplied} not applied)` : "";
    console.log(`| ${n} | ${name} | ${fmt(r.idle.perRuntime)} | ${fmt(r.idle.total)} | ${fmt(r.busy.perRuntime)} | ${fmt(r.busy.total)} | ${secs(l.p50)} / ${secs(l.p99)} / ${secs(l.max)}${late} | ${took.toFixed(0)} s |`);
  }
}
console.log("");
for (const r of results) console.log(JSON.stringify(r));
