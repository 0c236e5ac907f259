/**
 * NODE_EXTRA_CA_CERTS set in the env file (as cloud-init/render.sh writes it for a private CA):
 * Node reads the variable only from the environment at start, which systemd's EnvironmentFile=
 * provides for the unit but a shell does not. CLI commands run by an operator must trust the CA
 * too: `doctor` reaches a control plane served over https with a certificate from a throwaway CA.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { makeTestTls } from "./tls-fixture.ts";

const CLI = resolve(import.meta.dirname, "..", "..", "bin", "agent-supervisor");
let server: Server;
let port: number;
let dir: string;
let caFile: string;
const seen: string[] = [];

beforeAll(async () => {
  dir = tempDir("as-extra-ca-");
  const tls = makeTestTls(join(dir, "tls"));
  caFile = tls.ca;
  server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: "0", skills: [] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  removeTempDirs();
});

function doctor(envFileLines: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const envFile = join(dir, `a-${seen.length}-${Date.now()}.env`);
  writeFileSync(envFile, [
    `AGENT_SUPERVISOR_DATA_DIR=${join(dir, "data")}`,
    "AGENT_SUPERVISOR_HTTP_PORT=0",
    `CONTROL_PLANE_URL=https://127.0.0.1:${port}`,
    "CONTROL_PLANE_TOKEN=tok-extra-ca",
    "RUNTIME_ID=r1",
    "ACCOUNT_ID=a1",
    ...envFileLines,
  ].join("\n") + "\n");
  return new Promise((res) => {
    // Only PATH: no NODE_EXTRA_CA_CERTS in the process environment, as in an operator's shell.
    const p = spawn(CLI, ["--config", envFile, "doctor"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.once("exit", (code) => res({ code, stdout, stderr }));
  });
}

it("without the setting, the private CA's control plane is not trusted (the test's premise)", async () => {
  const r = await doctor([]);
  expect(r.stdout).toMatch(/\[fail\] control plane: +not reachable/);
}, 60_000);

it("with NODE_EXTRA_CA_CERTS in the env file, doctor reaches the control plane over https", async () => {
  const r = await doctor([`NODE_EXTRA_CA_CERTS=${caFile}`]);
  expect(r.stdout).toMatch(/\[pass\] control plane: +reachable and accepts the service token/);
  expect(seen.at(-1)).toBe("GET /v1/runtimes/r1/skills Bearer tok-extra-ca");
}, 60_000);

it("an unreadable NODE_EXTRA_CA_CERTS file is a configuration error naming the setting", async () => {
  const r = await doctor([`NODE_EXTRA_CA_CERTS=${join(dir, "missing.pem")}`]);
  expect(r.code).toBe(78);
  expect(r.stderr).toMatch(/NODE_EXTRA_CA_CERTS: cannot read .*missing\.pem \(ENOENT\)/);
}, 60_000);
