/** `agent-supervisor dev control-plane`: start, print hints, serve, stop on the signal. */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runControlPlaneCommand } from "../../src/dev/control-plane/command.ts";
import type { RunningControlPlane } from "../../src/dev/control-plane/server.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "cp-cmd-"));
  dirs.push(d);
  return d;
}

describe("runControlPlaneCommand", () => {
  it("generates token files, prints the URL and hints, serves until the signal, then closes", async () => {
    const cwd = tmp();
    const lines: string[] = [];
    const stop = new AbortController();
    let cp: RunningControlPlane | undefined;
    const running = runControlPlaneCommand({ port: "0", runtime: ["rt-a:acc-a", "rt-b:acc-a"] }, { writeErr: (l) => lines.push(l), signal: stop.signal, cwd, onStarted: (c) => (cp = c) });
    await expect.poll(() => cp).toBeDefined();

    const serviceFile = join(cwd, ".data/control-plane/service.token");
    const adminFile = join(cwd, ".data/control-plane/admin.token");
    const service = readFileSync(serviceFile, "utf8").trim();
    const admin = readFileSync(adminFile, "utf8").trim();
    expect(statSync(serviceFile).mode & 0o777).toBe(0o600);
    expect(service).not.toBe(admin);
    const text = lines.join("\n");
    expect(text).toContain(`listening at ${cp!.url}`);
    expect(text).toContain(".data/control-plane/service.token");
    expect(text).toContain(`CONTROL_PLANE_URL=${cp!.url}`);
    expect(text).toContain("RUNTIME_ID=rt-a");
    expect(text).toContain("ACCOUNT_ID=acc-a");
    expect(text).not.toContain(service);
    expect(text).not.toContain(admin);

    const enq = await fetch(`${cp!.url}/admin/turns`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ accountId: "acc-a", conversationId: "demo", message: "hello" }),
    });
    expect(enq.status).toBe(201);
    const claim = await fetch(`${cp!.url}/v1/runtimes/rt-b/claims`, {
      method: "POST",
      headers: { authorization: `Bearer ${service}`, "content-type": "application/json" },
      body: JSON.stringify({ accountId: "acc-a", runtimeId: "rt-b", max: 1, waitMs: 0 }),
    });
    expect(((await claim.json()) as { turns: unknown[] }).turns).toHaveLength(1);

    stop.abort();
    await running;
    expect(lines.at(-1)).toBe("reference control plane stopped");
    await expect(fetch(`${cp!.url}/v1/runtimes/rt-a/skills`)).rejects.toThrow();
  });

  it("uses given tokens and a database file; rejects bad flags", async () => {
    const cwd = tmp();
    const stop = new AbortController();
    stop.abort();
    const lines: string[] = [];
    await runControlPlaneCommand({ port: 0, db: "state/cp.db", serviceToken: "svc-token", adminToken: "adm-token" }, { writeErr: (l) => lines.push(l), signal: stop.signal, cwd });
    expect(statSync(join(cwd, "state/cp.db")).isFile()).toBe(true);
    expect(lines.join("\n")).toContain("as given by --service-token");
    expect(lines.join("\n")).toContain("RUNTIME_ID=dev-runtime");

    const quiet = { writeErr: () => {}, signal: stop.signal, cwd };
    await expect(runControlPlaneCommand({ port: "99999" }, quiet)).rejects.toMatchObject({ code: "ERR_CONFIG" });
    await expect(runControlPlaneCommand({ port: 0, runtime: ["no-colon"] }, quiet)).rejects.toMatchObject({ code: "ERR_CONFIG" });
    await expect(runControlPlaneCommand({ port: 0, serviceToken: "same", adminToken: "same" }, quiet)).rejects.toMatchObject({ code: "ERR_CONFIG" });
  });
});
