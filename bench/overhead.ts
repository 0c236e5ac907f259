/**
 * Delivery overhead (issue 15, goal 1), side by side in ONE run against ONE real gateway with the
 * mock model: (a) a raw `agent` request over our own WebSocket (@openclaw/gateway-client, fresh
 * session per turn, expectFinal), (b) the same turn through the daemon in two requests (`POST
 * /v1/turns`, then `GET /v1/turns/:id?wait=`) and (c) in one (`POST /v1/turns?wait=`). The paths
 * take turns, one of each per round, in an order that rotates every round, so all see the same
 * machine state. Also reports the first turn after the boot (goal 5), excluded from the percentiles.
 *
 * Where a daemon turn's time goes is read from its row in the daemon's SQLite afterwards:
 * `first_delivered_at` and `finished_at` (epoch ms) split the client's wall time into before the
 * `agent` request (HTTP in, commit), inside it (the gateway's run as the daemon saw it) and after
 * it (commit of the reply, HTTP out); the middle part is compared with the raw turns.
 *
 * Usage: .cache/node/bin/node bench/overhead.ts [rounds=50]
 * Env: BENCH_CPU_PROF=<dir> starts the daemon with `--cpu-prof --cpu-prof-dir=<dir>` (via
 * NODE_OPTIONS; the profile is written when the daemon exits on SIGTERM). BENCH_WARM=1 sends
 * `tools.catalog {agentId:"main"}` and `tools.effective` (read-only RPCs that build the tool
 * inventory without calling the model) right after readiness, before the first turn: a warm-up
 * experiment for goal 5.
 * Prints a JSON summary: p50/p90/p99 per path in ms, ratio daemon/raw and difference in ms.
 */
import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayClient } from "@openclaw/gateway-client";
import { startMockModel } from "../src/dev/mock-model.ts";
import { apiToken, connectGateway, gatewayRequest, killSiteGateway, makeSite, postTurn, ROOT, startDaemon, waitReady, waitTurn, type Site } from "../test/e2e/harness.ts";

const rounds = Number(process.argv[2] ?? 50);
const profDir = process.env.BENCH_CPU_PROF;

/** The p-th percentile (nearest rank, 0-100) of an ascending array, in its unit. */
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

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

/** Wall clock in epoch ms with sub-ms resolution, comparable with the daemon's `Date.now()` stamps. */
const epochMs = () => performance.timeOrigin + performance.now();

/** Client-side times of one daemon turn (epoch ms), to split against its row's stamps. */
type DaemonSample = { turnId: string; startMs: number; endMs: number };

/** One daemon turn on a fresh conversation: POST then long-poll until done. */
async function daemonTurn(site: Site, i: number): Promise<DaemonSample> {
  const startMs = epochMs();
  const turnId = await postTurn(site, `ovh-${randomUUID()}`, `daemon turn ${i}`);
  const turn = await waitTurn(site, turnId, 120_000);
  if (turn.state !== "done") throw new Error(`daemon turn ${i} failed: ${JSON.stringify(turn.error)}`);
  return { turnId, startMs, endMs: epochMs() };
}

