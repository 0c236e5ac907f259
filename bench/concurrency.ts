/**
 * Concurrency without head-of-line blocking (issue 15, goal 3), side by side in ONE run against
 * ONE real gateway with the mock model answering each turn after `delay=<ms>`:
 * (a) raw: `conversations` conversations at once, each its own session, sending `turns` turns
 *     back to back as `agent` requests (@openclaw/gateway-client, expectFinal) on one connection;
 * (b) daemon: the same load through the daemon (`POST /v1/turns`, then `GET /v1/turns/:id?wait=`);
 * (c) head of line: one conversation whose answer takes `slow-ms`, sent first, beside
 *     `conversations - 1` others, raw and through the daemon; the others' latency and throughput
 *     are compared with (a) and (b).
 * Every turn's message carries a unique tag; the mock model's requests are counted per tag, so
 * each phase reports whether every turn cost exactly one model call.
 *
 * For each value in `--concurrency` the daemon (and with it its gateway) is started afresh with
 * that TURN_CONCURRENCY (extra settings: `--env KEY=VALUE`, repeatable), and (a) to (c) run on it.
 *
 * Usage: .cache/node/bin/node bench/concurrency.ts [--conversations 64] [--turns 3]
 *   [--delay-ms 1000] [--slow-ms 30000] [--concurrency 4,8,16,64] [--rounds 2] [--env KEY=VALUE]
 * `--rounds`: (a) and (b) run this many times each, in ABBA order (raw, daemon, daemon, raw, ...);
 * their throughput is pooled (all turns / all wall time).
 * Env: BENCH_CPU_PROF=<dir> runs the daemon with `--cpu-prof --cpu-prof-dir=<dir>`.
 * Prints one JSON document per concurrency value, then a one-line table of all of them.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { GatewayClient } from "@openclaw/gateway-client";
import { startMockModel, type MockModel } from "../src/dev/mock-model.ts";
import { connectGateway, gatewayPid, killSiteGateway, makeSite, postTurn, ROOT, startDaemon, waitReady, waitTurn, type Site } from "../test/e2e/harness.ts";
import { cpuMs, peakRssMiB, summary } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    conversations: { type: "string", default: "64" },
    turns: { type: "string", default: "3" },
    "delay-ms": { type: "string", default: "1000" },
    "slow-ms": { type: "string", default: "30000" },
    concurrency: { type: "string", default: "4,8,16,64" },
    rounds: { type: "string", default: "2" },
    env: { type: "string", multiple: true, default: [] },
  },
});
const conversations = Number(opt.conversations);
const turnsEach = Number(opt.turns);
const delayMs = Number(opt["delay-ms"]);
const slowMs = Number(opt["slow-ms"]);
const rounds = Number(opt.rounds);
const levels = opt.concurrency.split(",").map(Number);
const extraEnv = Object.fromEntries(opt.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const profDir = process.env.BENCH_CPU_PROF;

/** Sends one turn of conversation `conv` with `message`; resolves when answered (throws if it failed). */
type Send = (conv: string, message: string) => Promise<void>;

function rawSend(client: GatewayClient): Send {
  return async (conv, message) => {
    const res: any = await client.request(
      "agent",
      { message, sessionKey: `agent:main:${conv}`, idempotencyKey: randomUUID() },
      { expectFinal: true, timeoutMs: 300_000 },
    );
    if (res?.status !== "ok") throw new Error(`raw ${conv}: ${JSON.stringify(res).slice(0, 300)}`);
  };
}

function daemonSend(site: Site): Send {
  return async (conv, message) => {
    const turn = await waitTurn(site, await postTurn(site, conv, message), 300_000);
    if (turn.state !== "done") throw new Error(`daemon ${conv} failed: ${JSON.stringify(turn.error)}`);
  };
}

type Phase = {
  /** Every turn's latency (ms), for pooling; left out of the printed report. */
  lat: number[];
  turns: number;
  wallMs: number;
  turnsPerS: number;
  latencyMs: ReturnType<typeof summary>;
  slowMs?: number;
  modelCalls: Calls;
  /** CPU time used during the phase (ms), and the gateway's peak RSS since its start at the phase's end (MiB). */
  cpuMs: { gateway?: number; daemon?: number };
  gatewayPeakRssMiB?: number;
};
type Calls = { total: number; exactlyOnce: number; missing: number; duplicated: number };

