/**
 * adminRequest (src/gateway/admin-request.ts) with a stand-in for the reference client: it asks for
 * the admin scope, sends once after hello-ok, and always closes. The real gateway answers it in
 * test/e2e/session-repair.e2e.test.ts.
 */
import type { GatewayClientOptions } from "@openclaw/gateway-client";
import { describe, expect, it } from "vitest";
import { adminRequest } from "../../src/gateway/admin-request.ts";
import type { GatewayClientLike } from "../../src/gateway/connection.ts";

type Script = { hello: "ok" | "error" | "never"; answer?: (method: string, params: unknown) => Promise<unknown> };

function fake(script: Script) {
  const seen: { options?: GatewayClientOptions; requests: { method: string; params: unknown }[]; stopped: number } = { requests: [], stopped: 0 };
  const factory = (o: GatewayClientOptions): GatewayClientLike => {
    seen.options = o;
    return {
      start: () => {
        queueMicrotask(() => {
          if (script.hello === "ok") o.onHelloOk?.({} as never);
          if (script.hello === "error") o.onConnectError?.(new Error("unauthorized: gateway token mismatch"));
        });
      },
      stop: () => void seen.stopped++,
      request: async <T>(method: string, params?: unknown) => {
        seen.requests.push({ method, params });
        return (await (script.answer ?? (async () => ({ ok: true })))(method, params)) as T;
      },
    };
  };
  return { factory, seen };
}

const at = { url: "ws://127.0.0.1:1", token: "t0k3n", clientVersion: "test" };

describe("adminRequest", () => {
  it("connects with the admin scope only, sends the request after hello-ok and closes", async () => {
    const { factory, seen } = fake({ hello: "ok", answer: async () => ({ ok: true, compacted: true }) });
    expect(await adminRequest({ ...at, factory }, "sessions.compact", { key: "agent:main:a" }, { timeoutMs: 1000 })).toEqual({ ok: true, compacted: true });
    expect(seen.options).toMatchObject({ scopes: ["operator.admin"], role: "operator", token: "t0k3n", clientName: "gateway-client", mode: "backend", deviceIdentity: null });
    expect(seen.requests).toEqual([{ method: "sessions.compact", params: { key: "agent:main:a" } }]);
    expect(seen.stopped).toBe(1);
  });

  it("a failed handshake rejects without sending, and closes", async () => {
    const { factory, seen } = fake({ hello: "error" });
    await expect(adminRequest({ ...at, factory }, "sessions.reset", { key: "k" }, { timeoutMs: 1000 })).rejects.toThrow("gateway admin connection failed: unauthorized: gateway token mismatch");
    expect(seen.requests).toEqual([]);
    expect(seen.stopped).toBe(1);
  });

  it("a gateway that never says hello-ok, or never answers, times out and is closed", async () => {
    const silent = fake({ hello: "never" });
    await expect(adminRequest({ ...at, factory: silent.factory }, "sessions.reset", {}, { timeoutMs: 50 })).rejects.toThrow(/timeout|aborted/i);
    expect(silent.seen.stopped).toBe(1);
    const mute = fake({ hello: "ok", answer: () => new Promise(() => {}) });
    await expect(adminRequest({ ...at, factory: mute.factory }, "sessions.compact", {}, { timeoutMs: 50 })).rejects.toThrow(/timeout|aborted/i);
    expect(mute.seen.stopped).toBe(1);
  });

  it("a refused request rejects with the gateway's error", async () => {
    const { factory } = fake({ hello: "ok", answer: async () => { throw new Error("missing scope: operator.admin"); } });
    await expect(adminRequest({ ...at, factory }, "sessions.reset", {}, { timeoutMs: 1000 })).rejects.toThrow("missing scope: operator.admin");
  });
});
