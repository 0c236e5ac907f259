/**
 * install.sh end to end under a scratch root: a real HTTP server on 127.0.0.1 serves a release
 * directory (a fake agent-supervisor binary, SHA256SUMS, install.sh) and the real script runs
 * `sh install.sh --root DIR --base-url http://127.0.0.1:PORT`. Also runs the static validators
 * (shellcheck, systemd-analyze verify/security, cloud-init schema) when they are installed.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
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
  token: join(root, "etc/agent-supervisor/control-plane-token"),
  dropIn: join(root, "etc/systemd/system/agent-supervisor.service.d/10-control-plane-token.conf"),
});

/** The drop-in that delivers the token file as the systemd credential the daemon reads (src/config/load.ts). */
const TOKEN_DROP_IN = /^\[Service\]\nLoadCredential=control-plane-token:\/etc\/agent-supervisor\/control-plane-token$/m;

/** uid and gid of `user` (default agent-supervisor) in the scratch root's /etc/passwd. */
function serviceIds(root: string, user = "agent-supervisor"): { uid: number; gid: number } {
  const line = readFileSync(join(root, "etc/passwd"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${user}:`));
  expect(line, `${user} in the scratch /etc/passwd`).toBeDefined();
  const f = line!.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The members of `group` in the scratch root's /etc/group (undefined if there is no such group). */
function groupMembers(root: string, group: string): string[] | undefined {
  const line = readFileSync(join(root, "etc/group"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${group}:`));
  return line === undefined ? undefined : line.split(":")[3]!.split(",").filter((m) => m !== "");
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
    // 0711: the gateway's user passes through to gateway/ and runtime/ (and sees nothing else).
    expect(mode(p.dataDir)).toBe(0o711);
    expect(mode(p.configDir)).toBe(0o750);
    expect(mode(p.env)).toBe(0o640);
    expect(mode(p.unit)).toBe(0o644);
    expect(readFileSync(p.unit, "utf8")).toBe(readFileSync(UNIT, "utf8"));
    const env = readFileSync(p.env, "utf8");
    expect(env).toMatch(/^CONTROL_PLANE_URL=https:\/\/cp\.example\.com$/m);
    // The token is not in the env file: it is in its own file, delivered as a systemd credential.
    expect(env).not.toContain("tok-abc.123");
    expect(env).not.toMatch(/^CONTROL_PLANE_TOKEN=/m);
    expect(env).toMatch(/^CONTROL_PLANE_TOKEN_FILE=\/etc\/agent-supervisor\/control-plane-token$/m);
    expect(readFileSync(p.token, "utf8").trim()).toBe("tok-abc.123");
    expect(mode(p.token)).toBe(0o640);
    expect(readFileSync(p.dropIn, "utf8")).toMatch(TOKEN_DROP_IN);
    expect(mode(p.dropIn)).toBe(0o644);
    expect(r.stdout).not.toContain("tok-abc.123");
    expect(env).toMatch(/^RUNTIME_ID=rt-1$/m);
    expect(env).toMatch(/^ACCOUNT_ID=acc-1$/m);
    expect(env).toMatch(/^#OPENAI_API_KEY=$/m);
    // Nothing else is left behind (no temp files next to the installed ones).
    expect(readdirSync(join(root, "usr/local/bin"))).toEqual(["agent-supervisor"]);
    expect(readdirSync(p.configDir).sort()).toEqual(["agent-supervisor.env", "control-plane-token"]);
    expect(readdirSync(join(root, "etc/systemd/system/agent-supervisor.service.d"))).toEqual(["10-control-plane-token.conf"]);
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
    // No token, no credential: a drop-in naming a missing file would keep the unit from starting.
    expect(existsSync(p.token)).toBe(false);
    expect(existsSync(p.dropIn)).toBe(false);
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

  it("--uninstall removes the binary, unit and drop-in and keeps data and config; --purge removes them", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const p = paths(root);
    expect((await install(["--root", root, "--base-url", baseUrl], { CONTROL_PLANE_TOKEN: "tok-1" })).status).toBe(0);
    expect(existsSync(p.dropIn)).toBe(true);
    const un = await install(["--root", root, "--uninstall"]);
    expect(un.status, un.stderr + un.stdout).toBe(0);
    expect(existsSync(p.bin)).toBe(false);
    expect(existsSync(p.unit)).toBe(false);
    expect(existsSync(join(root, "etc/systemd/system/agent-supervisor.service.d"))).toBe(false);
    expect(existsSync(p.env)).toBe(true);
    expect(existsSync(p.token)).toBe(true);
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
    expect(r.stdout).toContain("not creating the users agent-supervisor and agent-supervisor-gw");
  });

  it.skipIf(!IS_ROOT || !has("useradd"))("as root with /etc/passwd in the root: creates both users and sets owners", async () => {
    publish("0.1.0-test");
    const root = newScratch({ passwd: true });
    const r = await install(["--root", root, "--base-url", baseUrl], { CONTROL_PLANE_TOKEN: "tok-root.1" });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const { uid, gid } = serviceIds(root);
    const passwd = () => readFileSync(join(root, "etc/passwd"), "utf8");
    expect(passwd()).toMatch(/^agent-supervisor:[^:]*:\d+:\d+:[^:]*:\/var\/lib\/agent-supervisor:\/usr\/sbin\/nologin$/m);
    expect(uid).toBeLessThan(1000); // a system user
    // The gateway's own user, its home inside the gateway's tree (made by the daemon, not here).
    expect(passwd()).toMatch(/^agent-supervisor-gw:[^:]*:\d+:\d+:[^:]*:\/var\/lib\/agent-supervisor\/gateway\/home:\/usr\/sbin\/nologin$/m);
    const gw = serviceIds(root, "agent-supervisor-gw");
    expect(gw.uid).toBeLessThan(1000);
    expect(gw.uid).not.toBe(uid);
    expect(gw.gid).not.toBe(gid);
    expect(groupMembers(root, "agent-supervisor-gw")).toEqual(["agent-supervisor"]);
    expect(groupMembers(root, "agent-supervisor")).toEqual([]);
    const p = paths(root);
    const own = (f: string) => [statSync(f).uid, statSync(f).gid];
    expect(own(p.dataDir)).toEqual([uid, gid]);
    expect(own(join(p.dataDir, "runtime/current.json"))).toEqual([uid, gid]);
    expect(own(p.configDir)).toEqual([0, gid]);
    expect(own(p.env)).toEqual([0, gid]);
    expect(own(p.token)).toEqual([0, gid]);
    expect(own(p.bin)).toEqual([0, 0]);
    // An env file and a token file written root:root 0600 before the user existed (cloud-init)
    // get the service group, and the token file its drop-in.
    chmodSync(p.env, 0o600);
    spawnSync("chgrp", ["0", p.env]);
    chmodSync(p.token, 0o600);
    spawnSync("chgrp", ["0", p.token]);
    spawnSync("rm", ["-r", join(root, "etc/systemd/system/agent-supervisor.service.d")]);
    const before = readFileSync(p.env, "utf8");
    const passwdBefore = passwd();
    const again = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(again.status, again.stderr + again.stdout).toBe(0);
    expect(own(p.env)).toEqual([0, gid]);
    expect(mode(p.env)).toBe(0o640);
    expect(readFileSync(p.env, "utf8")).toBe(before);
    expect(own(p.token)).toEqual([0, gid]);
    expect(mode(p.token)).toBe(0o640);
    expect(readFileSync(p.dropIn, "utf8")).toMatch(TOKEN_DROP_IN);
    // Idempotent: no user or membership added twice.
    expect(again.stdout).not.toContain("created the system user");
    expect(passwd()).toBe(passwdBefore);
    expect(groupMembers(root, "agent-supervisor-gw")).toEqual(["agent-supervisor"]);
    // --purge also removes both users from the root's passwd.
    expect((await install(["--root", root, "--uninstall", "--purge"])).status).toBe(0);
    expect(passwd()).not.toContain("agent-supervisor");
  });

  it.skipIf(!IS_ROOT || !has("useradd"))("upgrades an install made before the gateway had its own user, losing no conversation", async () => {
    const root = newScratch({ passwd: true });
    const p = paths(root);
    // What the previous install.sh left: its user, the token in the env file (0640
    // root:agent-supervisor), a 0700 data directory, and the gateway's tree owned by the service
    // user: openclaw.json, a session transcript, the agent's workspace.
    const made = spawnSync("useradd", ["--root", root, "--system", "--user-group", "--home-dir", "/var/lib/agent-supervisor",
      "--no-create-home", "--shell", "/usr/sbin/nologin", "agent-supervisor"], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    const { uid, gid } = serviceIds(root);
    mkdirSync(p.configDir, { recursive: true, mode: 0o750 });
    chownSync(p.configDir, 0, gid);
    const envBefore = [
      "# agent-supervisor settings, edited by the operator",
      "CONTROL_PLANE_URL=https://cp.example.com",
      "CONTROL_PLANE_TOKEN=tok-old.456",
      "RUNTIME_ID=rt-1",
      "ACCOUNT_ID=acc-1",
      "OPENAI_API_KEY=sk-operator",
      "",
    ].join("\n");
    writeFileSync(p.env, envBefore, { mode: 0o640 });
    chownSync(p.env, 0, gid);
    const gateway = join(p.dataDir, "gateway");
    const tree: Record<string, string> = {
      "state/openclaw.json": JSON.stringify({ gateway: { port: 18789 }, agents: { defaults: { workspace: "/var/lib/agent-supervisor/gateway/workspace" } } }),
      "state/agents/main/sessions/sessions.json": JSON.stringify({ "agent:main:conv-1": { sessionId: "5f0c2a9e" } }),
      "state/agents/main/sessions/5f0c2a9e.jsonl": '{"type":"message","role":"user","text":"hello"}\n{"type":"message","role":"assistant","text":"hi"}\n',
      "workspace/MEMORY.md": "# Memory\n- the user likes tea\n",
      "logs/openclaw.log": "gateway started\n",
    };
    for (const [rel, text] of Object.entries(tree)) {
      mkdirSync(join(gateway, rel, ".."), { recursive: true, mode: 0o700 });
      writeFileSync(join(gateway, rel), text, { mode: 0o600 });
    }
    writeFileSync(join(p.dataDir, "agent-supervisor.db"), "SQLite format 3\0 (a stand-in)");
    spawnSync("chown", ["-R", `${uid}:${gid}`, p.dataDir]);
    chmodSync(p.dataDir, 0o700);
    const listBefore = readdirSync(p.dataDir, { recursive: true }).map(String).sort();

    publish("0.2.0-test");
    const r = await install(["--root", root, "--base-url", baseUrl]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("moved CONTROL_PLANE_TOKEN from");
    expect(r.stdout + r.stderr).not.toContain("tok-old.456");
    // The token moved to its credential file; every other line of the env file kept, in order.
    expect(readFileSync(p.env, "utf8")).toBe(
      envBefore.replace("CONTROL_PLANE_TOKEN=tok-old.456", "CONTROL_PLANE_TOKEN_FILE=/etc/agent-supervisor/control-plane-token"),
    );
    const own = (f: string) => [statSync(f).uid, statSync(f).gid];
    expect(own(p.env)).toEqual([0, gid]);
    expect(mode(p.env)).toBe(0o640);
    expect(readFileSync(p.token, "utf8").trim()).toBe("tok-old.456");
    expect(own(p.token)).toEqual([0, gid]);
    expect(mode(p.token)).toBe(0o640);
    expect(readFileSync(p.dropIn, "utf8")).toMatch(TOKEN_DROP_IN);
    expect(readdirSync(p.configDir).sort()).toEqual(["agent-supervisor.env", "control-plane-token"]);
    // The gateway's user, with the daemon in its group; the data directory passable.
    expect(serviceIds(root, "agent-supervisor-gw").uid).not.toBe(uid);
    expect(groupMembers(root, "agent-supervisor-gw")).toEqual(["agent-supervisor"]);
    expect(mode(p.dataDir)).toBe(0o711);
    // Every file of the gateway's tree is still there, byte for byte, now the gateway user's and
    // shared with the daemon through its group ('agent-supervisor gateway-user hand-over').
    const gw = serviceIds(root, "agent-supervisor-gw");
    expect(r.stdout).toContain(`handed ${gateway} over to agent-supervisor-gw`);
    for (const [rel, text] of Object.entries(tree)) {
      expect(readFileSync(join(gateway, rel), "utf8"), rel).toBe(text);
      expect(own(join(gateway, rel)), rel).toEqual([gw.uid, gw.gid]);
      expect(mode(join(gateway, rel)), rel).toBe(0o660);
    }
    for (const dir of ["", "state", "state/agents/main/sessions", "workspace", "logs", "home"]) {
      expect(own(join(gateway, dir)), dir).toEqual([gw.uid, gw.gid]);
      expect(statSync(join(gateway, dir)).mode & 0o7777, dir).toBe(0o2770);
    }
    expect(readFileSync(join(p.dataDir, "agent-supervisor.db"), "utf8")).toBe("SQLite format 3\0 (a stand-in)");
    const listAfter = readdirSync(p.dataDir, { recursive: true }).map(String).sort();
    expect(listAfter.filter((f) => !f.startsWith("runtime") && f !== join("gateway", "home"))).toEqual(listBefore);

    // A second run finds nothing to move and changes nothing.
    const envAfter = readFileSync(p.env, "utf8");
    const again = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(again.status, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).not.toContain("moved CONTROL_PLANE_TOKEN");
    expect(again.stdout).toContain(`${gateway} already belongs to agent-supervisor-gw`);
    expect(readFileSync(p.env, "utf8")).toBe(envAfter);
    expect(readFileSync(p.token, "utf8").trim()).toBe("tok-old.456");
  });
});

describe("the token in an existing env file", () => {
  /** A scratch root holding an env file with `CONTROL_PLANE_TOKEN=tok-env` and, if given, a token file. */
  function prepared(tokenFile?: string): { root: string; env: string } {
    const root = newScratch();
    const p = paths(root);
    mkdirSync(p.configDir, { recursive: true });
    const env = "CONTROL_PLANE_URL=https://cp.example.com\nCONTROL_PLANE_TOKEN=tok-env\nRUNTIME_ID=rt-1\n";
    writeFileSync(p.env, env, { mode: 0o640 });
    if (tokenFile !== undefined) writeFileSync(p.token, tokenFile, { mode: 0o600 });
    return { root, env };
  }

  it("already in the token file: the env file's copy is dropped", async () => {
    publish("0.1.0-test");
    const { root, env } = prepared("tok-env\n");
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(paths(root).env, "utf8")).toBe(env.replace("CONTROL_PLANE_TOKEN=tok-env", "CONTROL_PLANE_TOKEN_FILE=/etc/agent-supervisor/control-plane-token"));
    expect(readFileSync(paths(root).dropIn, "utf8")).toMatch(TOKEN_DROP_IN);
  });

  it("a different token in the token file: both kept as they are, with a warning", async () => {
    publish("0.1.0-test");
    const { root, env } = prepared("tok-other\n");
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toContain("differs from");
    expect(r.stdout + r.stderr).not.toMatch(/tok-(env|other)/);
    expect(readFileSync(paths(root).env, "utf8")).toBe(env);
    expect(readFileSync(paths(root).token, "utf8")).toBe("tok-other\n");
  });

  it("an empty token file (a standalone host's cloud-init) gets no drop-in", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const p = paths(root);
    mkdirSync(p.configDir, { recursive: true });
    writeFileSync(p.env, "CONTROL_PLANE_TOKEN_FILE=/etc/agent-supervisor/control-plane-token\nOPENAI_API_KEY=sk-1\n", { mode: 0o640 });
    writeFileSync(p.token, "\n", { mode: 0o600 });
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(existsSync(p.dropIn)).toBe(false);
  });
});

