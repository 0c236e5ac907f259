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
 * Env: BENCH_ONE_REQUEST=0 leaves out path (c) (for a daemon without `POST ?wait=`, e.g. to
 * measure an older commit with this bench). BENCH_CPU_PROF=<dir> starts the daemon with `--cpu-prof --cpu-prof-dir=<dir>` (via
 * NODE_OPTIONS; the profile is written when the daemon exits on SIGTERM). BENCH_WARM=1 sends
 * `tools.catalog {agentId:"main"}` and `tools.effective` (read-only RPCs that build the tool
 * inventory without calling the model) right after readiness, before the first turn: a warm-up
 * experiment for goal 5.
 * Prints a JSON summary: p50/p90/p99 per path in ms, ratio daemon/raw and difference in ms.
 */
import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayClient } from "@openclaw/gateway-client";
import { startMockModel } from "../src/dev/mock-model.ts";
import { summary } from "./lib.ts";
import { apiToken, connectGateway, gatewayRequest, killSiteGateway, makeSite, ROOT, startDaemon, waitReady, type Site } from "../test/e2e/harness.ts";

const rounds = Number(process.argv[2] ?? 50);
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

/** Wall clock in epoch ms with sub-ms resolution, comparable with the daemon's `Date.now()` stamps. */
const epochMs = () => performance.timeOrigin + performance.now();

/** Client-side times of one daemon turn (epoch ms), to split against its row's stamps. */
type DaemonSample = { turnId: string; startMs: number; endMs: number };

/**
 * The daemon's clients use node:http on one kept-alive connection, the leanest client Node has,
 * so the figures are the daemon's and not a client library's (fetch/undici costs more per request
 * on this machine); the raw path likewise keeps one WebSocket open.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One HTTP request to the daemon's local API with the bench's token; status and parsed JSON body. */
function call(site: Site, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: "127.0.0.1", port: site.httpPort, method, path, agent, headers: { authorization: `Bearer ${token}`, ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** One daemon turn on a fresh conversation: POST, then long-poll GET until done. */
async function daemonTurn(site: Site, token: string, i: number): Promise<DaemonSample> {
  const startMs = epochMs();
  const posted = await call(site, token, "POST", "/v1/turns", { conversationId: `ovh-${randomUUID()}`, message: `daemon turn ${i}` });
  if (posted.status !== 202) throw new Error(`daemon turn ${i}: POST ${posted.status} ${JSON.stringify(posted.json)}`);
  const turnId = posted.json.turnId as string;
  let turn: any;
  do turn = (await call(site, token, "GET", `/v1/turns/${turnId}?wait=60000`)).json;
  while (turn.state !== "done" && turn.state !== "failed");
  if (turn.state !== "done") throw new Error(`daemon turn ${i} failed: ${JSON.stringify(turn.error)}`);
  return { turnId, startMs, endMs: epochMs() };
}

/** One daemon turn on a fresh conversation in ONE request: `POST /v1/turns?wait=`. */
async function daemonTurnOneRequest(site: Site, token: string, i: number): Promise<DaemonSample> {
  const startMs = epochMs();
  const res = await call(site, token, "POST", "/v1/turns?wait=60000", { conversationId: `ovh1-${randomUUID()}`, message: `daemon turn ${i}` });
  if (res.status !== 200 || res.json.state !== "done") throw new Error(`daemon turn ${i}: ${res.status} ${JSON.stringify(res.json)}`);
  return { turnId: res.json.turnId, startMs, endMs: epochMs() };
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
  const token = apiToken(site);
  const first = await daemonTurn(site, token, -1);
  const firstTurnMs = first.endMs - first.startMs;
  client = await connectGateway(site);
  await rawTurn(client, -1); // the raw client's own warm-up (its first request on the connection)
  const raw: number[] = [];
  const twoRequests: DaemonSample[] = [];
  const oneRequest: DaemonSample[] = [];
  const paths = [
    async (i: number) => void raw.push(await rawTurn(client!, i)),
    async (i: number) => void twoRequests.push(await daemonTurn(site, token, i)),
    // BENCH_ONE_REQUEST=0 leaves path (c) out: to measure a daemon built before POST ?wait= existed.
    ...(process.env.BENCH_ONE_REQUEST === "0" ? [] : [async (i: number) => void oneRequest.push(await daemonTurnOneRequest(site, token, i))]),
  ];
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < paths.length; k++) await paths[(i + k) % paths.length]!(i);
  }
  const wall = (s: DaemonSample) => s.endMs - s.startMs;
  const viaDaemon = twoRequests.map(wall);
  const a = summary(raw);
  const b = summary(viaDaemon);
  /** Path (c)'s figures beside the raw path's. */
  const oneRequestFigures = () => {
    const c = summary(oneRequest.map(wall));
    return {
      // (c) POST /v1/turns?wait=: one HTTP request per turn.
      daemonOneRequestMs: c,
      oneRequestRatio: { p50: Number((c.p50 / a.p50).toFixed(3)), p99: Number((c.p99 / a.p99).toFixed(3)) },
      oneRequestDifferenceMs: { p50: Number((c.p50 - a.p50).toFixed(1)), p90: Number((c.p90 - a.p90).toFixed(1)), p99: Number((c.p99 - a.p99).toFixed(1)) },
      oneRequestPairedDifferenceMs: summary(raw.map((r, i) => wall(oneRequest[i]!) - r)),
    };
  };
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
        // Where the daemon turns' time went (their SQLite stamps), beside the raw turns' whole time.
        splitTwoRequests: split(dbPath, twoRequests),
        ...(oneRequest.length === 0 ? {} : { splitOneRequest: split(dbPath, oneRequest) }),
        // One model call per turn: 3 per round, plus the first daemon turn and the raw warm-up.
        modelRequests: { seen: model.requests.length, expected: paths.length * rounds + 2 },
        // Rounds with a turn over 1.5 s (index, raw ms, daemon ms, daemon one-request ms) and the daemon's warn/error log lines.
        ...(oneRequest.length === 0 ? {} : oneRequestFigures()),
        slowRounds: raw.flatMap((r, i) => (Math.max(r, viaDaemon[i]!, oneRequest[i] ? wall(oneRequest[i]) : 0) > 1500 ? [[i, Math.round(r), Math.round(viaDaemon[i]!), ...(oneRequest[i] ? [Math.round(wall(oneRequest[i]))] : [])]] : [])),
        daemonLog: daemon.logs.slice(-20),
      },
      null,
      2,
    ),
  );
} finally {
  client?.stop();
  agent.destroy();
  daemon.proc.kill("SIGTERM");
  await daemon.exited;
  killSiteGateway(site);
  await model.close();
  rmSync(dir, { recursive: true, force: true });
}