/** One daemon turn on a fresh conversation in ONE request: `POST /v1/turns?wait=`. */
async function daemonTurnOneRequest(site: Site, i: number): Promise<DaemonSample> {
  const startMs = epochMs();
  const res = await fetch(`http://127.0.0.1:${site.httpPort}/v1/turns?wait=60000`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken(site)}`, "content-type": "application/json" },
    body: JSON.stringify({ conversationId: `ovh1-${randomUUID()}`, message: `daemon turn ${i}` }),
  });
  const turn = (await res.json()) as { turnId: string; state: string; error?: unknown };
  if (res.status !== 200 || turn.state !== "done") throw new Error(`daemon turn ${i}: ${res.status} ${JSON.stringify(turn)}`);
  return { turnId: turn.turnId, startMs, endMs: epochMs() };
}

/**
 * Split daemon turns by their rows' stamps (ms): before the `agent` request, inside it, after it.
 * The stamps are whole ms (Date.now()), so each part is ±1 ms.
 */
function split(dbPath: string, samples: DaemonSample[]) {
  const db = new Database(dbPath, { readonly: true });
  try {
    const row = db.prepare(`SELECT created_at, first_delivered_at, finished_at FROM turns WHERE id = ?`);
    const parts = samples.map((s) => {
      const r = row.get(s.turnId) as { created_at: number; first_delivered_at: number; finished_at: number };
      return { before: r.first_delivered_at - s.startMs, gateway: r.finished_at - r.first_delivered_at, after: s.endMs - r.finished_at };
    });
    return { beforeMs: summary(parts.map((p) => p.before)), gatewayMs: summary(parts.map((p) => p.gateway)), afterMs: summary(parts.map((p) => p.after)) };
  } finally {
    db.close();
  }
}

function summary(xs: number[]): { p50: number; p90: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number) => Number(v.toFixed(1));
  return { p50: r(pct(s, 50)), p90: r(pct(s, 90)), p99: r(pct(s, 99)) };
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
  const first = await daemonTurn(site, -1);
  const firstTurnMs = first.endMs - first.startMs;
  client = await connectGateway(site);
  await rawTurn(client, -1); // the raw client's own warm-up (its first request on the connection)
  const raw: number[] = [];
  const twoRequests: DaemonSample[] = [];
  const oneRequest: DaemonSample[] = [];
  const paths = [
    async (i: number) => void raw.push(await rawTurn(client!, i)),
    async (i: number) => void twoRequests.push(await daemonTurn(site, i)),
    async (i: number) => void oneRequest.push(await daemonTurnOneRequest(site, i)),
  ];
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < paths.length; k++) await paths[(i + k) % paths.length]!(i);
  }
  const wall = (s: DaemonSample) => s.endMs - s.startMs;
  const viaDaemon = twoRequests.map(wall);
  const a = summary(raw);
  const b = summary(viaDaemon);
  const c = summary(oneRequest.map(wall));
  const dbPath = join(site.dataDir, "agent-supervisor.db");
  console.log(
    JSON.stringify(
      {
        rounds,
        bootToReadyMs: Math.round(bootToReadyMs),
        warmMs: warmMs === undefined ? null : Math.round(warmMs),
        firstTurnAfterBootMs: Math.round(firstTurnMs),
        rawAgentMs: a,
        daemonMs: b,
        ratio: { p50: Number((b.p50 / a.p50).toFixed(3)), p99: Number((b.p99 / a.p99).toFixed(3)) },
        differenceMs: { p50: Number((b.p50 - a.p50).toFixed(1)), p90: Number((b.p90 - a.p90).toFixed(1)), p99: Number((b.p99 - a.p99).toFixed(1)) },
        // Per pair (the two turns run back to back): robust against a busy machine's slow phases.
        pairedDifferenceMs: summary(raw.map((r, i) => viaDaemon[i]! - r)),
        // (c) POST /v1/turns?wait=: one HTTP request per turn.
        daemonOneRequestMs: c,
        oneRequestRatio: { p50: Number((c.p50 / a.p50).toFixed(3)), p99: Number((c.p99 / a.p99).toFixed(3)) },
        oneRequestDifferenceMs: { p50: Number((c.p50 - a.p50).toFixed(1)), p90: Number((c.p90 - a.p90).toFixed(1)), p99: Number((c.p99 - a.p99).toFixed(1)) },
        oneRequestPairedDifferenceMs: summary(raw.map((r, i) => wall(oneRequest[i]!) - r)),
        // Where the daemon turns' time went (their SQLite stamps), beside the raw turns' whole time.
        splitTwoRequests: split(dbPath, twoRequests),
        splitOneRequest: split(dbPath, oneRequest),
        // One model call per turn: 3 per round, plus the first daemon turn and the raw warm-up.
        modelRequests: { seen: model.requests.length, expected: 3 * rounds + 2 },
        // Rounds with a turn over 1.5 s (index, raw ms, daemon ms, daemon one-request ms) and the daemon's warn/error log lines.
        slowRounds: raw.flatMap((r, i) => (Math.max(r, viaDaemon[i]!, wall(oneRequest[i]!)) > 1500 ? [[i, Math.round(r), Math.round(viaDaemon[i]!), Math.round(wall(oneRequest[i]!))]] : [])),
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
