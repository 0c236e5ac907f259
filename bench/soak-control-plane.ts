/**
 * Soak: N turns (default 1000) through the reference control plane, the real daemon and the real
 * OpenClaw gateway with the mock model. Reports lost results (a turn without exactly one accepted
 * result) and duplicated ones (more than one), and with `--chaos` also survives a gateway
 * SIGKILL at 30 % and a 10 s control-plane outage for results at 60 %. Both counts must be 0;
 * the exit code is 1 otherwise.
 *
 * Usage: npm run soak -- [turns=1000] [--chaos]   (needs the e2e runtime: run `npm test` once)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startReferenceControlPlane } from "../src/dev/control-plane/server.ts";
import { startMockModel } from "../src/dev/mock-model.ts";
import { gatewayPid, killSiteGateway, makeSite, ROOT, startDaemon, until, waitReady } from "../test/e2e/harness.ts";

const args = process.argv.slice(2);
const total = Number(args.find((a) => /^\d+$/.test(a)) ?? 1000);
const chaos = args.includes("--chaos");
const RT = "soak-rt";
const ACC = "soak-acct";
const TOKEN = "soak-service-token-0123456789";

const model = await startMockModel();
const cp = await startReferenceControlPlane({ serviceToken: TOKEN, runtimes: [{ runtimeId: RT, accountId: ACC }], leaseMs: 60_000 });
cp.setSecrets(RT, { compat: { baseUrl: model.url, apiKey: "sk-soak", model: "echo-1" } });
const dir = mkdtempSync(join(tmpdir(), "as-soak-"));
const site = await makeSite(dir, join(ROOT, ".cache", "e2e-runtime", "runtime"), model.url, {
  OPENAI_COMPAT_BASE_URL: "",
  OPENAI_COMPAT_API_KEY: "",
  AGENT_SUPERVISOR_LOG_LEVEL: "warn",
  CONTROL_PLANE_URL: cp.url,
  CONTROL_PLANE_TOKEN: TOKEN,
  RUNTIME_ID: RT,
  ACCOUNT_ID: ACC,
  CLAIM_WAIT_MS: "5000",
  CLAIM_IDLE_JITTER_MS: "100",
  HEARTBEAT_INTERVAL_MS: "5000",
  SYNC_BACKOFF_MAX_MS: "2000",
});
const daemon = startDaemon(site);
let exitCode = 0;
try {
  await waitReady(site, 240_000);
  const started = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < total; i++) ids.push(cp.enqueueTurn({ accountId: ACC, conversationId: `soak-${i % 40}`, message: `soak ${i}` }).turnId);
  const done = () => ids.filter((id) => ["done", "failed"].includes(cp.getTurn(id)!.state)).length;
  let killed = false;
  let outage = false;
  await until(`${total} turns to finish`, async () => {
    const n = done();
    if (chaos && !killed && n >= total * 0.3) {
      killed = true;
      process.kill(await gatewayPid(site), "SIGKILL");
      console.error(`chaos: gateway SIGKILLed after ${n} turns`);
    }
    if (chaos && !outage && n >= total * 0.6) {
      outage = true;
      const f = cp.faults.add({ operation: "complete", action: { kind: "status", status: 503, retryAfter: 1 } });
      setTimeout(() => cp.faults.clear(f.id), 10_000);
      console.error(`chaos: results refused with 503 for 10 s after ${n} turns`);
    }
    return n === total;
  }, 60 * 60_000, 1000);
  const wallMs = Date.now() - started;
  let lost = 0;
  let duplicated = 0;
  let failed = 0;
  let duplicateReports = 0;
  for (const id of ids) {
    const t = cp.getTurn(id)!;
    const accepted = t.reports.filter((r) => r.outcome === "accept").length;
    if (accepted === 0) lost++;
    if (accepted > 1) duplicated++;
    if (t.state === "failed") failed++;
    duplicateReports += t.reports.filter((r) => r.outcome === "duplicate").length;
  }
  const summary = {
    turns: total,
    chaos,
    lost,
    duplicated,
    failed,
    duplicateReportsAcknowledged: duplicateReports,
    modelRequests: model.requests.length,
    wallSeconds: Math.round(wallMs / 1000),
    turnsPerSecond: Number(((total / wallMs) * 1000).toFixed(2)),
  };
  console.log(JSON.stringify(summary, null, 2));
  if (lost !== 0 || duplicated !== 0) exitCode = 1;
} finally {
  daemon.proc.kill("SIGTERM");
  await daemon.exited;
  killSiteGateway(site);
  await cp.close();
  await model.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