describe("the unit", () => {
  const lines = () => readFileSync(UNIT, "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#"));

  it("runs the gateway as its own user: the group, the setting, the capabilities to switch and signal", () => {
    const l = lines();
    expect(l).toContain("User=agent-supervisor");
    expect(l).toContain("SupplementaryGroups=agent-supervisor-gw");
    expect(l).toContain("Environment=GATEWAY_USER=agent-supervisor-gw");
    expect(l).toContain("AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL");
    expect(l).toContain("CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_KILL");
    expect(l).toContain("StateDirectoryMode=0711");
    expect(l).toContain("UMask=0007");
    expect(l).toContain("IPAddressDeny=169.254.169.254 fd00:ec2::254");
    // setpriv's calls, and chown for sharing the gateway's tree, are added back after ~@privileged
    // removed them: the order matters.
    expect(l.filter((x) => x.startsWith("SystemCallFilter="))).toEqual([
      "SystemCallFilter=@system-service",
      "SystemCallFilter=~@privileged",
      "SystemCallFilter=@setuid capset",
      "SystemCallFilter=@chown",
    ]);
    // PrivateUsers' namespace has no gateway user; hidepid would hide the gateway from the watchdog.
    expect(l.some((x) => x.startsWith("PrivateUsers="))).toBe(false);
    expect(l).toContain("ProtectProc=default");
  });
});

