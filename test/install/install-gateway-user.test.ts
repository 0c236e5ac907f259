/**
 * install.sh and issue 11 under a scratch root: the gateway's own user, the upgrade of an install
 * from before it (the token moved to its credential file, the gateway's tree handed over by the
 * real `agent-supervisor gateway-user hand-over`, no conversation lost), the token in an existing
 * env file, and the unit's lines for the gateway's user.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { groupMembers, has, installFixture, IS_ROOT, mode, paths, serviceIds, TOKEN_DROP_IN, UNIT } from "./fixture.ts";

const fx = installFixture();
const { publish, install, newScratch } = fx;

describe("upgrading an install from before the gateway had its own user", () => {
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
    const r = await install(["--root", root, "--base-url", fx.baseUrl]);
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
    const again = await install(["--root", root, "--base-url", fx.baseUrl, "--skip-openclaw"]);
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
    const r = await install(["--root", root, "--base-url", fx.baseUrl, "--skip-openclaw"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(paths(root).env, "utf8")).toBe(env.replace("CONTROL_PLANE_TOKEN=tok-env", "CONTROL_PLANE_TOKEN_FILE=/etc/agent-supervisor/control-plane-token"));
    expect(readFileSync(paths(root).dropIn, "utf8")).toMatch(TOKEN_DROP_IN);
  });

  it("a different token in the token file: both kept as they are, with a warning", async () => {
    publish("0.1.0-test");
    const { root, env } = prepared("tok-other\n");
    const r = await install(["--root", root, "--base-url", fx.baseUrl, "--skip-openclaw"]);
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
    const r = await install(["--root", root, "--base-url", fx.baseUrl, "--skip-openclaw"]);
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
