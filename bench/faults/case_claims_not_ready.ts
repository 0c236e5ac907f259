/**
 * Claimed turns are not hoarded (issue 10, item 7), with the real daemon and the reference control
 * plane: while the gateway cannot run turns (a stand-in that never sends hello-ok, restarted after
 * each startup timeout), the daemon keeps reporting its status but claims nothing, so a turn
 * queued at the control plane stays there for another runtime to take.
 */
import { join } from "node:path";
import { startReferenceControlPlane } from "../../src/dev/control-plane/server.ts";
import { createControlPlaneClient } from "../../src/sync/client.ts";
import { until } from "../../test/e2e/harness.ts";
import { ms, sleep } from "./observe.ts";
import { faultCase, standInSpawned, withStandIn } from "./runner.ts";

const RT = "nr-runtime";
const OTHER = "nr-other-runtime";
const ACC = "nr-account";
const TOKEN = "nr-service-token-0123456789abcdef";
const WATCH_MS = 8_000;

export const claimsNotReady = faultCase({
  id: "claims-not-ready",
  fault: "Gateway cannot run turns: nothing claimed",
  fast: true,
  realGateway: false,
  how:
    `A reference control plane with a queued turn; the daemon's gateway is a stand-in that never sends hello-ok (GATEWAY_STARTUP_TIMEOUT_MS=2000, so it is ` +
    `restarted every few seconds). Watched for ${WATCH_MS / 1000} s from the first status report the control plane receives (the detection): the turn must stay queued, ` +
    `then a second runtime of the same account claims it.`,
  async measure(ctx) {
    const cp = await startReferenceControlPlane({
      serviceToken: TOKEN,
      adminToken: "nr-admin-token-0123456789abcdef",
      runtimes: [
        { runtimeId: RT, accountId: ACC },
        { runtimeId: OTHER, accountId: ACC },
      ],
      leaseMs: 60_000,
      dbPath: join(ctx.workDir, "cp.db"),
    });
    try {
      const settings = {
        CONTROL_PLANE_URL: cp.url,
        CONTROL_PLANE_TOKEN: TOKEN,
        RUNTIME_ID: RT,
        ACCOUNT_ID: ACC,
        CLAIM_WAIT_MS: "1000",
        STATUS_INTERVAL_MS: "1000",
        GATEWAY_STARTUP_TIMEOUT_MS: "2000",
      };
      return await withStandIn(ctx.workDir, ctx.runtimeDir, {}, settings, async (s) => {
        await standInSpawned(s.site);
        const { turnId } = cp.enqueueTurn({ accountId: ACC, conversationId: "nr-claims", message: "queued while the gateway cannot run turns" });
        const injectAt = Date.now();
        await until("a status report at the control plane", () => cp.statusHistory(RT, 1).length > 0, 30_000, 50);
        const detectedAt = Date.now();
        await sleep(WATCH_MS);
        const reports = cp.statusHistory(RT, 100).filter((r) => Date.parse(r.receivedAt) >= injectAt);
        const states = [...new Set(reports.map((r) => r.report.gatewayState))];
        const view = cp.getTurn(turnId);
        const other = createControlPlaneClient({ baseUrl: cp.url, token: TOKEN, runtimeId: OTHER, accountId: ACC, fetch: globalThis.fetch });
        const { turns: taken } = await other.claim({ max: 1, waitMs: 0 });
        const takenByOther = taken.some((t) => t.turnId === turnId);
        const problems: string[] = [];
        if (view?.state !== "queued" || (view?.leases.length ?? 0) > 0) problems.push(`the turn was ${view?.state} with ${view?.leases.length} lease(s)`);
        if (!takenByOther) problems.push("the second runtime could not claim the turn");
        return {
          injectAt,
          detectedAt,
          verdict: { lost: problems.length > 0 ? 1 : 0, duplicated: 0, problems },
          notes: [
            `${reports.length} status reports in ${ms(Date.now() - injectAt)} ms (gateway ${states.join("/")})`,
            `the turn stayed ${view?.state} with ${view?.leases.length ?? 0} leases for ${WATCH_MS / 1000} s`,
            `then claimed by the second runtime: ${takenByOther ? "yes" : "NO"}`,
            "serving: n/a (stand-in gateway)",
          ],
        };
      });
    } finally {
      await cp.close();
    }
  },
});
