/**
 * Turn latency through the whole pipeline: local API → SQLite → persistent WebSocket → real
 * OpenClaw gateway → mock model (answers in ~1 ms) → SQLite → long-poll answer.
 *
 * Usage: sh scripts/setup.sh && .cache/node/bin/node bench/turn-latency.ts [turns=100] [concurrency=1]
 * Needs the e2e runtime (`npm test` installs it; or `AGENT_SUPERVISOR_DATA_DIR=.cache/e2e-runtime
 * bin/agent-supervisor --config /dev/null openclaw install`). Prints a JSON summary.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMockModel } from "../src/dev/mock-model.ts";
import { getJson, killSiteGateway, makeSite, postTurn, ROOT, startDaemon, waitReady, waitTurn } from "../test/e2e/harness.ts";

const turns = Number(process.argv[2] ?? 100);
const concurrency = Number(process.argv[3] ?? 1);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const model = await startMockModel();
const dir = mkdtempSync(join(tmpdir(), "as-bench-"));
const site = await makeSite(dir, join(ROOT, ".cache", "e2e-runtime", "runtime"), model.url, { AGENT_SUPERVISOR_LOG_LEVEL: "warn" });
const daemon = startDaemon(site);
try {
  const t0 = Date.now();
  await waitReady(site, 240_000);
  const bootMs = Date.now() - t0;
  // Warm-up: the first turn after a boot loads lazily (OPENCLAW_FACTS: 3.5-7.7 s).
  await waitTurn(site, await postTurn(site, "warmup", "warm up"), 120_000);
  const latencies: number[] = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next < turns) {
        const i = next++;
        const t = Date.now();
        const turn = await waitTurn(site, await postTurn(site, `bench-${w}-${i % 8}`, `turn ${i}`), 120_000);
        if (turn.state !== "done") throw new Error(`turn ${i} failed: ${JSON.stringify(turn.error)}`);
        latencies.push(Date.now() - t);
      }
    }),
  );
  const wallMs = Date.now() - started;
  latencies.sort((a, b) => a - b);
  const metrics = await fetch(`http://127.0.0.1:${site.httpPort}/metrics`).then((r) => r.text());
  const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? NaN);
  const health = (await getJson(site, "/health")).body;
  console.log(
    JSON.stringify(
      {
        turns,
        concurrency,
        bootToReadyMs: bootMs,
        latencyMs: { p50: pct(latencies, 50), p90: pct(latencies, 90), p99: pct(latencies, 99), max: latencies.at(-1) },
        throughputPerSec: Number(((turns / wallMs) * 1000).toFixed(2)),
        daemonRssMiB: Number((rss / 2 ** 20).toFixed(1)),
        modelRequests: model.requests.length,
        gatewayState: health.checks["gateway:process"][0].observedValue,
      },
      null,
      2,
    ),
  );
} finally {
  daemon.proc.kill("SIGTERM");
  await daemon.exited;
  killSiteGateway(site);
  await model.close();
  rmSync(dir, { recursive: true, force: true });
}
