/**
 * The control-plane client against a real HTTP server on 127.0.0.1 (fake-control-plane.ts) with
 * the real fetch: happy paths, every malformed answer, auth, retry, lease and size errors.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.ts";
import { createControlPlaneClient, type ControlPlaneClient, type ControlPlaneClientOptions } from "../../src/sync/client.ts";
import { classify, ControlPlaneError } from "../../src/sync/errors.ts";
import { memoryLogger } from "../integration/helpers.ts";
import { ACCOUNT, raw, RUNTIME, startFake, TOKEN, type RunningFake } from "./fake-control-plane.ts";

const SECRET = "sk-live-DO-NOT-LEAK-93f1";

let fake: RunningFake;
let client: ControlPlaneClient;

function makeClient(o: Partial<ControlPlaneClientOptions> = {}): ControlPlaneClient {
  return createControlPlaneClient({ baseUrl: fake.url, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch, ...o });
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<ControlPlaneError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ControlPlaneError);
  return err as ControlPlaneError;
}

const claimed = (over: Record<string, unknown> = {}) => ({
  turnId: "t1",
  conversationId: "c1",
  message: `hi ${SECRET}`,
  leaseId: "l1",
  leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
  attempt: 1,
  ...over,
});

beforeEach(async () => {
  fake = await startFake();
  client = makeClient();
});
afterEach(async () => {
  await fake.close();
});

describe("requests", () => {
  it("claims with bearer auth, identity filled in, and returns the turns", async () => {
    fake.cp.enqueue({ turnId: "t1" }, { turnId: "t2" });
    const { turns } = await client.claim({ max: 4, waitMs: 0 });
    expect(turns.map((t) => t.turnId)).toEqual(["t1", "t2"]);
    const req = fake.cp.requests[0]!;
    expect(req.headers.get("authorization")).toBe(`Bearer ${TOKEN}`);
    expect(req.body).toEqual({ accountId: ACCOUNT, runtimeId: RUNTIME, max: 4, waitMs: 0 });
  });

  it("heartbeats, completes (duplicate on repeat), fails and reports status", async () => {
    fake.cp.enqueue({ turnId: "t1" }, { turnId: "t2" });
    const [t1, t2] = (await client.claim({ max: 2, waitMs: 0 })).turns;
    const hb = await client.heartbeat([{ turnId: t1!.turnId, leaseId: t1!.leaseId }, { turnId: "zz", leaseId: "nope" }]);
    expect(hb.map((l) => l.status)).toEqual(["extended", "lost"]);
    const body = { leaseId: t1!.leaseId, reply: "ok", attempts: 1, finishedAt: new Date().toISOString() };
    expect(await client.complete("t1", body)).toEqual({ accountId: ACCOUNT, runtimeId: RUNTIME, turnId: "t1", duplicate: false });
    expect((await client.complete("t1", body)).duplicate).toBe(true);
    const ack = await client.fail("t2", { leaseId: t2!.leaseId, error: { code: "TURN_TIMEOUT", message: "late" }, attempts: 2, finishedAt: new Date().toISOString() });
    expect(ack.duplicate).toBe(false);
    const status = {
      daemonVersion: "0.1.0",
      openclawVersion: "2026.9.6",
      gatewayState: "ready" as const,
      status: "online" as const,
      reason: null,
      host: { cpuLoadPercent: 1.5, memTotalBytes: 10, memAvailableBytes: 5, diskTotalBytes: 100, diskFreeBytes: 50 },
      queue: { accepted: 0, delivering: 0, outbox: 0 },
      sentAt: new Date().toISOString(),
    };
    await client.reportStatus(status);
    expect(fake.cp.statuses[0]).toEqual({ accountId: ACCOUNT, runtimeId: RUNTIME, ...status });
  });

  it("long-polls a claim until work arrives", async () => {
    const pending = client.claim({ max: 1, waitMs: 5_000 });
    setTimeout(() => fake.cp.enqueue({ turnId: "late" }), 100);
    expect((await pending).turns.map((t) => t.turnId)).toEqual(["late"]);
  });

  it("secrets: changed with an ETag, 304 unchanged, 404 NO_SECRETS none", async () => {
    expect(await client.getSecrets()).toEqual({ kind: "none" });
    fake.cp.secrets = { accountId: ACCOUNT, runtimeId: RUNTIME, version: "7", providers: { openai: { apiKey: SECRET } } };
    const first = await client.getSecrets();
    expect(first).toMatchObject({ kind: "changed", etag: '"7"' });
    expect(await client.getSecrets(first.kind === "changed" ? first.etag : undefined)).toEqual({ kind: "unchanged" });
    expect(fake.cp.requests.at(-1)!.headers.get("if-none-match")).toBe('"7"');
  });

  it("refuses to send a request body that breaks the contract", async () => {
    const err = await rejection(client.fail("t1", { leaseId: "l", error: { code: "", message: "x" }, attempts: 1, finishedAt: "yesterday" }));
    expect(err.code).toBe("ERR_CP_INVALID_REQUEST");
    expect(err.message).toContain("error.code");
    expect(fake.cp.requests).toHaveLength(0);
  });
});

describe("malformed answers are ERR_CP_CONTRACT and never quote the body", () => {
  const cases: [string, () => Response][] = [
    ["invalid JSON", () => raw(`{"accountId":"${ACCOUNT}","turns":[{"message":"${SECRET}"`)],
    ["not UTF-8", () => new Response(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), { headers: { "content-type": "application/json" } })],
    ["wrong types", () => raw(JSON.stringify({ accountId: ACCOUNT, runtimeId: RUNTIME, turns: [claimed({ attempt: SECRET })] }))],
    ["a missing field", () => raw(JSON.stringify({ accountId: ACCOUNT, runtimeId: RUNTIME, turns: [{ ...claimed(), leaseId: undefined }] }))],
    ["another accountId", () => raw(JSON.stringify({ accountId: "acct-other", runtimeId: RUNTIME, turns: [claimed()] }))],
    ["another runtimeId", () => raw(JSON.stringify({ accountId: ACCOUNT, runtimeId: "rt-other", turns: [claimed()] }))],
    ["an empty 200", () => new Response(null, { status: 200 })],
  ];
  for (const [name, answer] of cases) {
    it(name, async () => {
      fake.cp.overrides.set("claim", () => answer());
      const err = await rejection(client.claim({ max: 1, waitMs: 0 }));
      expect(err.code).toBe("ERR_CP_CONTRACT");
      expect(err.message).not.toContain(SECRET);
      expect(err.message).not.toContain("hi ");
      expect(err.cause).toBeUndefined();
    });
  }

  it("an unknown field is no violation (forward compatible): ignored, its name logged at debug, never its value", async () => {
    const sink = memoryLogger("debug");
    const turn = claimed();
    fake.cp.overrides.set("claim", () => raw(JSON.stringify({ accountId: ACCOUNT, runtimeId: RUNTIME, turns: [{ ...turn, hint: SECRET }], debug: SECRET })));
    const { turns } = await makeClient({ log: sink.log }).claim({ max: 1, waitMs: 0 });
    expect(turns).toEqual([{ ...turn, leaseTtlMs: expect.any(Number) }]);
    expect(sink.lines()).toMatchObject([{ level: "debug", unknownFields: ["turns.0.hint", "debug"] }]);
    expect(sink.text()).not.toContain(SECRET);
  });

  it("names the zod issue paths", async () => {
    fake.cp.overrides.set("claim", () => raw(JSON.stringify({ accountId: ACCOUNT, runtimeId: RUNTIME, turns: [claimed({ attempt: SECRET })] })));
    expect((await rejection(client.claim({ max: 1, waitMs: 0 }))).message).toContain("turns.0.attempt");
  });

  it("says a body names another account", async () => {
    fake.cp.overrides.set("heartbeat", () => raw(JSON.stringify({ accountId: "acct-other", runtimeId: RUNTIME, leases: [] })));
    expect((await rejection(client.heartbeat([]))).message).toContain("names another account");
  });

  it("refuses an ack for another turn", async () => {
    fake.cp.overrides.set("complete", () => raw(JSON.stringify({ accountId: ACCOUNT, runtimeId: RUNTIME, turnId: "other", duplicate: false })));
    const err = await rejection(client.complete("t1", { leaseId: "l1", reply: "r", attempts: 1, finishedAt: new Date().toISOString() }));
    expect(err.code).toBe("ERR_CP_CONTRACT");
  });

  it("refuses secrets whose identity is not ours without leaking them", async () => {
    fake.cp.secrets = { accountId: "acct-other", runtimeId: RUNTIME, version: "1", providers: { openai: { apiKey: SECRET } } };
    const err = await rejection(client.getSecrets());
    expect(err.code).toBe("ERR_CP_CONTRACT");
    expect(err.message).not.toContain(SECRET);
  });
});

describe("a body over maxResponseBytes", () => {
  let server: Server;
  let written: number;
  let socketClosed: Promise<void>;

  /** A server that streams `total` bytes with backpressure, counting what it managed to write. */
  async function streamingServer(total: number, declareLength: boolean): Promise<string> {
    written = 0;
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", ...(declareLength ? { "content-length": String(total) } : {}) });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      socketClosed = new Promise((resolve) => res.on("close", () => resolve()));
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("is abandoned after the limit, streamed (chunked), not buffered whole", async () => {
    const total = 1024 * 1024 * 1024; // 1 GiB, never sent in full
    const url = await streamingServer(total, false);
    const c = createControlPlaneClient({ baseUrl: url, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch, maxResponseBytes: 256 * 1024 });
    const err = await rejection(c.claim({ max: 1, waitMs: 0 }));
    expect(err.code).toBe("ERR_CP_CONTRACT");
    expect(err.message).toContain("exceeds 262144 bytes");
    await socketClosed;
    // Socket buffers hold a few MiB at most; the server never got to write the gigabyte.
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it("is refused unread when Content-Length already says it is too large", async () => {
    const url = await streamingServer(64 * 1024 * 1024, true);
    const c = createControlPlaneClient({ baseUrl: url, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch, maxResponseBytes: 1024 });
    expect((await rejection(c.getSkills())).code).toBe("ERR_CP_CONTRACT");
    await socketClosed;
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("error statuses", () => {
  it.each([401, 403])("%i is ERR_CP_AUTH with the status", async (status) => {
    fake.cp.overrides.set("claim", (c) => c.json({ error: { code: "DENIED", message: `token ${TOKEN} denied` } }, status as 401));
    const err = await rejection(client.claim({ max: 1, waitMs: 0 }));
    expect(err.code).toBe("ERR_CP_AUTH");
    expect(err.status).toBe(status);
    expect(err.message).not.toContain(TOKEN);
  });

  it("a wrong token gets 401 from the server", async () => {
    const err = await rejection(makeClient({ token: "wrong-token" }).claim({ max: 1, waitMs: 0 }));
    expect(err.code).toBe("ERR_CP_AUTH");
  });

  it("429 with Retry-After seconds", async () => {
    fake.cp.overrides.set("claim", (c) => c.json({ error: { code: "RATE_LIMITED", message: "slow down" } }, 429, { "retry-after": "7" }));
    const err = await rejection(client.claim({ max: 1, waitMs: 0 }));
    expect([err.code, err.status, err.retryAfterMs]).toEqual(["ERR_CP_RETRY", 429, 7000]);
  });

  it("503 with Retry-After as an HTTP-date", async () => {
    const now = Date.parse("2026-03-01T12:00:00Z");
    const c = makeClient({ now: () => now });
    fake.cp.overrides.set("heartbeat", () => new Response("down", { status: 503, headers: { "retry-after": "Sun, 01 Mar 2026 12:00:30 GMT" } }));
    const err = await rejection(c.heartbeat([]));
    expect([err.code, err.status, err.retryAfterMs]).toEqual(["ERR_CP_RETRY", 503, 30_000]);
  });

  it("503 without Retry-After has none", async () => {
    fake.cp.overrides.set("claim", () => new Response(null, { status: 503 }));
    expect((await rejection(client.claim({ max: 1, waitMs: 0 }))).retryAfterMs).toBeNull();
  });

  it("409 LEASE_LOST", async () => {
    fake.cp.enqueue({ turnId: "t1" });
    await client.claim({ max: 1, waitMs: 0 });
    const err = await rejection(client.complete("t1", { leaseId: "not-mine", reply: "r", attempts: 1, finishedAt: new Date().toISOString() }));
    expect([err.code, err.status, err.serverCode]).toEqual(["ERR_CP_LEASE_LOST", 409, "LEASE_LOST"]);
  });

  it("404 other than NO_SECRETS is ERR_CP_NOT_FOUND; 500 is ERR_CP_HTTP", async () => {
    expect((await rejection(client.complete("unknown", { leaseId: "l", reply: "r", attempts: 1, finishedAt: new Date().toISOString() }))).code).toBe("ERR_CP_NOT_FOUND");
    fake.cp.overrides.set("skills", (c) => c.json({ error: { code: "INTERNAL", message: "boom" } }, 500));
    const err = await rejection(client.getSkills());
    expect([err.code, err.status, err.serverCode]).toEqual(["ERR_CP_HTTP", 500, "INTERNAL"]);
  });

  it("a 404 without the contract's NOT_FOUND body is ERR_CP_HTTP (a proxy), classified retry", async () => {
    const done = { leaseId: "l", reply: "r", attempts: 1, finishedAt: new Date().toISOString() };
    fake.cp.overrides.set("complete", () => new Response("<html>404 Not Found</html>", { status: 404, headers: { "content-type": "text/html" } }));
    const bare = await rejection(client.complete("t1", done));
    expect([bare.code, bare.status, bare.serverCode, classify(bare)]).toEqual(["ERR_CP_HTTP", 404, null, "retry"]);
    fake.cp.overrides.set("complete", (c) => c.json({ error: { code: "NO_SUCH_ROUTE", message: "?" } }, 404));
    const other = await rejection(client.complete("t1", done));
    expect([other.code, other.serverCode, classify(other)]).toEqual(["ERR_CP_HTTP", "NO_SUCH_ROUTE", "contract"]);
  });
});

describe("transport", () => {
  it("connection refused is ERR_CP_NETWORK", async () => {
    const url = fake.url;
    await fake.close();
    const err = await rejection(createControlPlaneClient({ baseUrl: url, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch }).getSkills());
    expect(err.code).toBe("ERR_CP_NETWORK");
    expect(err.message).toContain("ECONNREFUSED");
    fake = await startFake();
  });

  it("no answer within the timeout is ERR_CP_TIMEOUT; a claim's timeout is its waitMs plus a margin", async () => {
    fake.cp.overrides.set("skills", () => new Promise<undefined>(() => {}));
    const err = await rejection(makeClient({ requestTimeoutMs: 100 }).getSkills());
    expect(err.code).toBe("ERR_CP_TIMEOUT");
    // The long-poll outlives requestTimeoutMs: the server holds it 300 ms, the timeout is 100 ms.
    const { turns } = await makeClient({ requestTimeoutMs: 100 }).claim({ max: 1, waitMs: 300 });
    expect(turns).toEqual([]);
  });

  it("the caller's signal aborts a request: ERR_CP_ABORTED", async () => {
    const ac = new AbortController();
    const pending = client.claim({ max: 1, waitMs: 10_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect((await rejection(pending)).code).toBe("ERR_CP_ABORTED");
  });
});

describe("base URL", () => {
  const make = (baseUrl: string) => () =>
    createControlPlaneClient({ baseUrl, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch });
  it("refuses plain http to a non-loopback host", () => {
    expect(make("http://example.com")).toThrow(ConfigError);
    expect(make("http://example.com")).toThrow(/must use https/);
  });
  it("accepts https anywhere and http to loopback", () => {
    expect(make("https://cp.example.com/base")).not.toThrow();
    expect(make("http://127.0.0.1:9")).not.toThrow();
    expect(make("http://[::1]:9")).not.toThrow();
    expect(make("http://localhost:9")).not.toThrow();
  });
  it("refuses credentials in the URL without echoing them", () => {
    let msg = "";
    try {
      make("https://user:hunter2@cp.example.com")();
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/must not contain credentials/);
    expect(msg).not.toContain("hunter2");
  });
  it("keeps a path prefix of the base URL", async () => {
    const c = createControlPlaneClient({ baseUrl: `${fake.url}/prefix/`, token: TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch });
    const err = await rejection(c.getSkills());
    // The fake has no route there: its plain-text 404 is no contract verdict (a bare 404, retried).
    expect([err.code, err.message]).toEqual(["ERR_CP_HTTP", expect.stringContaining("GET /prefix/v1/runtimes/rt-1/skills")]);
  });
});
