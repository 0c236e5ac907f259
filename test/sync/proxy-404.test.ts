/**
 * A 404 from a proxy is not a verdict: only the contract's own `NOT_FOUND` error body may drop a
 * result for good. A bare 404 (an HTML page of a load balancer, or JSON that is no contract error
 * body) is transient, and the result is retried with backoff until the control plane takes it.
 */
import { expect, it } from "vitest";
import { DROPPED_REPORT_KEY } from "../../src/store/central.ts";
import { waitFor } from "../integration/helpers.ts";
import { ACCOUNT } from "./fake-control-plane.ts";
import { referencePlaneSuite, sleep, type Harness } from "./worker-harness.ts";

const s = referencePlaneSuite("as-sync-404-", { leaseMs: 10_000 });

const outcomes = s.outcomes;
const dropped = (w: Harness, turnId: string) => w.db.prepare("SELECT value FROM kv WHERE key = ?").get(DROPPED_REPORT_KEY + turnId);

it.each([
  { name: "an HTML page", body: "<html><body><h1>404 Not Found</h1>nginx</body></html>", contentType: "text/html" },
  { name: "JSON that is no contract error", body: JSON.stringify({ message: "no Route matched with those values" }), contentType: "application/json" },
  { name: "an empty body", body: "", contentType: "text/plain" },
])("a bare 404 ($name) on a result is retried until the control plane takes it", async ({ body, contentType }) => {
  s.cp.faults.add({ operation: "complete", times: 3, action: { kind: "raw", status: 404, body, contentType } });
  s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "proxied" });
  const w = s.start({  });
  await waitFor(() => s.cp.getTurn("proxied")!.state === "done", "the result accepted after the proxy's 404s", 10_000);
  expect(outcomes("proxied")).toEqual(["accept"]);
  expect(dropped(w, "proxied")).toBeUndefined();
  expect(w.sink.text()).not.toContain("result will not be reported");
});

it("the contract's own 404 NOT_FOUND still drops the result, once", async () => {
  s.cp.faults.add({ operation: "complete", action: { kind: "status", status: 404, code: "NOT_FOUND", message: "unknown turn" } });
  s.cp.enqueueTurn({ accountId: ACCOUNT, conversationId: "c", message: "m", turnId: "unknown" });
  const w = s.start({  });
  await waitFor(() => dropped(w, "unknown") !== undefined, "the report dropped", 10_000);
  await sleep(300);
  expect(s.cp.faults.list()[0]!.hits).toBe(1);
  expect(w.central.outboxDepth()).toBe(0);
});
