/**
 * The droplet path under a real systemd (issue 8): a Debian 12 root filesystem (mmdebstrap, cached
 * under .cache/droplet) booted with `systemd-nspawn --boot`, where cloud-init runs the project's
 * rendered user-data from a NoCloud seed, which downloads install.sh and the freshly built binary
 * over https from the guest's loopback (trusting the throwaway CA given in the template's
 * `ca_certs` slot) and starts the shipped unit. Then, in order, every fault the issue lists.
 * Measured times go to `.cache/droplet/last-run.json` (docs/operations.md quotes them).
 *
 * Needs root, systemd-nspawn, mmdebstrap, unshare, nsenter and openssl (`.ci/run` installs the
 * Debian packages); skipped elsewhere, saying so.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { tail, type Container } from "./container.ts";
import { GUEST } from "./fixtures.ts";
import { cliTurn, controlPlaneAdmin, gatewayPid, localApi, modelCalls, secondsSince, turnWorks, unitState, until, waitUnit } from "./guest.ts";
import { closeAllDroplets, DROPLET_CACHE, startDroplet, type Droplet } from "./session.ts";

const TOOLS = ["systemd-nspawn", "mmdebstrap", "unshare", "nsenter", "openssl"];
const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const isRoot = process.getuid?.() === 0;
const canRun = isRoot && missing.length === 0;
const why = !isRoot ? "not root" : `missing ${missing.join(", ")}`;
const MIN = 60_000;

if (!canRun) {
  describe("the droplet under a real systemd", () => {
    it.skip(`skipped here (${why}): needs root and ${TOOLS.join(", ")}; CI runs it as root`, () => {});
  });
}

describe.runIf(canRun)("the droplet under a real systemd", () => {
  let d: Droplet;
  let c: Container; // d.c, replaced on reboot
  const times: Record<string, number | string> = {};

  beforeAll(async () => {
    d = await startDroplet(inject("e2eRuntimeDir"));
    c = d.c;
    await d.giveSecrets();
  }, 20 * MIN);

  afterAll(async () => {
    mkdirSync(DROPLET_CACHE, { recursive: true });
    writeFileSync(join(DROPLET_CACHE, "last-run.json"), `${JSON.stringify({ at: new Date().toISOString(), seconds: times }, null, 2)}\n`);
    console.log(`droplet timings (s): ${JSON.stringify(times)}`);
    await closeAllDroplets(); // also one whose start outlived beforeAll's timeout
  }, 2 * MIN);

  it("cloud-init installs from the rendered user-data; the unit is active (READY=1) and its status tells the gateway state", async () => {
    const ci = await c.exec(["cloud-init", "status", "--wait", "--long"], { timeoutMs: 6 * MIN });
    times["boot → cloud-init done"] = secondsSince(d.bootedAt);
    const log = await c.exec(["sh", "-c", "tail -n 40 /var/log/cloud-init-output.log"]);
    expect(ci.code, `${ci.stdout}\n${log.stdout}\n${tail(join(d.work, "console.log"), 2000)}`).toBe(0);
    // The CA reached the trust store through the template's ca_certs slot: curl trusted the release host.
    expect(log.stdout).toContain("agent-supervisor install: checksum ok");
    // Type=notify: "active" only after READY=1.
    const active = await waitUnit(c, "agent-supervisor to be active (READY=1)", (s) => s.ActiveState === "active", 3 * MIN);
    times["boot → unit active (READY=1)"] = secondsSince(d.bootedAt);
    expect(active.StatusText).toMatch(/^gateway /);
    const ready = await waitUnit(c, "STATUS= to say the gateway is ready", (s) => s.StatusText.startsWith("gateway ready"), 4 * MIN);
    times["boot → gateway ready"] = secondsSince(d.bootedAt);
    expect(ready.ActiveState).toBe("active");
    const status = await c.exec(["systemctl", "status", "agent-supervisor", "--no-pager"]);
    expect(status.stdout).toMatch(/Active: active \(running\)/);
    expect(status.stdout).toMatch(/Status: "gateway ready; \d+ turns? queued/);
  }, 12 * MIN);

  it("`agent-supervisor turn` gets the mock model's reply, once; a turn claimed over https from the control plane (private CA) completes too", async () => {
    const t0 = Date.now();
    const r = await cliTurn(c, "hello droplet", "droplet-cli");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("echo: hello droplet");
    times["first turn"] = secondsSince(t0);
    expect(await modelCalls(c, "hello droplet")).toBe(1);
    const { turnId } = await controlPlaneAdmin(c, d.guest.tokens.admin, "POST", "/admin/turns", {
      accountId: GUEST.accountId, conversationId: "droplet-cp", message: "hello from the fleet",
    });
    const done = await until("the control-plane turn to be done", async () => {
      const t = await controlPlaneAdmin(c, d.guest.tokens.admin, "GET", `/admin/turns/${turnId}`);
      return t.state === "done" ? t : undefined;
    }, 2 * MIN);
    expect(done.reply).toBe("echo: hello from the fleet");
  }, 5 * MIN);

  it("`agent-supervisor doctor` passes as the service user (the https control plane included); systemd-analyze security is recorded", async () => {
    const doctor = await c.exec(["setpriv", "--reuid=agent-supervisor", "--regid=agent-supervisor", "--init-groups", "agent-supervisor", "doctor"], {
      env: { HOME: GUEST.dataDir },
    });
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    const security = await c.exec(["systemd-analyze", "security", "agent-supervisor.service", "--no-pager"]);
    const score = /Overall exposure level for agent-supervisor\.service: ([\d.]+)/.exec(security.stdout)?.[1];
    expect(score, security.stdout + security.stderr).toBeDefined();
    times["systemd-analyze security (exposure)"] = score!;
    expect(Number(score)).toBeLessThanOrEqual(2.5); // docs/operations.md, "Hardening and its score"
  }, 3 * MIN);

  it("issue 11 under the shipped unit: the gateway runs as agent-supervisor-gw with no capability, and its tools reach no operator secret", async () => {
    const gw = await gatewayPid(c);
    const status = await c.sh(`grep -E '^(Uid|Groups|CapEff|CapPrm|CapAmb):' /proc/${gw}/status`);
    const gwUid = (await c.sh("id -u agent-supervisor-gw")).trim();
    expect(status).toMatch(new RegExp(`^Uid:\\s+${gwUid}\\s+${gwUid}\\s+${gwUid}\\s+${gwUid}$`, "m"));
    for (const set of ["CapEff", "CapPrm", "CapAmb"]) expect(status).toMatch(new RegExp(`^${set}:\\s+0{16}$`, "m"));
    const daemonPid = (await unitState(c)).MainPID;
    const token = d.guest.tokens.service;
    const apiToken = (await c.sh(`cat ${GUEST.dataDir}/api.token`)).trim();
    // Does this container's systemd enforce IPAddressDeny= (cgroup BPF)? Asked of systemd itself, as root.
    const enforced = (await c.exec(["systemd-run", "--wait", "--pipe", "--quiet", "-p", "IPAddressDeny=169.254.169.254", "curl", "-sS", "-m", "5", "http://169.254.169.254/"])).code !== 0;
    expect((await c.exec(["curl", "-fsS", "-m", "5", "http://169.254.169.254/"])).stdout, "the metadata stand-in answers outside the unit").toContain(token);
    expect(enforced, "the container's systemd enforces IPAddressDeny= (container.ts gives it CAP_BPF and bpf())").toBe(true);
    const commands = [
      `cat ${GUEST.envFile}`,
      "cat /etc/agent-supervisor/control-plane-token",
      "cat /run/credentials/agent-supervisor.service/control-plane-token",
      `tr '\\0' '\\n' < /proc/${daemonPid}/environ`,
      `cat ${GUEST.dataDir}/api.token`,
      `ls ${GUEST.dataDir}`,
      `cat ${GUEST.dataDir}/secrets/provider-secrets.json`,
      `head -c 100 ${GUEST.dataDir}/agent-supervisor.db`,
    ];
    // One stream per command (2>&1): the tool's output mixes stdout and stderr as they come.
    const calls = [{ name: "exec", arguments: { command: commands.map((x) => `{ ${x}; } 2>&1; echo "[exit $?]"`).join("; ") } }, { name: "read", arguments: { path: `${GUEST.dataDir}/api.token` } }];
    const probe = async (marker: string, toolCalls: unknown[]) => {
      const { turnId } = await localApi(c, "POST", "/v1/turns", { conversationId: "droplet-probe", message: `${marker}\ntoolcalls=${JSON.stringify(toolCalls)}` });
      const turn = await until("the probe turn to finish", async () => {
        const t = await localApi(c, "GET", `/v1/turns/${turnId}`);
        return t.state === "done" || t.state === "failed" ? t : undefined;
      }, 3 * MIN);
      expect(turn.state, JSON.stringify(turn)).toBe("done");
      expect(await modelCalls(c, marker)).toBe(2); // the tool calls, then the answer: one run
      return turn.reply as string;
    };
    const reply = await probe("droplet boundary probe", calls);
    expect(reply).toContain("tool results:");
    for (const denied of [`cat: ${GUEST.envFile}: Permission denied`, "cat: /etc/agent-supervisor/control-plane-token: Permission denied", `environ: Permission denied`,
      `cat: ${GUEST.dataDir}/api.token: Permission denied`, `ls: cannot open directory '${GUEST.dataDir}': Permission denied`,
      `cat: ${GUEST.dataDir}/secrets/provider-secrets.json: Permission denied`, "agent-supervisor.db' for reading: Permission denied"]) {
      expect(reply, denied).toContain(denied);
    }
    // systemd gives the credential to the unit's user only.
    expect(reply).toMatch(/cat: \/run\/credentials\/agent-supervisor\.service\/control-plane-token: Permission denied/);
    expect(reply).toMatch(/\[read\] \{[^}]*EACCES/);
    const grep = async (secret: string) => (await c.sh(`grep -rlF -e '${secret}' ${GUEST.dataDir}/gateway || true`)).trim();
    for (const [name, secret] of [["the local API token", apiToken], ["the control-plane token", token]] as const) {
      expect(reply.includes(secret), `${name} in the reply`).toBe(false);
      expect(await grep(secret), `${name} in the gateway's files`).toBe("");
    }
    // The metadata address, in a turn of its own: the unit's IPAddressDeny= drops the packets.
    const meta = await probe("droplet metadata probe", [{ name: "exec", arguments: { command: "curl --noproxy '*' -sS -m 5 http://169.254.169.254/ 2>&1; echo \"[exit $?]\"" } }]);
    expect(meta).toMatch(/curl: \((7|28)\)/); // refused or timed out
    expect(meta.includes(token), "the control-plane token from the metadata service").toBe(false);
    expect(await grep(token)).toBe("");
  }, 5 * MIN);

  it("systemd restarts the daemon after a SIGKILL, and a turn works again", async () => {
    const before = await unitState(c);
    expect(before.MainPID).toBeGreaterThan(1);
    const t0 = Date.now();
    await c.sh(`kill -KILL ${before.MainPID}`);
    await waitUnit(c, "systemd to restart the daemon", (s) => s.NRestarts === before.NRestarts + 1 && s.ActiveState === "active" && s.MainPID !== before.MainPID, 2 * MIN);
    expect(await turnWorks(c, "after daemon kill", "droplet-kill", 4 * MIN)).toBe("echo: after daemon kill");
    times["daemon SIGKILL → turn works"] = secondsSince(t0);
  }, 7 * MIN);

  it("the daemon restores the gateway after its SIGKILL, without systemd restarting the unit", async () => {
    const before = await unitState(c);
    const pid = await gatewayPid(c);
    const t0 = Date.now();
    await c.sh(`kill -KILL ${pid}`);
    expect(await turnWorks(c, "after gateway kill", "droplet-gw-kill", 4 * MIN)).toBe("echo: after gateway kill");
    times["gateway SIGKILL → turn works"] = secondsSince(t0);
    const after = await unitState(c);
    expect(after).toMatchObject({ ActiveState: "active", NRestarts: before.NRestarts, MainPID: before.MainPID });
    expect(await gatewayPid(c)).not.toBe(pid);
  }, 5 * MIN);

  it("`systemctl stop` during a slow turn lets the turn finish and stops within TimeoutStopSec", async () => {
    const marker = "slow turn delay=15000";
    const { turnId } = await localApi(c, "POST", "/v1/turns", { conversationId: "droplet-slow", message: marker });
    await until("the model to receive the slow turn", async () => (await modelCalls(c, marker)) > 0, 2 * MIN);
    const t0 = Date.now();
    const stop = await c.exec(["systemctl", "stop", "agent-supervisor"], { timeoutMs: 2 * MIN });
    times["systemctl stop during a 15 s turn"] = secondsSince(t0);
    expect(stop.code, stop.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(60_000); // TimeoutStopSec
    const stopped = await unitState(c);
    expect(stopped).toMatchObject({ ActiveState: "inactive", Result: "success" });
    // The drain finished it before the daemon stopped (not a resumption after the next start).
    const journal = await c.sh(`journalctl -u agent-supervisor -o cat --no-pager --since=@${Math.floor(t0 / 1000) - 1}`);
    const lines = journal.split("\n");
    const done = lines.findIndex((l) => l.includes(`"turnId":"${turnId}"`) && l.includes('"msg":"turn done"'));
    expect(done, journal.slice(-3000)).toBeGreaterThan(-1);
    expect(journal).not.toContain("drain deadline reached");
    expect(lines.findIndex((l) => l.includes('"msg":"agent-supervisor stopped"'))).toBeGreaterThan(done);
    await c.sh("systemctl start agent-supervisor");
    const turn = await until("the drained turn to read as done", async () => {
      const t = await localApi(c, "GET", `/v1/turns/${turnId}`);
      return t.state === "done" || t.state === "failed" ? t : undefined;
    }, 3 * MIN);
    expect(turn).toMatchObject({ state: "done", reply: `echo: ${marker}` });
    expect(await modelCalls(c, marker)).toBe(1);
  }, 6 * MIN);

  it("a reboot brings the service back by itself", async () => {
    await c.exec(["systemctl", "reboot"], { timeoutMs: 30_000 });
    const exit = await Promise.race([c.exited, new Promise<null>((r) => setTimeout(() => r(null), 2 * MIN))]);
    expect(exit, "the container to go down for the reboot").toEqual({ code: 133, signal: null });
    await d.boot();
    c = d.c;
    await waitUnit(c, "the enabled unit to come back", (s) => s.ActiveState === "active", 3 * MIN);
    times["reboot → unit active"] = secondsSince(d.bootedAt);
    expect(await turnWorks(c, "after reboot", "droplet-reboot", 4 * MIN)).toBe("echo: after reboot");
    times["reboot → turn works"] = secondsSince(d.bootedAt);
  }, 10 * MIN);

  it("re-running install.sh keeps the env file, and the restarted service serves again", async () => {
    await c.sh(`echo '# kept by the operator' >> ${GUEST.envFile}`);
    const before = await c.sh(`sha256sum ${GUEST.envFile}; stat -c '%U:%G %a' ${GUEST.envFile}`);
    const oldPid = (await unitState(c)).MainPID;
    const t0 = Date.now();
    const inst = await c.exec(["sh", "-c", `curl -fsSL -o /root/install.sh ${GUEST.releaseUrl}/install.sh && AGENT_SUPERVISOR_BASE_URL=${GUEST.releaseUrl} sh /root/install.sh`], { timeoutMs: 5 * MIN });
    expect(inst.code, inst.stdout + inst.stderr).toBe(0);
    expect(inst.stdout).toContain("kept the existing");
    expect(await c.sh(`sha256sum ${GUEST.envFile}; stat -c '%U:%G %a' ${GUEST.envFile}`)).toBe(before);
    // install.sh restarts the unit without waiting (--no-block): the turn must reach the new daemon.
    await waitUnit(c, "the reinstalled daemon", (s) => s.ActiveState === "active" && s.MainPID !== oldPid && s.MainPID > 0, 2 * MIN);
    expect(await turnWorks(c, "after reinstall", "droplet-reinstall", 4 * MIN)).toBe("echo: after reinstall");
    times["reinstall → turn works"] = secondsSince(t0);
  }, 10 * MIN);

  it("a gateway that cannot start leaves the unit active past a short TimeoutStartSec, with STATUS= saying why", async () => {
    // The hardening that broke the shipped unit (openat2 → ENOSYS) makes the gateway fail here again.
    await c.sh(`mkdir -p /etc/systemd/system/agent-supervisor.service.d && printf '[Service]\\nTimeoutStartSec=15s\\nRestrictSUIDSGID=true\\n' > /etc/systemd/system/agent-supervisor.service.d/90-droplet-test.conf && systemctl daemon-reload`);
    const t0 = Date.now();
    const restart = await c.exec(["systemctl", "restart", "agent-supervisor"], { timeoutMs: MIN });
    expect(restart.code, restart.stderr).toBe(0);
    times["restart → unit active (gateway failing)"] = secondsSince(t0);
    const started = await unitState(c);
    expect(started.ActiveState).toBe("active");
    await new Promise((r) => setTimeout(r, 25_000)); // well past TimeoutStartSec=15s
    const s = await waitUnit(c, "STATUS= to name the gateway's trouble", (u) => /^gateway (backoff|failed)\b.*: \S/.test(u.StatusText), 3 * MIN);
    // The same daemon all along: systemd neither timed it out nor restarted it.
    expect(s).toMatchObject({ ActiveState: "active", SubState: "running", MainPID: started.MainPID, NRestarts: started.NRestarts });
    await c.sh("rm /etc/systemd/system/agent-supervisor.service.d/90-droplet-test.conf && systemctl daemon-reload && systemctl restart agent-supervisor");
    expect(await turnWorks(c, "after the drop-in is gone", "droplet-recovered", 4 * MIN)).toBe("echo: after the drop-in is gone");
  }, 10 * MIN);
});
