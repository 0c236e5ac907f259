/**
 * The provider key check against real HTTP servers on 127.0.0.1 (issue 12, failure mode 3): the
 * mock model refusing keys (401, 403, 429 with Retry-After), a closed port, a server that never
 * answers, a redirect that must not carry the key on, and an error that echoes the key.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { probeProvider } from "../../src/watchdogs/provider-probe.ts";
import { readingVerdict } from "../../src/watchdogs/provider-verdict.ts";
import { freePort } from "../e2e/harness.ts";

async function serve(handler: (req: IncomingMessage, res: import("node:http").ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("probeProvider against the mock model", () => {
  let model: MockModel;
  beforeAll(async () => {
    model = await startMockModel(0, "127.0.0.1", {
      refusals: [
        ["sk-revoked", { status: 401 }],
        ["sk-proxied", { status: 403 }],
        ["sk-busy", { status: 429, retryAfterS: 17 }],
      ],
    });
  });
  afterAll(() => model.close());

  it.each([
    ["sk-good", "pass", "200 key accepted (1 models listed)"],
    ["sk-revoked", "fail", "401 invalid key (Incorrect API key provided.)"],
    ["sk-proxied", "fail", "403 key refused (Forbidden: this key may not use this resource.)"],
    ["sk-busy", "warn", "429 rate limited or out of quota, retry after 17 s (Rate limit reached for requests.)"],
  ] as const)("%s → %s", async (apiKey, status, reason) => {
    const before = { models: model.modelListCalls, completions: model.requests.length };
    const reading = await probeProvider({ provider: "compat", baseUrl: `${model.url}/`, apiKey }, fetch);
    expect(readingVerdict(reading)).toMatchObject({ status, reason });
    // One list call, never a completion (it costs no tokens).
    expect(model.modelListCalls - before.models).toBe(1);
    expect(model.requests.length).toBe(before.completions);
  });
});

describe("probeProvider when the provider is out of reach or misbehaves", () => {
  it("a closed port is a network reading", async () => {
    const port = await freePort();
    const r = await probeProvider({ provider: "compat", baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: "sk-x" }, fetch);
    expect(r).toEqual({ kind: "network", error: "ECONNREFUSED" });
  });

  it("a server that never answers is a timeout after the budget", async () => {
    const { server, url } = await serve(() => {});
    try {
      const t0 = Date.now();
      const r = await probeProvider({ provider: "compat", baseUrl: `${url}/v1`, apiKey: "sk-x" }, fetch, 300);
      expect(r).toEqual({ kind: "timeout", afterMs: 300 });
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("does not follow a redirect: the key never reaches the other address", async () => {
    const seen: (string | undefined)[] = [];
    const other = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"data":[]}');
    });
    const first = await serve((_req, res) => {
      res.writeHead(302, { location: `${other.url}/v1/models` });
      res.end();
    });
    try {
      const r = await probeProvider({ provider: "compat", baseUrl: `${first.url}/v1`, apiKey: "sk-secret-redirect" }, fetch);
      expect(r).toMatchObject({ kind: "http", status: 302 });
      expect(seen).toEqual([]);
    } finally {
      for (const s of [first.server, other.server]) s.close();
    }
  });

  it("an error that echoes the key is scrubbed of it; a non-JSON body is the message", async () => {
    const KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
    const { server, url } = await serve((req, res) => {
      if (req.url === "/echo/models") {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}. You can find your API key at https://example.invalid.` } }));
      } else {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html>Bad Gateway</html>");
      }
    });
    try {
      const r = await probeProvider({ provider: "openai", baseUrl: `${url}/echo`, apiKey: KEY }, fetch);
      expect(r.kind === "http" && r.message).toBe("Incorrect API key provided: <key>. You can find your API key at https://example.invalid.");
      expect(JSON.stringify(r)).not.toContain("abcdefghijklmnop");
      const html = await probeProvider({ provider: "openai", baseUrl: `${url}/other`, apiKey: KEY }, fetch);
      expect(readingVerdict(html)).toMatchObject({ status: "warn", reason: "502 provider error (<html>Bad Gateway</html>)" });
    } finally {
      server.close();
    }
  });
});
