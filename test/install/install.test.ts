/**
 * install.sh end to end under a scratch root: a real HTTP server on 127.0.0.1 serves a release
 * directory (a fake agent-supervisor binary, SHA256SUMS, install.sh) and the real script runs
 * `sh install.sh --root DIR --base-url http://127.0.0.1:PORT`. Also runs the static validators
 * (shellcheck, systemd-analyze verify/security, cloud-init schema) when they are installed.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTALL_SH, ROOT, Release, Scratch } from "./release.ts";

const UNIT = join(ROOT, "systemd", "agent-supervisor.service");
const USER_DATA = join(ROOT, "cloud-init", "user-data.yaml");
const IS_ROOT = process.getuid?.() === 0;

const scratch = new Scratch();
const release = new Release(scratch);
let baseUrl: string;
const publish = release.publish.bind(release);
const install = release.install.bind(release);
const newScratch = (opts: { passwd?: boolean } = {}) => scratch.dir(opts);

const mode = (p: string) => statSync(p).mode & 0o777;
const paths = (root: string) => ({
  bin: join(root, "usr/local/bin/agent-supervisor"),
  unit: join(root, "etc/systemd/system/agent-supervisor.service"),
  env: join(root, "etc/agent-supervisor/agent-supervisor.env"),
  configDir: join(root, "etc/agent-supervisor"),
  dataDir: join(root, "var/lib/agent-supervisor"),
});

/** uid and gid of agent-supervisor in the scratch root's /etc/passwd. */
function serviceIds(root: string): { uid: number; gid: number } {
  const line = readFileSync(join(root, "etc/passwd"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("agent-supervisor:"));
  expect(line, "agent-supervisor in the scratch /etc/passwd").toBeDefined();
  const f = line!.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

beforeAll(async () => {
  await release.start();
  baseUrl = release.baseUrl;
});

afterAll(async () => {
  await release.stop();
  scratch.removeAll();
});

describe("install.sh under a scratch root", () => {
  it("installs the binary, directories, env file and unit with their modes", async () => {
    const bin = publish("0.1.0-test");
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"], {
      CONTROL_PLANE_URL: "https://cp.example.com",
      CONTROL_PLANE_TOKEN: "tok-abc.123",
      RUNTIME_ID: "rt-1",
      ACCOUNT_ID: "acc-1",
    });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const p = paths(root);
    expect(readFileSync(p.bin, "utf8")).toBe(bin);
    expect(mode(p.bin)).toBe(0o755);
    expect(mode(p.dataDir)).toBe(0o700);
    expect(mode(p.configDir)).toBe(0o750);
    expect(mode(p.env)).toBe(0o640);
    expect(mode(p.unit)).toBe(0o644);
    expect(readFileSync(p.unit, "utf8")).toBe(readFileSync(UNIT, "utf8"));
    const env = readFileSync(p.env, "utf8");
    expect(env).toMatch(/^CONTROL_PLANE_URL=https:\/\/cp\.example\.com$/m);
    expect(env).toMatch(/^CONTROL_PLANE_TOKEN=tok-abc\.123$/m);
    expect(env).toMatch(/^RUNTIME_ID=rt-1$/m);
    expect(env).toMatch(/^ACCOUNT_ID=acc-1$/m);
    expect(env).toMatch(/^#OPENAI_API_KEY=$/m);
    // Nothing else is left behind (no temp files next to the installed ones).
    expect(readdirSync(join(root, "usr/local/bin"))).toEqual(["agent-supervisor"]);
    expect(readdirSync(p.configDir)).toEqual(["agent-supervisor.env"]);
    expect(r.stdout).toContain("skipping systemctl daemon-reload and enable");
    expect(r.stdout).toContain("skipping 'agent-supervisor openclaw install' (--skip-openclaw)");
    expect(r.stdout).toContain("Next steps:");
  });

  it("runs again as an upgrade: new binary, unit refreshed, env file kept", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const p = paths(root);
    expect((await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"])).status).toBe(0);
    const operatorEnv = "# mine\nOPENAI_API_KEY=sk-operator\n";
    writeFileSync(p.env, operatorEnv, { mode: 0o640 });
    writeFileSync(p.unit, "[Unit]\nDescription=stale\n");
    const bin2 = publish("0.2.0-test");
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"], { OPENAI_API_KEY: "sk-ignored" });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(p.bin, "utf8")).toBe(bin2);
    expect(r.stdout).toContain("0.2.0-test");
    expect(readFileSync(p.env, "utf8")).toBe(operatorEnv);
    expect(r.stdout).toContain("kept the existing");
    expect(readFileSync(p.unit, "utf8")).toBe(readFileSync(UNIT, "utf8"));
  });

  it("refuses a checksum mismatch and installs nothing", async () => {
    publish("0.1.0-test", { corrupt: true });
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("checksum mismatch");
    expect(readdirSync(root)).toEqual([]);
  });

  it("fails clearly on an unsupported architecture, and without a base URL", async () => {
    publish("0.1.0-test");
    const fakeBin = newScratch();
    writeFileSync(join(fakeBin, "uname"), '#!/bin/sh\nif [ "$1" = -m ]; then echo aarch64; else echo Linux; fi\n', { mode: 0o755 });
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"], { PATH: `${fakeBin}:${process.env.PATH}` });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("unsupported architecture: aarch64");
    expect(readdirSync(root)).toEqual([]);
    const r2 = await install(["--root", root, "--skip-openclaw"]);
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toContain("AGENT_SUPERVISOR_BASE_URL");
  });

  it("refuses plain http to a non-loopback host", async () => {
    const r = await install(["--root", newScratch(), "--base-url", "http://downloads.example.com", "--skip-openclaw"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("must be https://");
  });

  it("takes the base URL and the root from AGENT_SUPERVISOR_BASE_URL and DESTDIR", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const r = await install(["--skip-openclaw"], { AGENT_SUPERVISOR_BASE_URL: baseUrl, DESTDIR: root });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(existsSync(paths(root).bin)).toBe(true);
  });

  it("runs 'agent-supervisor openclaw install' against the scratch root's config and data", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const p = paths(root);
    expect(readFileSync(join(p.dataDir, "runtime/openclaw-install-args"), "utf8").trim()).toBe(`--config ${p.env} openclaw install`);
  });

  it("--uninstall removes the binary and unit and keeps data and config; --purge removes them", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const p = paths(root);
    expect((await install(["--root", root, "--base-url", baseUrl])).status).toBe(0);
    const un = await install(["--root", root, "--uninstall"]);
    expect(un.status, un.stderr + un.stdout).toBe(0);
    expect(existsSync(p.bin)).toBe(false);
    expect(existsSync(p.unit)).toBe(false);
    expect(existsSync(p.env)).toBe(true);
    expect(existsSync(join(p.dataDir, "runtime/current.json"))).toBe(true);
    expect(un.stdout).toContain("add --purge");
    const purge = await install(["--root", root, "--uninstall", "--purge"]);
    expect(purge.status, purge.stderr + purge.stdout).toBe(0);
    expect(existsSync(p.dataDir)).toBe(false);
    expect(existsSync(p.configDir)).toBe(false);
    expect((await install(["--root", root, "--purge"])).status).not.toBe(0);
  });

  it("without /etc/passwd in the root, skips the user and owners and says so", async () => {
    publish("0.1.0-test");
    const r = await install(["--root", newScratch(), "--base-url", baseUrl, "--skip-openclaw"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("not creating the user agent-supervisor");
  });

  it.skipIf(!IS_ROOT || !has("useradd"))("as root with /etc/passwd in the root: creates the user and sets owners", async () => {
    publish("0.1.0-test");
    const root = newScratch({ passwd: true });
    const r = await install(["--root", root, "--base-url", baseUrl]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const { uid, gid } = serviceIds(root);
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toMatch(/^agent-supervisor:[^:]*:\d+:\d+:[^:]*:\/var\/lib\/agent-supervisor:\/usr\/sbin\/nologin$/m);
    expect(uid).toBeLessThan(1000); // a system user
    const p = paths(root);
    const own = (f: string) => [statSync(f).uid, statSync(f).gid];
    expect(own(p.dataDir)).toEqual([uid, gid]);
    expect(own(join(p.dataDir, "runtime/current.json"))).toEqual([uid, gid]);
    expect(own(p.configDir)).toEqual([0, gid]);
    expect(own(p.env)).toEqual([0, gid]);
    expect(own(p.bin)).toEqual([0, 0]);
    // An env file written root:root before the user existed (cloud-init) gets the service group.
    chmodSync(p.env, 0o600);
    spawnSync("chgrp", ["0", p.env]);
    const before = readFileSync(p.env, "utf8");
    const again = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(again.status, again.stderr + again.stdout).toBe(0);
    expect(own(p.env)).toEqual([0, gid]);
    expect(mode(p.env)).toBe(0o640);
    expect(readFileSync(p.env, "utf8")).toBe(before);
    // --purge also removes the user from the root's passwd.
    expect((await install(["--root", root, "--uninstall", "--purge"])).status).toBe(0);
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).not.toContain("agent-supervisor:");
  });
});

describe("static validation", () => {
  it.skipIf(!has("shellcheck"))("install.sh is clean under shellcheck", () => {
    const r = spawnSync("shellcheck", ["--shell=sh", INSTALL_SH], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it.skipIf(!has("systemd-analyze"))("the unit passes systemd-analyze verify and scores at most 2.0", () => {
    // verify checks that ExecStart= exists: point it at a scratch executable.
    const dir = newScratch();
    const exe = join(dir, "agent-supervisor");
    writeFileSync(exe, "#!/bin/sh\n", { mode: 0o755 });
    const unit = join(dir, "agent-supervisor.service");
    const text = readFileSync(UNIT, "utf8");
    expect(text).toMatch(/^ExecStart=\/usr\/local\/bin\/agent-supervisor run$/m);
    writeFileSync(unit, text.replace(/^ExecStart=\/usr\/local\/bin\/agent-supervisor /m, `ExecStart=${exe} `));
    const v = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(v.stderr + v.stdout).toBe("");
    expect(v.status).toBe(0);
    const s = spawnSync("systemd-analyze", ["security", "--offline=true", "--threshold=20", unit], { encoding: "utf8" });
    expect(s.status, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toMatch(/Overall exposure level for agent-supervisor\.service: (0\.\d|1\.\d|2\.0) /);
  });

  it.skipIf(!has("cloud-init") || !has("envsubst"))("the cloud-init user data is valid, before and after rendering", () => {
    expect(spawnSync("cloud-init", ["schema", "--config-file", USER_DATA], { encoding: "utf8" }).status).toBe(0);
    const vars = ["AGENT_SUPERVISOR_BASE_URL", "CONTROL_PLANE_URL", "CONTROL_PLANE_TOKEN", "RUNTIME_ID", "ACCOUNT_ID"];
    const rendered = spawnSync("envsubst", [vars.map((v) => "${" + v + "}").join(" ")], {
      input: readFileSync(USER_DATA, "utf8"),
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        AGENT_SUPERVISOR_BASE_URL: "https://downloads.example.com/agent-supervisor",
        CONTROL_PLANE_URL: "https://cp.example.com",
        CONTROL_PLANE_TOKEN: "tok-123",
        RUNTIME_ID: "rt-1",
        ACCOUNT_ID: "acc-1",
      },
    });
    expect(rendered.status).toBe(0);
    expect(rendered.stdout).toContain("CONTROL_PLANE_TOKEN=tok-123\n");
    expect(rendered.stdout).toContain('"https://downloads.example.com/agent-supervisor"]');
    const file = join(newScratch(), "user-data.yaml");
    writeFileSync(file, rendered.stdout);
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("Valid cloud-config");
    // The env file is written before the installer runs, 0640, and the installer is run from the base URL.
    expect(rendered.stdout).toMatch(/path: \/etc\/agent-supervisor\/agent-supervisor\.env\n\s+owner: root:root\n\s+permissions: "0640"/);
  });
});
