/**
 * Delivery overhead (issue 15, goal 1), side by side in ONE run against ONE real gateway with the
 * mock model: (a) a raw `agent` request over our own WebSocket (@openclaw/gateway-client, fresh
 * session per turn, expectFinal) and (b) the same turn through the daemon (`POST /v1/turns`, then
 * `GET /v1/turns/:id?wait=`). The two paths alternate turn by turn (the order flips every pair) so
 * both see the same machine state. Also reports the first turn after the boot (goal 5), which is
 * excluded from the percentiles.
 *
 * Usage: .cache/node/bin/node bench/overhead.ts [pairs=50]
 * Env: BENCH_CPU_PROF=<dir> starts the daemon with `--cpu-prof --cpu-prof-dir=<dir>` (via
 * NODE_OPTIONS; the profile is written when the daemon exits on SIGTERM). BENCH_WARM=1 sends
 * `tools.catalog {agentId:"main"}` and `tools.effective` (read-only RPCs that build the tool
 * inventory without calling the model) right after readiness, before the first turn: a warm-up
 * experiment for goal 5.
 * Prints a JSON summary: p50/p90/p99 per path in ms, ratio daemon/raw and difference in ms.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayClient } from "@openclaw/gateway-client";
import { startMockModel } from "../src/dev/mock-model.ts";
import { summary } from "./lib.ts";
import { connectGateway, gatewayRequest, killSiteGateway, makeSite, postTurn, ROOT, startDaemon, waitReady, waitTurn, type Site } from "../test/e2e/harness.ts";

const pairs = Number(process.argv[2] ?? 50);
const profDir = process.env.BENCH_CPU_PROF;

/** One raw turn: `agent` on a fresh session, waiting for the final `res`; its wall time in ms. */
async function rawTurn(client: GatewayClient, i: number): Promise<number> {
  const t = performance.now();
  const res: any = await client.request(
    "agent",
    { message: `raw turn ${i}`, sessionKey: `agent:main:raw-${randomUUID()}`, idempotencyKey: randomUUID() },
    { expectFinal: true, timeoutMs: 120_000 },
  );
  if (res?.status !== "ok") throw new Error(`raw turn ${i}: ${JSON.stringify(res).slice(0, 300)}`);
  return performance.now() - t;
}

/** One daemon turn on a fresh conversation: POST then long-poll until done; wall time in ms. */
async function daemonTurn(site: Site, i: number): Promise<number> {
  const t = performance.now();
  const turn = await waitTurn(site, await postTurn(site, `ovh-${randomUUID()}`, `daemon turn ${i}`), 120_000);
  if (turn.state !== "done") throw new Error(`daemon turn ${i} failed: ${JSON.stringify(turn.error)}`);
  return performance.now() - t;
}

const model = await startMockModel();
const dir = mkdtempSync(join(tmpdir(), "as-bench-ovh-"));
const site = await makeSite(dir, join(ROOT, ".cache", "e2e-runtime", "runtime"), model.url, { AGENT_SUPERVISOR_LOG_LEVEL: "warn" });
const daemon = startDaemon(site, profDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` } : {});
let client: GatewayClient | undefined;
try {
  const t0 = performance.now();
  await waitReady(site, 240_000);
  const bootToReadyMs = performance.now() - t0;
  let warmMs: number | undefined;
  if (process.env.BENCH_WARM === "1") {
    const w = performance.now();
    for (const [method, params] of [["tools.catalog", { agentId: "main" }], ["tools.effective", { sessionKey: `agent:main:warm-${randomUUID()}` }]] as const) {
      await gatewayRequest(site, method, params).catch((err: Error) => console.error(`${method}: ${err.message}`));
    }
    warmMs = performance.now() - w;
  }
  // Goal 5: the first turn after the boot (the gateway loads its agent runtime lazily).
  const firstTurnMs = await daemonTurn(site, -1);
  client = await connectGateway(site);
  await rawTurn(client, -1); // the raw client's own warm-up (its first request on the connection)
  const raw: number[] = [];
  const viaDaemon: number[] = [];
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      raw.push(await rawTurn(client, i));
      viaDaemon.push(await daemonTurn(site, i));
    } else {
      viaDaemon.push(await daemonTurn(site, i));
      raw.push(await rawTurn(client, i));
    }
  }
  const a = summary(raw);
  const b = summary(viaDaemon);
  console.log(
    JSON.stringify(
      {
        pairs,
        bootToReadyMs: Math.round(bootToReadyMs),
        warmMs: warmMs === undefined ? null : Math.round(warmMs),
        firstTurnAfterBootMs: Math.round(firstTurnMs),
        rawAgentMs: a,
        daemonMs: b,
        ratio: { p50: Number((b.p50 / a.p50).toFixed(3)), p99: Number((b.p99 / a.p99).toFixed(3)) },
        differenceMs: { p50: Number((b.p50 - a.p50).toFixed(1)), p90: Number((b.p90 - a.p90).toFixed(1)), p99: Number((b.p99 - a.p99).toFixed(1)) },
        // Per pair (the two turns run back to back): robust against a busy machine's slow phases.
        pairedDifferenceMs: summary(raw.map((r, i) => viaDaemon[i]! - r)),
        modelRequests: model.requests.length,
        // Turns over 1.5 s on either path (index, raw ms, daemon ms) and the daemon's warn/error log lines.
        slowPairs: raw.flatMap((r, i) => (r > 1500 || viaDaemon[i]! > 1500 ? [[i, Math.round(r), Math.round(viaDaemon[i]!)]] : [])),
        daemonLog: daemon.logs.slice(-20),
      },
      null,
      2,
    ),
  );
} finally {
  client?.stop();
  daemon.proc.kill("SIGTERM");
  await daemon.exited;
  killSiteGateway(site);
  await model.close();
  rmSync(dir, { recursive: true, force: true });
}
