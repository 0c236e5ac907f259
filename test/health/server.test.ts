/** Through a real socket: startHttpServer on 127.0.0.1 port 0, the real fetch, the API client. */
import { afterEach, describe, expect, it } from "vitest";
import { ApiError, createApiClient, DaemonUnreachableError } from "../../src/cli/api-client.ts";
import { startHttpServer, type HttpServerHandle } from "../../src/health/server.ts";
import { TOKEN } from "./fakes.ts";
import { harness } from "./harness.ts";

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r.startsWith("TCP")).length;
let open: HttpServerHandle | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function start(closeGraceMs?: number) {
  const h = harness();
  const server = await startHttpServer({ app: h.app, host: "127.0.0.1", port: 0, ...(closeGraceMs === undefined ? {} : { closeGraceMs }) });
  open = server;
  const client = createApiClient({ baseUrl: `http://127.0.0.1:${server.port}`, token: TOKEN, fetch });
  return { h, server, client };
}

describe("startHttpServer + createApiClient over 127.0.0.1", () => {
  it("round-trips a turn, health and readiness, then closes without leaving sockets", async () => {
    const before = tcpHandles();
    const { h, server, client } = await start();
    expect(server.port).toBeGreaterThan(0);

    const { turnId, created } = await client.submitTurn({ conversationId: "c1", message: "héllo" });
    expect(created).toBe(true);
    const parked = h.turns.nextWait();
    const waiting = client.waitTurn(turnId, 10_000);
    await parked;
    h.turns.finish(turnId, "hi");
    expect(await waiting).toMatchObject({ state: "done", reply: "hi" });
    expect((await client.health()).status).toBe("pass");
    expect((await client.readyz()).ready).toBe(true);
    const unauth = await createApiClient({ baseUrl: `http://127.0.0.1:${server.port}`, token: "nope", fetch }).getTurn(turnId).catch((e: unknown) => e);
    expect(unauth).toMatchObject({ code: "ERR_UNAUTHORIZED", status: 401 });

    // The client keeps its keep-alive socket; close() must not wait out keepAliveTimeout (5 s).
    const t0 = performance.now();
    await server.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect.poll(tcpHandles, { timeout: 2000 }).toBe(before);

    const down = await client.health().catch((e: unknown) => e);
    expect(down).toBeInstanceOf(DaemonUnreachableError);
    expect((down as Error).message).toMatch(/is agent-supervisor running\?/);
  });

  it("close() cuts a long-poll in flight after the grace period", async () => {
    const { h, server, client } = await start(50);
    const { turnId } = await client.submitTurn({ conversationId: "c1", message: "m" });
    const parked = h.turns.nextWait();
    const polling = client.getTurn(turnId, 60_000).catch((e: unknown) => e);
    await parked;
    const t0 = performance.now();
    await server.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    const err = await polling;
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: "ERR_NETWORK" });
    h.turns.expireWaits(); // let the fake's parked promise settle
  });

  it("an aborted signal closes the server", async () => {
    const h = harness();
    const ac = new AbortController();
    const server = await startHttpServer({ app: h.app, host: "127.0.0.1", port: 0, signal: ac.signal });
    open = server;
    ac.abort();
    await server.close(); // idempotent: resolves with the abort-initiated close
    const client = createApiClient({ baseUrl: `http://127.0.0.1:${server.port}`, token: TOKEN, fetch });
    await expect(client.readyz()).rejects.toBeInstanceOf(DaemonUnreachableError);
  });

  it("rejects with ERR_HTTP_LISTEN when the port is taken", async () => {
    const { server } = await start();
    const h = harness();
    await expect(startHttpServer({ app: h.app, host: "127.0.0.1", port: server.port })).rejects.toMatchObject({ code: "ERR_HTTP_LISTEN" });
  });
});