/** Model calls per tag: how many turns got exactly one, none, more than one; and all calls in the phase. */
function countCalls(model: MockModel, from: number, tags: string[]): Calls {
  const seen = new Map<string, number>();
  const calls = model.requests.slice(from);
  for (const r of calls) {
    const tag = /tag=(\S+)/.exec(r.prompt)?.[1];
    if (tag) seen.set(tag, (seen.get(tag) ?? 0) + 1);
  }
  const n = tags.map((t) => seen.get(t) ?? 0);
  return { total: calls.length, exactlyOnce: n.filter((x) => x === 1).length, missing: n.filter((x) => x === 0).length, duplicated: n.filter((x) => x > 1).length };
}

/**
 * `convs` conversations at once, `turnsEach` turns each back to back (a slow conversation first
 * when `slow`): latencies of the others, their throughput (turns / time until the last of them
 * answered), the slow turn's latency, model calls and CPU of the gateway and daemon.
 */
async function phase(name: string, send: Send, model: MockModel, pids: { gateway: number; daemon: number }, convs: number, slow: boolean): Promise<Phase> {
  const run = randomUUID().slice(0, 8);
  const tags: string[] = [];
  const msg = (d: number) => {
    const tag = randomUUID();
    tags.push(tag);
    return `bench ${name} delay=${d} tag=${tag}`;
  };
  const from = model.requests.length;
  const cpu0 = { gateway: cpuMs(pids.gateway), daemon: cpuMs(pids.daemon) };
  const t0 = performance.now();
  let slowLatency: number | undefined;
  const slowDone = slow ? send(`${name}-${run}-slow`, msg(slowMs)).then(() => (slowLatency = performance.now() - t0)) : Promise.resolve();
  const lat: number[] = [];
  let lastMs = 0;
  await Promise.all(
    Array.from({ length: convs }, async (_, i) => {
      for (let k = 0; k < turnsEach; k++) {
        const t = performance.now();
        await send(`${name}-${run}-${i}`, msg(delayMs));
        lat.push(performance.now() - t);
      }
      lastMs = Math.max(lastMs, performance.now() - t0);
    }),
  );
  await slowDone;
  const cpu1 = { gateway: cpuMs(pids.gateway), daemon: cpuMs(pids.daemon) };
  const d = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : b - a);
  return {
    lat,
    turns: lat.length,
    wallMs: Math.round(lastMs),
    turnsPerS: Number(((lat.length * 1000) / lastMs).toFixed(2)),
    latencyMs: summary(lat),
    ...(slowLatency === undefined ? {} : { slowMs: Math.round(slowLatency) }),
    modelCalls: countCalls(model, from, tags),
    cpuMs: { gateway: d(cpu0.gateway, cpu1.gateway), daemon: d(cpu0.daemon, cpu1.daemon) },
    gatewayPeakRssMiB: peakRssMiB(pids.gateway),
  };
}

/** A phase as printed (without its latencies). */
function brief(p: Phase): Omit<Phase, "lat"> {
  const { lat: _lat, ...rest } = p;
  return rest;
}

/** Several runs of one path taken together: turns / summed wall time, pooled latencies, summed calls and CPU. */
function pool(ps: Phase[]) {
  const turns = ps.reduce((n, p) => n + p.turns, 0);
  const wallMs = ps.reduce((n, p) => n + p.wallMs, 0);
  const sum = (f: (p: Phase) => number | undefined) => ps.reduce((n, p) => n + (f(p) ?? 0), 0);
  return {
    turns,
    wallMs,
    turnsPerS: Number(((turns * 1000) / wallMs).toFixed(2)),
    latencyMs: summary(ps.flatMap((p) => p.lat)),
    modelCalls: { total: sum((p) => p.modelCalls.total), exactlyOnce: sum((p) => p.modelCalls.exactlyOnce), missing: sum((p) => p.modelCalls.missing), duplicated: sum((p) => p.modelCalls.duplicated) },
    gatewayCpuMsPerTurn: Math.round(sum((p) => p.cpuMs.gateway) / turns),
    daemonCpuMsPerTurn: Math.round(sum((p) => p.cpuMs.daemon) / turns),
  };
}

