/**
 * stopAndHold (daemon/upgrade-gate.ts) against the real GatewaySupervisor and real child
 * processes (the harness of test/integration/supervisor-harness.ts): a gateway in the middle of
 * its boot is never stopped by the version change. Killing OpenClaw while it boots can leave its
 * gateway-lifecycle lease held, and the next version's migration then fails
 * (`StateDatabaseCoordinatorContentionError`, exit 78). The stand-in's boot ends only when the
 * test says so, so "stopAndHold looked while it was booting" is a fact, not a race.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { systemClock, type Clock } from "../../src/core/clock.ts";
import { GatewayHold, stopAndHold } from "../../src/daemon/upgrade-gate.ts";
import type { LaunchSpec } from "../../src/supervisor/child.ts";
import { waitFor } from "../integration/helpers.ts";
import { dir, policy, supervisor, useSupervisorHarness, type Harness } from "../integration/supervisor-harness.ts";

useSupervisorHarness();
/** Each harness's hold: opened after the supervisor is aborted (before the harness waits for its loop), even when a test failed. */
let holds: Array<[Harness, GatewayHold]> = [];
afterEach(() => {
  for (const [h, hold] of holds.splice(0)) {
    h.controller.abort();
    hold.open();
  }
});

/** Boots until the file `go` appears beside it, then says "booted" (the harness then marks it ready). */
const SLOW_BOOT = `import { existsSync } from "node:fs";
const go = new URL("./go", import.meta.url);
console.log("booting");
const t = setInterval(() => { if (existsSync(go)) { clearInterval(t); console.log("booted"); } }, 20);
setInterval(() => {}, 1 << 30);`;

/** A harness whose every start first waits at `hold`, as the daemon's prepare does (daemon/assemble.ts). */
function held(script: string, hold: GatewayHold, readyOn?: string): Harness {
  const spec = async (): Promise<LaunchSpec> => {
    await hold.wait();
    return { command: process.execPath, args: [join(dir, script)], env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, cwd: dir };
  };
  const h = supervisor({ script, spec, ...(readyOn === undefined ? {} : { readyOn }) });
  holds.push([h, hold]);
  return h;
}

/** The system clock, counting stopAndHold's looks (one sleep after each). */
function countingClock(): Clock & { looks: () => number } {
  let n = 0;
  return { ...systemClock, sleep: (ms, signal) => ((n += 1), systemClock.sleep(ms, signal)), looks: () => n };
}

it("waits for a booting gateway to become ready, then stops it and parks its next start (before: it was stopped while booting)", async () => {
  writeFileSync(join(dir, "slow-boot.mjs"), SLOW_BOOT);
  const hold = new GatewayHold();
  const h = held("slow-boot.mjs", hold, "booted");
  void h.run();
  await waitFor(() => h.sup.snapshot().state === "starting" && h.sup.snapshot().pid !== null, "the stand-in to boot");
  const booting = h.sup.snapshot();
  const clock = countingClock();
  let done = false;
  const stopping = stopAndHold({ hold, clock, supervisor: () => h.sup.snapshot(), requestRestart: () => h.sup.requestRestart("upgrade") }).then(() => (done = true));
  // stopAndHold has looked at the booting gateway at least twice (or, wrongly, already finished).
  await waitFor(() => clock.looks() >= 2 || done, "stopAndHold to look at the booting gateway");
  writeFileSync(join(dir, "go"), "");
  await stopping;
  await waitFor(() => hold.parked, "the next start to park at the hold");
  const ofBoot = h.states.filter((s) => s.generation === booting.generation).map((s) => `${s.state}: ${s.reason}`);
  expect(ofBoot).toEqual([
    "starting: boot",
    "starting: waiting for hello-ok",
    "ready: hello-ok",
    "stopping: restart requested (upgrade)",
    "stopped: stopped",
    "backoff: upgrade; restarting now",
  ]);
  expect(existsSync(join(dir, "go"))).toBe(true);
});

it("leaves a gateway that never becomes ready to the supervisor's startup timeout, and returns once its next start is parked (before: it was stopped while booting)", async () => {
  const hold = new GatewayHold();
  const h = held("never-ready.mjs", hold);
  void h.run();
  await waitFor(() => h.sup.snapshot().state === "starting" && h.sup.snapshot().pid !== null, "the stand-in to boot");
  const booting = h.sup.snapshot();
  await stopAndHold({ hold, clock: systemClock, supervisor: () => h.sup.snapshot(), requestRestart: () => h.sup.requestRestart("upgrade") });
  // It returns on the backoff after the kill; the start after that backoff parks at the hold.
  await waitFor(() => hold.parked, "the next start to park at the hold");
  const ofBoot = h.states.filter((s) => s.generation === booting.generation).map((s) => `${s.state}: ${s.reason}`);
  expect(ofBoot).toContain(`stopping: not ready within ${policy.startupTimeoutMs} ms`);
  expect(ofBoot.filter((r) => r.includes("upgrade"))).toEqual([]);
});