describe("static validation", () => {
  it.skipIf(!has("shellcheck"))("install.sh is clean under shellcheck", () => {
    const r = spawnSync("shellcheck", ["--shell=sh", INSTALL_SH], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it.skipIf(!has("systemd-analyze"))("the unit, with install.sh's token drop-in, passes systemd-analyze verify and scores at most 2.5", async () => {
    // verify checks that ExecStart= exists: point it at a scratch executable.
    const dir = newScratch();
    // The drop-in as a fresh install with a token writes it, next to the unit; SYSTEMD_UNIT_PATH
    // makes verify read it (an unknown key or a bad LoadCredential= would be reported).
    publish("0.1.0-test");
    const root = newScratch();
    expect((await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"], { CONTROL_PLANE_TOKEN: "tok-1" })).status).toBe(0);
    mkdirSync(join(dir, "agent-supervisor.service.d"));
    writeFileSync(join(dir, "agent-supervisor.service.d", "10-control-plane-token.conf"), readFileSync(paths(root).dropIn));
    const analyzeEnv = { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` };
    const exe = join(dir, "agent-supervisor");
    writeFileSync(exe, "#!/bin/sh\n", { mode: 0o755 });
    const unit = join(dir, "agent-supervisor.service");
    const text = readFileSync(UNIT, "utf8");
    expect(text).toMatch(/^ExecStart=\/usr\/local\/bin\/agent-supervisor run$/m);
    writeFileSync(unit, text.replace(/^ExecStart=\/usr\/local\/bin\/agent-supervisor /m, `ExecStart=${exe} `));
    const v = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8", env: analyzeEnv });
    expect(v.stderr + v.stdout).toBe("");
    expect(v.status).toBe(0);
    const s = spawnSync("systemd-analyze", ["security", "--offline=true", "--threshold=25", unit], { encoding: "utf8", env: analyzeEnv });
    expect(s.status, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toMatch(/Overall exposure level for agent-supervisor\.service: (0\.\d|1\.\d|2\.[0-5]) /);
    // Calls of @privileged are allowed again after ~@privileged (setpriv's, chown): the later lines
    // took effect. (Run against the unit without them, this reports "@privileged is not included".)
    expect(s.stdout).toMatch(/@privileged is included \(e\.g\. \w+ is allowed\)/);
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
    // The token in its own root-only file, which install.sh makes the credential; the env file names it.
    expect(rendered.stdout).toContain("CONTROL_PLANE_TOKEN_FILE=/etc/agent-supervisor/control-plane-token\n");
    expect(rendered.stdout).toMatch(/path: \/etc\/agent-supervisor\/control-plane-token\n\s+owner: root:root\n\s+permissions: "0600"\n\s+content: \|\n\s+tok-123\n/);
    expect(rendered.stdout).not.toMatch(/^\s+CONTROL_PLANE_TOKEN=/m);
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
