/**
 * The download and control-plane URL rule, "https://, or plain http only to loopback", run for
 * real through both scripts that apply it: install.sh (`--base-url`) and cloud-init/render.sh
 * (AGENT_SUPERVISOR_BASE_URL, CONTROL_PLANE_URL), over one table. The rule lives in install.sh
 * only; render.sh reads it from there. Nothing here reaches the network: a refused URL stops
 * install.sh before its download, an accepted one is a closed port on 127.0.0.1 or ::1.
 */
import { execFile, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const INSTALL_SH = join(ROOT, "install.sh");
const RENDER = join(ROOT, "cloud-init", "render.sh");

/** Plain http whose host is not exactly 127.0.0.1, localhost or [::1], or any userinfo (`@`). */
const REFUSED = [
  "http://downloads.example.com",
  "http://localhost:@evil.invalid/",
  "http://127.0.0.1:80@evil.invalid/",
  "http://localhost@evil.invalid",
  "http://[::1]:80@evil.invalid/x",
  "http://user:pw@127.0.0.1/release",
  "https://user@downloads.example.com/release",
  "http://localhost.evil.invalid/",
  "http://127.0.0.1.evil.invalid/",
  "http://[::1].evil.invalid/",
  "http://[::1]evil.invalid/",
  "http://localhost:80x/",
  "http://localhost:/",
  "http://127.0.0.1:8080:80/",
  "http:/127.0.0.1/",
  "ftp://downloads.example.com/",
  "https://",
  "https:///release",
  "https://:443/release",
];
/** `PORT` is a closed port on loopback. */
const ACCEPTED = [
  "http://127.0.0.1:PORT",
  "http://127.0.0.1:PORT/release/v1",
  "http://localhost:PORT",
  "http://[::1]:PORT/release",
  "https://127.0.0.1:PORT/release",
];

let port = 0;
const dirs: string[] = [];
beforeAll(async () => {
  // A port that was free a moment ago: connections to it are refused.
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  port = (s.address() as { port: number }).port;
  await new Promise((ok) => s.close(ok));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), "as-url-rule-"));
  dirs.push(d);
  return d;
};
const withPort = (url: string) => url.replace("PORT", String(port));

type Run = { status: number | null; stdout: string; stderr: string };
function run(cmd: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) => {
      done({ status: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
  });
}

const CP = { CONTROL_PLANE_TOKEN: "tok-1", RUNTIME_ID: "rt-1", ACCOUNT_ID: "acc-1" };

describe("install.sh --base-url", () => {
  it.each(REFUSED)("refuses %s before downloading anything", async (url) => {
    const root = scratch();
    const r = await run("sh", [INSTALL_SH, "--root", root, "--base-url", url, "--skip-openclaw"], {});
    expect(r.stderr).toContain(`the base URL must be https:// (plain http only to loopback): ${url.replace(/\/$/, "")}`);
    expect(r.stdout).not.toContain("downloading");
    expect(r.status).toBe(1);
    expect(readdirSync(root)).toEqual([]);
  });

  it.each(ACCEPTED)("accepts %s and goes on to download", async (template) => {
    const url = withPort(template);
    const r = await run("sh", [INSTALL_SH, "--root", scratch(), "--base-url", url, "--skip-openclaw"], {});
    expect(r.stdout).toContain(`downloading ${url}/agent-supervisor-linux-x64`);
    expect(r.stderr).toContain(`download failed: ${url}/SHA256SUMS`);
  });
});

describe("cloud-init/render.sh", () => {
  it.each(REFUSED)("refuses %s as AGENT_SUPERVISOR_BASE_URL and as CONTROL_PLANE_URL (exit 65)", async (url) => {
    const base = await run("sh", [RENDER], { AGENT_SUPERVISOR_BASE_URL: url });
    expect(base.stderr).toContain(`render.sh: error: AGENT_SUPERVISOR_BASE_URL must be https:// (plain http only to loopback): ${url}`);
    expect(base.status).toBe(65);
    const cp = await run("sh", [RENDER], { AGENT_SUPERVISOR_BASE_URL: "https://downloads.example.com", CONTROL_PLANE_URL: url, ...CP });
    expect(cp.stderr).toContain(`render.sh: error: CONTROL_PLANE_URL must be https:// (plain http only to loopback): ${url}`);
    expect(cp.status).toBe(65);
    expect(base.stdout + cp.stdout).toBe("");
  });

  it.each(ACCEPTED)("accepts %s as both URLs", async (template) => {
    const url = withPort(template);
    const r = await run("sh", [RENDER], { AGENT_SUPERVISOR_BASE_URL: url, CONTROL_PLANE_URL: url, ...CP });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`CONTROL_PLANE_URL=${url}\n`);
  });

  it("reads the rule from install.sh, and says so when it is missing (exit 1)", () => {
    const dir = scratch();
    mkdirSync(join(dir, "cloud-init"));
    for (const f of ["render.sh", "user-data.yaml"]) copyFileSync(join(ROOT, "cloud-init", f), join(dir, "cloud-init", f));
    const r = spawnSync("sh", [join(dir, "cloud-init", "render.sh")], { env: { PATH: process.env.PATH, AGENT_SUPERVISOR_BASE_URL: "https://x.example.com" }, encoding: "utf8" });
    expect(r.stderr).toContain(`cannot read ${join(dir, "cloud-init", "..", "install.sh")} (the URL and key rules are defined there)`);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
  });
});
