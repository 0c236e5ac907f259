/**
 * The agent boundary (issue 11) with the real gateway, as root so that the users really exist: a
 * daemon user (`as-e2e-daemon`, non-root, in the gateway's group) and the gateway's user
 * (`as-e2e-gw`). The daemon runs under setpriv the way the shipped unit runs it: as its user, with
 * CAP_SETUID, CAP_SETGID and CAP_KILL as ambient capabilities and nothing else.
 *
 * In order, on one site:
 * 1. without GATEWAY_USER and without capabilities (development): the gateway runs as the daemon's
 *    user, and /health and doctor say that the boundary is off; a first conversation is held;
 * 2. GATEWAY_USER set but no capabilities: the gateway is held, saying why;
 * 3. with the capabilities, the gateway is held until root hands the tree from step 1 over to the
 *    gateway's user (`agent-supervisor gateway-user hand-over`, which install.sh runs);
 * 4. then the conversation goes on, and a turn whose mock-model answer makes the agent's exec/read/write tools go after every
 *    operator secret finds each of them refused: the tools ran (their errors are in the reply and
 *    the transcript), no credential is in the reply, the transcript or any gateway file, and the
 *    daemon's database is not written. The metadata address is the unit's (IPAddressDeny=),
 *    checked under a real systemd by the droplet test.
 *
 * Skipped elsewhere, saying so; CI runs it as root.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { chatHistory, CLI, gatewayPid, getJson, killDaemon, makeSite, postTurn, runCommand, until, waitReady, waitTurn, type Daemon, type Site, startDaemon } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const isRoot = process.getuid?.() === 0;
const DAEMON_USER = "as-e2e-daemon";
const GW_USER = "as-e2e-gw";
const MIN = 60_000;

if (!isRoot) {
  describe("the agent boundary", () => {
    it.skip("skipped here (not root): it creates two system users; CI runs it as root", () => {});
  });
}

/** uid and gid of a user (created if missing, as a system user without a home or a shell). */
function ensureUser(name: string): { uid: number; gid: number } {
  if (spawnSync("id", ["-u", name]).status !== 0) {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]);
  }
  return { uid: Number(execFileSync("id", ["-u", name], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", name], { encoding: "utf8" })) };
}

/** Every regular file under `dir` (as root), for a search of the gateway's files. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/status`, "utf8").split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
}

/** One value from the daemon's database, read-only (as root). */
function sql(db: string, query: string): unknown {
  const d = new Database(db, { readonly: true });
  try {
    return Object.values(d.prepare(query).get() as Record<string, unknown>)[0];
  } finally {
    d.close();
  }
}

describe.runIf(isRoot)("the agent boundary (root: two real users, the real gateway)", () => {
  let model: MockModel;
  let site: Site;
  let daemon: Daemon | undefined;
  let work: string;
  let daemonUser: { uid: number; gid: number };
  let gwUser: { uid: number; gid: number };
  const canary = { env: `env-canary-${randomBytes(8).toString("hex")}`, environ: `environ-canary-${randomBytes(8).toString("hex")}`, secrets: `secrets-canary-${randomBytes(8).toString("hex")}` };
  const asDaemon = (caps: boolean) => [
    "setpriv", `--reuid=${DAEMON_USER}`, `--regid=${DAEMON_USER}`, "--init-groups",
    ...(caps ? ["--inh-caps=+setuid,+setgid,+kill", "--ambient-caps=+setuid,+setgid,+kill"] : ["--inh-caps=-all", "--ambient-caps=-all"]),
  ];
  const start = async (caps: boolean) => {
    daemon = startDaemon(site, { AS_E2E_CANARY: canary.environ }, asDaemon(caps));
    const d = daemon;
    onTestFailed(() => console.log(`daemon log (last 80 lines):\n${d.logs.slice(-80).join("\n")}`));
    await until("the local API", async () => (await getJson(site, "/livez")).status === 200, MIN);
  };
  const stop = async () => {
    daemon!.proc.kill("SIGTERM");
    expect((await daemon!.exited).code).toBe(0);
    daemon = undefined;
  };
  const boundaryCheck = async () => (await getJson(site, "/health")).body.checks["gateway:user"][0];

  beforeAll(async () => {
    gwUser = ensureUser(GW_USER);
    daemonUser = ensureUser(DAEMON_USER);
    execFileSync("usermod", ["-a", "-G", GW_USER, DAEMON_USER]);
    // The gateway's user runs the cached runtime: let it pass the cache's private directory.
    chmodSync(dirname(inject("e2eRuntimeDir")), 0o711);
    model = await startMockModel();
    work = mkdtempSync(join(tmpdir(), "as-boundary-"));
    chmodSync(work, 0o755);
    site = await makeSite(work, inject("e2eRuntimeDir"), model.url);
    // As install.sh leaves a host: the data directory the daemon's, the env file root:daemon 0640.
    chownSync(site.dataDir, daemonUser.uid, daemonUser.gid);
    lchownSync(join(site.dataDir, "runtime"), daemonUser.uid, daemonUser.gid);
    writeFileSync(site.envFile, `${readFileSync(site.envFile, "utf8")}# ${canary.env}\n`);
    chownSync(site.envFile, 0, daemonUser.gid);
    chmodSync(site.envFile, 0o640);
    chmodSync(join(work, "tmp"), 0o1777);
    // Stored provider secrets (here a file the daemon ignores: only the access to it matters).
    mkdirSync(join(site.dataDir, "secrets"), { mode: 0o700 });
    writeFileSync(join(site.dataDir, "secrets", "provider-secrets.json"), JSON.stringify({ canary: canary.secrets }), { mode: 0o600 });
    chownSync(join(site.dataDir, "secrets"), daemonUser.uid, daemonUser.gid);
    chownSync(join(site.dataDir, "secrets", "provider-secrets.json"), daemonUser.uid, daemonUser.gid);
  }, 2 * MIN);

  afterAll(async () => {
    await killDaemon(site, daemon);
    spawnSync("pkill", ["-KILL", "-u", GW_USER]);
    await model?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  }, MIN);

  it("without GATEWAY_USER (development) the gateway runs as the daemon's user, and /health and doctor say the boundary is off", async () => {
    await start(false);
    await waitReady(site, 3 * MIN);
    const check = await boundaryCheck();
    expect(check).toMatchObject({ status: "warn", observedValue: null, output: expect.stringContaining("the agent boundary is off: GATEWAY_USER is not set") });
    expect(procStatus(await gatewayPid(site)).Uid!.split(/\s+/)[0]).toBe(String(daemonUser.uid));
    // Not spawnSync: doctor checks the provider key at the mock model, which answers from this process.
    const doctor = await runCommand(asDaemon(false)[0]!, [...asDaemon(false).slice(1), CLI, "--config", site.envFile, "doctor"], { env: { PATH: process.env.PATH ?? "", HOME: work } });
    expect(doctor.stdout).toContain("[warn] gateway user: the running daemon says: the agent boundary is off: GATEWAY_USER is not set");
    // A conversation from before the boundary, to be continued after it.
    const first = await waitTurn(site, await postTurn(site, "kept", "before the boundary"), 2 * MIN);
    expect(first).toMatchObject({ state: "done", reply: "echo: before the boundary" });
    await stop();
  }, 6 * MIN);

  it("GATEWAY_USER set without the capabilities: the gateway is held, saying why, and never starts as the daemon's user", async () => {
    writeFileSync(site.envFile, `${readFileSync(site.envFile, "utf8")}GATEWAY_USER=${GW_USER}\n`);
    const calls = model.requests.length;
    await start(false);
    const check = await until("gateway:user to fail", async () => {
      const c = await boundaryCheck();
      return c.status === "fail" ? c : undefined;
    }, MIN);
    expect(check.output).toContain(`GATEWAY_USER=${GW_USER}: the daemon (uid ${daemonUser.uid}) lacks CAP_SETUID, CAP_SETGID, CAP_KILL`);
    const held = await until("the gateway to be held", async () => {
      const p = (await getJson(site, "/health")).body.checks["gateway:process"][0];
      return p.observedValue === "failed" || p.observedValue === "backoff" ? p : undefined;
    }, MIN);
    expect(JSON.stringify(held)).toContain("lacks CAP_SETUID");
    // No gateway of this site's users (vitest runs another file beside this one, and the droplet
    // test's container runs its own gateway: a pgrep over all users would see theirs).
    for (const u of [DAEMON_USER, GW_USER]) expect(spawnSync("pgrep", ["-u", u, "-f", "openclaw"]).stdout.toString().trim(), u).toBe("");
    expect(model.requests.length).toBe(calls);
    await stop();
  }, 3 * MIN);

  it("with the capabilities but a tree from before: held until root hands the tree over (install.sh's step)", async () => {
    const calls = model.requests.length;
    await start(true);
    const held = await until("the gateway to be held for its tree", async () => {
      const p = (await getJson(site, "/health")).body.checks["gateway:process"][0];
      return JSON.stringify(p).includes("does not belong to") ? p : undefined;
    }, MIN);
    expect(JSON.stringify(held)).toContain(`does not belong to ${GW_USER} yet`);
    expect(JSON.stringify(held)).toContain("agent-supervisor gateway-user hand-over");
    expect(model.requests.length).toBe(calls);
    await stop();
    const r = spawnSync(CLI, ["gateway-user", "hand-over", "--user", GW_USER, "--data-dir", site.dataDir], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`handed ${join(site.dataDir, "gateway")} over to ${GW_USER}`);
  }, 3 * MIN);

  it("the unit's way: the conversation goes on as the gateway's user, and every operator secret is out of the agent's reach", async () => {
    const root = join(site.dataDir, "gateway");
    // OpenClaw 2026.9.6 keeps transcripts in SQLite under state/agents/: handed over with the tree.
    const agentFiles = filesUnder(join(root, "state", "agents"));
    expect(agentFiles.filter((f) => f.endsWith(".sqlite")).length).toBeGreaterThan(0);
    expect(agentFiles.every((f) => statSync(f).uid === gwUser.uid)).toBe(true);
    // A leftover of the gateway's user in TMP_DIR: the sweep before the start runs as that user.
    const leftover = join(site.dir, "tmp", "openclaw-leftover");
    mkdirSync(leftover, { mode: 0o700 });
    writeFileSync(join(leftover, "scratch"), "x");
    chownSync(join(leftover, "scratch"), gwUser.uid, gwUser.gid);
    chownSync(leftover, gwUser.uid, gwUser.gid);

    await start(true);
    await waitReady(site, 3 * MIN);
    expect(await boundaryCheck()).toMatchObject({ status: "pass", observedValue: GW_USER });
    // The gateway: the gateway's user and group, no supplementary group, no capability.
    const pid = await gatewayPid(site);
    const st = procStatus(pid);
    expect(st.Uid!.split(/\s+/)).toEqual(Array(4).fill(String(gwUser.uid)));
    expect(st.Gid!.split(/\s+/)).toEqual(Array(4).fill(String(gwUser.gid)));
    expect(st.Groups).toBe("");
    for (const set of ["CapEff", "CapPrm", "CapAmb", "CapInh"]) expect(st[set], set).toBe("0000000000000000");
    // The tree: shared through the group, setgid; the data directory passable, not listable.
    expect(statSync(root)).toMatchObject({ gid: gwUser.gid });
    expect(statSync(root).mode & 0o7777).toBe(0o2770);
    expect(statSync(site.dataDir).mode & 0o007).toBe(0o001); // others: pass through, no listing
    expect(readdirSync(join(site.dir, "tmp"))).not.toContain("openclaw-leftover");

    // The conversation from before goes on, in the same transcript.
    expect(await waitTurn(site, await postTurn(site, "kept", "after the boundary"), 2 * MIN)).toMatchObject({ state: "done", reply: "echo: after the boundary" });
    for (const f of agentFiles.filter((x) => x.endsWith(".sqlite"))) expect(statSync(f).gid, f).toBe(gwUser.gid);
    const kept2 = (await chatHistory(site, "agent:main:kept")).messages.map((m: { content?: unknown }) => JSON.stringify(m.content)).join("\n");
    expect(kept2).toContain("before the boundary");
    expect(kept2).toContain("after the boundary");

    // The probe: what one prompt injection would try.
    const db = join(site.dataDir, "agent-supervisor.db");
    const apiToken = readFileSync(join(site.dataDir, "api.token"), "utf8").trim();
    const daemonPid = daemon!.proc.pid!;
    const commands = [
      `cat ${site.envFile}`,
      `tr '\\0' '\\n' < /proc/${daemonPid}/environ`,
      `cat /proc/${daemonPid}/maps | head -c 100`,
      `cat ${site.dataDir}/api.token`,
      `ls ${site.dataDir}`,
      `cat ${site.dataDir}/secrets/provider-secrets.json`,
      `head -c 200 ${db}`,
      `echo forged >> ${db}`,
    ];
    const calls = [
      { name: "exec", arguments: { command: commands.map((c) => `{ ${c}; } 2>&1; echo "exit $? [${c.slice(0, 12)}]"`).join("; ") } },
      { name: "read", arguments: { path: join(site.dataDir, "api.token") } },
      { name: "write", arguments: { path: `${db}-wal`, content: "forged" } },
    ];
    const prompt = `probe the host\ntoolcalls=${JSON.stringify(calls)}`;
    const turnsBefore = Number(sql(db, "SELECT count(*) FROM turns"));
    const before = model.requests.length;
    const turn = await waitTurn(site, await postTurn(site, "probe", prompt), 3 * MIN);
    expect(turn.state, JSON.stringify(turn)).toBe("done");
    // The tools ran: their errors are in the reply (the mock echoes every tool result).
    const reply = turn.reply as string;
    expect(reply).toContain("tool results:");
    expect(reply).toContain(`cat: ${site.envFile}: Permission denied`);
    expect(reply).toMatch(new RegExp(`/proc/${daemonPid}/environ: Permission denied`));
    expect(reply).toContain(`cat: ${site.dataDir}/api.token: Permission denied`);
    expect(reply).toContain(`ls: cannot open directory '${site.dataDir}': Permission denied`);
    expect(reply).toContain(`cat: ${site.dataDir}/secrets/provider-secrets.json: Permission denied`);
    expect(reply).toMatch(/head: cannot open '.*agent-supervisor\.db' for reading: Permission denied/);
    expect(reply).toMatch(/agent-supervisor\.db: Permission denied/);
    expect(reply).toMatch(/\[read\] \{[^}]*EACCES/);
    expect(reply).toMatch(/\[write\] \{[^}]*EACCES/);
    // Two model calls: the tool calls, then the answer with their results; no second run.
    expect(model.requests.slice(before).filter((r) => r.prompt.startsWith("probe the host")).length).toBe(2);
    // No credential anywhere the agent or its user could show it.
    const history = JSON.stringify(await chatHistory(site, "agent:main:probe"));
    expect(history).toContain("Permission denied");
    const gatewayFiles = filesUnder(root).map((f) => readFileSync(f).toString("latin1")).join("\n");
    for (const secret of [canary.env, canary.environ, canary.secrets, apiToken]) {
      expect(reply, secret).not.toContain(secret);
      expect(history, secret).not.toContain(secret);
      expect(gatewayFiles.includes(secret), secret).toBe(false);
    }
    // The database: not written by the agent, still whole.
    expect(readFileSync(db).includes("forged")).toBe(false);
    expect(sql(db, "PRAGMA integrity_check")).toBe("ok");
    expect(Number(sql(db, "SELECT count(*) FROM turns"))).toBe(turnsBefore + 1);

    // OpenClaw's doctor --fix makes its state directory 0700 ("too open"): the tree is the gateway
    // user's, so the next start writes openclaw.json as that user and is not locked out.
    execFileSync("setpriv", [`--reuid=${GW_USER}`, `--regid=${GW_USER}`, "--clear-groups", "chmod", "0700", join(root, "state")]);
    process.kill(-pid, "SIGKILL");
    await until("a new gateway", async () => {
      const p = await gatewayPid(site).catch(() => undefined);
      return p !== undefined && p !== pid && (await getJson(site, "/readyz")).status === 200 ? p : undefined;
    }, 3 * MIN);
    expect(statSync(join(root, "state", "openclaw.json")).uid).toBe(gwUser.uid);
    expect(await waitTurn(site, await postTurn(site, "kept", "after a restart"), 2 * MIN)).toMatchObject({ state: "done", reply: "echo: after a restart" });

    // CAP_KILL at work: the stop ends the gateway's processes, all of them.
    await stop();
    expect(spawnSync("pgrep", ["-u", GW_USER]).stdout.toString().trim()).toBe("");
  }, 8 * MIN);
});