/** One daemon + gateway with TURN_CONCURRENCY=`c`: phases (a), (b), (c). */
async function measure(c: number, model: MockModel) {
  const dir = mkdtempSync(join(tmpdir(), "as-bench-conc-"));
  const site = await makeSite(dir, join(ROOT, ".cache", "e2e-runtime", "runtime"), model.url, { AGENT_SUPERVISOR_LOG_LEVEL: "warn", TURN_CONCURRENCY: String(c), ...extraEnv });
  const daemon = startDaemon(site, profDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` } : {});
  let client: GatewayClient | undefined;
  try {
    await waitReady(site, 240_000);
    const pids = { gateway: await gatewayPid(site), daemon: daemon.proc.pid! };
    client = await connectGateway(site);
    const raw = rawSend(client);
    const viaDaemon = daemonSend(site);
    // Warm-up: the first turn after a boot loads the agent runtime lazily; one per path.
    await viaDaemon(`warm-${randomUUID()}`, "warm-up");
    await raw(`warm-${randomUUID()}`, "warm-up");
    // ABBA: raw, daemon, then daemon, raw, ... so that a slow phase of the shared machine (or of
    // the gateway as its session store grows) falls on both paths alike.
    const runs: { raw: Phase[]; daemon: Phase[] } = { raw: [], daemon: [] };
    for (let r = 0; r < rounds; r++) {
      for (const path of r % 2 === 0 ? (["raw", "daemon"] as const) : (["daemon", "raw"] as const)) {
        runs[path].push(await phase(path, path === "raw" ? raw : viaDaemon, model, pids, conversations, false));
      }
    }
    const a = pool(runs.raw);
    const b = pool(runs.daemon);
    const ca = await phase("raw-hol", raw, model, pids, conversations - 1, true);
    const cb = await phase("daemon-hol", viaDaemon, model, pids, conversations - 1, true);
    return {
      turnConcurrency: c,
      raw: { ...a, runs: runs.raw.map(brief) },
      daemon: { ...b, runs: runs.daemon.map(brief) },
      ratio: Number((b.turnsPerS / a.turnsPerS).toFixed(3)),
      headOfLine: { raw: brief(ca), daemon: brief(cb), ratio: Number((cb.turnsPerS / ca.turnsPerS).toFixed(3)) },
      // The daemon's own warn/error lines (the gateway's stderr, relayed with source "gateway", left out).
      daemonLog: daemon.logs.filter((l) => !l.includes('"source":"gateway"')).slice(-10),
    };
  } finally {
    client?.stop();
    daemon.proc.kill("SIGTERM");
    await daemon.exited;
    killSiteGateway(site);
    rmSync(dir, { recursive: true, force: true });
  }
}

const model = await startMockModel();
const rows: string[] = [];
try {
  for (const c of levels) {
    const r = await measure(c, model);
    console.log(JSON.stringify({ conversations, turnsEach, delayMs, slowMs, rounds, env: extraEnv, ...r }, null, 2));
    const h = r.headOfLine;
    rows.push(
      `| ${c} | ${r.raw.turnsPerS} | ${r.daemon.turnsPerS} | ${r.ratio} | ${r.raw.latencyMs.p50} / ${r.raw.latencyMs.p99} | ${r.daemon.latencyMs.p50} / ${r.daemon.latencyMs.p99} | ` +
        `${h.raw.turnsPerS} | ${h.daemon.turnsPerS} | ${h.ratio} | ${h.daemon.latencyMs.p50} / ${h.daemon.latencyMs.p99} | ${h.daemon.slowMs} | ` +
        `${r.raw.gatewayCpuMsPerTurn} / ${r.daemon.gatewayCpuMsPerTurn} | ${h.daemon.gatewayPeakRssMiB} |`,
    );
  }
} finally {
  await model.close();
}
console.log(
  "| TURN_CONCURRENCY | raw turns/s | daemon turns/s | ratio | raw p50 / p99 ms | daemon p50 / p99 ms | HOL raw turns/s | HOL daemon turns/s | HOL ratio | HOL daemon others p50 / p99 ms | slow turn ms | gateway CPU ms/turn raw / daemon | gateway peak RSS MiB |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
