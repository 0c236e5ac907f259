/**
 * A daemon killed (`kill -9`) at each step of the OpenClaw version change (issue 14), with the
 * real gateway in 2026.9.5 and 2026.9.6 and the mock model. The failpoint
 * `AGENT_SUPERVISOR_FAILPOINT=upgrade:<step>` (src/daemon/failpoint.ts) makes the real daemon stop
 * right after its journal says `<step>`; a turn is submitted there, the daemon is killed, and the
 * next daemon (with the next step's failpoint) must roll back or abandon the change and deliver
 * the turn. At the end a daemon without a failpoint applies 2026.9.6; every turn was answered,
 * each by exactly one model call, and the conversation from before the first change still has
 * its history.
 *
 * One chain on one site, so each kill also starts from what the previous recovery left:
 * rollback (of a failed change to a stand-in 2026.9.7), install, drain, stop, snapshot, switch,
 * gate. A version given up after two interrupted attempts (MAX_INTERRUPTED_ATTEMPTS) is asked for
 * again by changing the desired version away and back, as an operator would.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startMockModel, type MockModel } from "../../src/dev/mock-model.ts";
import { CLI, makeSite, postTurn, runCommand, startDaemon, tearDown, until, waitReady, waitTurn, type Daemon, type Site } from "./harness.ts";
import { holdHeavyLock } from "./heavy-lock.ts";
import { runtime95, runtimeDir, standIn, upgradeEvents, versions } from "./upgrade-site.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const CHANGE_MS = 300_000;

/** The journal (upgrade/state.json) now: the active step and the version last given up. */
function journal(site: Site): { step: string | undefined; lastFailed: string | undefined } {
  try {
    const j = JSON.parse(readFileSync(join(site.dataDir, "upgrade", "state.json"), "utf8")) as { active?: { step?: string } | null; lastFailed?: { version?: string } | null };
    return { step: j.active?.step, lastFailed: j.lastFailed?.version };
  } catch {
    return { step: undefined, lastFailed: undefined };
  }
}

describe("a daemon killed at each step of the version change", () => {
  let model: MockModel;
  let dir: string;
  let site: Site;
  let daemon: Daemon | undefined;
  /** Each turn submitted: its id and message. */
  const submitted: { id: string; message: string; step: string }[] = [];
  const upgrade = async (v: string) => {
    const res = await runCommand(CLI, ["--config", site.envFile, "openclaw", "upgrade", v], { env: { PATH: process.env.PATH ?? "" } });
    if (res.status !== 0) throw new Error(`openclaw upgrade ${v}: exit ${res.status}: ${res.stderr}`);
  };
  /** Ask for `v`; if it was given up (lastFailed), ask for the current one first so it clears. */
  const desire = async (v: string, current: string) => {
    // The local API answers once the daemon is assembled, after its recovery of the last change.
    await until("the daemon's versions", () => versions(site), 60_000, 250);
    if (journal(site).lastFailed === v) {
      await upgrade(current);
      await until(`the failure of ${v} to clear`, () => journal(site).lastFailed === undefined, 60_000, 250);
    }
    await upgrade(v);
  };
  /** Start a daemon with the failpoint at `step`, ask for `to`, and kill it once it hangs there with a turn submitted. */
  const killAt = async (step: string, to: string) => {
    daemon = startDaemon(site, { AGENT_SUPERVISOR_FAILPOINT: `upgrade:${step}` });
    await desire(to, "2026.9.5");
    await until(`the failpoint at ${step}`, () => daemon!.logs.some((l) => l.includes("failpoint reached")) && journal(site).step === step, CHANGE_MS, 100);
    const message = `submitted while killed at ${step}`;
    submitted.push({ id: await postTurn(site, "k1", message), message, step });
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
  };

  beforeAll(async () => {
    const openclaw95 = await runtime95();
    model = await startMockModel();
    dir = mkdtempSync(join(tmpdir(), "as-e2e-upgrade-kill-"));
    const rt = runtimeDir(dir, inject("e2eRuntimeDir"), openclaw95, join(dir, "data"));
    site = await makeSite(dir, rt, model.url, { OPENCLAW_VERSION: "2026.9.5", AGENT_SUPERVISOR_LOG_LEVEL: "info", UPGRADE_HEALTH_DEADLINE_MS: "120000" });
    standIn(site);
    daemon = startDaemon(site);
    await waitReady(site);
    const first = { id: await postTurn(site, "k1", "remember the word pear"), message: "remember the word pear", step: "before" };
    expect(await waitTurn(site, first.id, CHANGE_MS)).toMatchObject({ state: "done" });
    submitted.push(first);
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
  }, 20 * 60_000);

  afterAll(async () => {
    await tearDown(site, daemon, dir, model);
  });

  it("rolls back or abandons at every step, loses no turn, runs none twice, then upgrades", async () => {
    await killAt("rollback", "2026.9.7"); // the stand-in fails its gate; killed in the rollback
    for (const step of ["install", "drain", "stop", "snapshot", "switch", "gate"]) await killAt(step, "2026.9.6");

    daemon = startDaemon(site);
    await desire("2026.9.6", "2026.9.5");
    const v = await until("2026.9.6 current", async () => {
      const c = await versions(site);
      return c?.observedValue === "2026.9.6" && c.step === null ? c : undefined;
    }, CHANGE_MS, 500);
    expect(v).toMatchObject({ status: "pass", desired: "2026.9.6", lastFailed: null });
    await waitReady(site);

    // Every kill was followed by a recovery at the next start: the step, then rollback and failed.
    const events = upgradeEvents(site);
    for (const step of ["rollback", "install", "drain", "stop", "snapshot", "switch", "gate"]) {
      const i = events.findIndex((e, k) => e === `upgrade:${step}` && events[k + 1] === "upgrade:rollback" && events[k + 2] === "upgrade:failed");
      expect(i, `killed at ${step}: ${events.join(" ")}`).toBeGreaterThanOrEqual(0);
    }
    expect(events.at(-1)).toBe("upgrade:done");

    // No turn lost, none run twice.
    for (const t of submitted) {
      expect(await waitTurn(site, t.id, CHANGE_MS), t.step).toMatchObject({ state: "done", reply: `echo: ${t.message}` });
      expect(model.requests.filter((r) => r.prompt === t.message), t.step).toHaveLength(1);
    }
    // The conversation's history survived every rollback and the upgrade.
    const last = await waitTurn(site, await postTurn(site, "k1", "which fruit was it"), CHANGE_MS);
    expect(last).toMatchObject({ state: "done" });
    const req = model.requests.findLast((r) => r.prompt === "which fruit was it");
    expect(req?.assistantTexts).toContain("echo: remember the word pear");
  }, 30 * 60_000);
});
