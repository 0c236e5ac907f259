/**
 * A 404 from a proxy is not a verdict: only the contract's own `NOT_FOUND` error body may drop a
 * result for good. A bare 404 (an HTML page of a load balancer, or JSON that is no contract error
 * body) is transient, and the result is retried with backoff until the control plane takes it.
 */
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { startReferenceControlPlane, type RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { DROPPED_REPORT_KEY } from "../../src/store/central.ts";
import { removeTempDirs, tempDir, waitFor } from "../integration/helpers.ts";
import { ACCOUNT, RUNTIME, TOKEN } from "./fake-control-plane.ts";
import { sleep, startWorker, type Harness } from "./worker-harness.ts";

let cp: RunningControlPlane;
let h: Harness | undefined;
let dbPath: string;

beforeEach(async () => {
  cp = await startReferenceControlPlane({ serviceToken: TOKEN, runtimes: [{ runtimeId: RUNTIME, accountId: ACCOUNT }], leaseMs: 10_000 });
  dbPath = join(tempDir("as-sync-404-"), "agent-supervisor.db");
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
  await cp.close();
  removeTempDirs();
});

const outcomes = (turnId: string) => cp.getTurn(turnId)!.reports.map((r) => r.outcome);
const dropped = (w: Harness, turnId: string) => w.db.prepare("SELECT value FROM kv WHERE key = ?").get(DROPPED_REPORT_KEY + turnId);

it.each([
  { name: "an HTML page", body: "<html><body><h1>404 Not Found</h1>nginx</body></html>", contentType: "text/html" },
  { name: "JSON that is no contract error", body: JSON.stringify({ message: "no Route matched with those values" }), contentType: "application/json" },
  { name: "an empty body", body: "", contentType: "text/plain" },
])("a bare 404 ($name) on a result is retried until the control plane takes it", async ({ body, contentType }) => {
  cp.faults.add({ operation: "complete", times: 3, action: { kind: "raw", status: 404, body, contentType } });
  cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "proxied" });
  const w = startWorker({ url: cp.url, dbPath });
  h = w;
  await waitFor(() => cp.getTurn("proxied")!.state === "done", "the result accepted after the proxy's 404s", 10_000);
  expect(outcomes("proxied")).toEqual(["accept"]);
  expect(dropped(w, "proxied")).toBeUndefined();
  expect(w.sink.text()).not.toContain("result will not be reported");
});

it("the contract's own 404 NOT_FOUND still drops the result, once", async () => {
  cp.faults.add({ operation: "complete", action: { kind: "status", status: 404, code: "NOT_FOUND", message: "unknown turn" } });
  cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "unknown" });
  const w = startWorker({ url: cp.url, dbPath });
  h = w;
  await waitFor(() => dropped(w, "unknown") !== undefined, "the report dropped", 10_000);
  await sleep(300);
  expect(cp.faults.list()[0]!.hits).toBe(1);
  expect(w.central.outboxDepth()).toBe(0);
});
