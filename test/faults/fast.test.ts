/**
 * The fast half of the fault-injection suite (bench/faults, stand-in gateways, no real OpenClaw):
 * each fault must be detected and must lose and duplicate nothing. Timings are printed by
 * `npm run faults`, not asserted here beyond generous bounds.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { claimsNotReady } from "../../bench/faults/case_claims_not_ready.ts";
import { decayKill } from "../../bench/faults/case_decay_kill.ts";
import { diskFull } from "../../bench/faults/case_disk_full.ts";
import { exit78 } from "../../bench/faults/case_exit78.ts";
import { neverReady } from "../../bench/faults/case_never_ready.ts";
import { stateTmpFlood } from "../../bench/faults/case_state_tmp_flood.ts";
import { tmpFlood } from "../../bench/faults/case_tmp_flood.ts";
import { FAST_CASES } from "../../bench/faults/cases.ts";
import { RealPool } from "../../bench/faults/real-session.ts";
import type { FaultCase, FaultResult } from "../../bench/faults/types.ts";
import { holdHeavyLock } from "../e2e/heavy-lock.ts";

await holdHeavyLock(); // one real gateway at a time across workers (heavy-lock.ts)

const work = mkdtempSync(join(tmpdir(), "as-faults-test-"));
let n = 0;

async function run(c: FaultCase): Promise<FaultResult> {
  const workDir = join(work, `${c.id}-${n++}`);
  mkdirSync(workDir, { recursive: true });
  // The fast cases never touch the real-gateway pool; one is passed because the context has it.
  const real = new RealPool(inject("e2eRuntimeDir"), join(work, "real"), () => {});
  const r = await c.run({ runtimeDir: inject("e2eRuntimeDir"), workDir, log: () => {}, real });
  expect(r.realGateway).toBe(false);
  expect({ fault: r.fault, lost: r.lost, duplicated: r.duplicated }).toEqual({ fault: c.fault, lost: 0, duplicated: 0 });
  return r;
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("fault injection with stand-in gateways", () => {
  it("lists exactly the stand-in cases as fast", () => {
    expect(FAST_CASES.map((c) => c.id)).toEqual(["never-ready", "exit-78", "tmp-flood", "state-tmp-flood", "disk-full", "decay-kill", "claims-not-ready"]);
    expect(FAST_CASES.every((c) => !c.realGateway)).toBe(true);
  });

  it("a gateway that never answers is killed after the startup timeout and restarted, turns kept", async () => {
    const r = await run(neverReady);
    expect(r.detectedMs).not.toBeNull();
    // GATEWAY_STARTUP_TIMEOUT_MS is 2000: not before, and not much after.
    expect(r.detectedMs!).toBeGreaterThanOrEqual(1900);
    expect(r.detectedMs!).toBeLessThan(15_000);
    expect(r.notes).toContain("ended with SIGKILL");
    expect(r.notes).toContain("startup-timeout");
    expect(r.notes).toContain("next stand-in spawned");
  }, 60_000);

  it("exit 78 runs doctor once, then holds in failed: config without looping, turns kept", async () => {
    const r = await run(exit78);
    expect(r.detectedMs).not.toBeNull();
    expect(r.detectedMs!).toBeLessThan(10_000);
    expect(r.notes).toContain("doctor ran 1x");
    expect(r.notes).toContain('failed "config:');
    expect(r.notes).toContain("0 in the 3 s after");
  }, 60_000);

  it("a /tmp/openclaw-* flood is swept while running, sparing fresh files and locks", async () => {
    const r = await run(tmpFlood);
    expect(r.detectedMs).not.toBeNull();
    expect(r.detectedMs!).toBeLessThan(20_000);
    expect(r.notes).toContain("all 5000 gone");
    expect(r.notes).toContain("20/20 fresh files, 1/1 state lock");
    expect(r.notes).toContain("removed by the pre-start sweep");
  }, 60_000);

  it("leaked capture directories in the gateway state's tmp/ are swept whole while running, sparing a fresh one and the gateway lock", async () => {
    const r = await run(stateTmpFlood);
    expect(r.detectedMs).not.toBeNull();
    expect(r.detectedMs!).toBeLessThan(20_000);
    expect(r.notes).toContain("all 100 gone");
    expect(r.notes).toContain("fresh leaked directory yes, gateway lock yes");
    expect(r.notes).toContain("removed by the pre-start sweep");
    expect(r.notes).toContain("gateway lock kept through the restart: yes");
  }, 60_000);

  it("a nearly full disk is reported; a full one refuses turns with 507 and loses none", async () => {
    const r = await run(diskFull);
    expect(r.detectedMs).not.toBeNull();
    expect(r.detectedMs!).toBeLessThan(10_000);
    if (r.notes.includes("really filled")) {
      expect(r.notes).toContain("507 ERR_STORAGE_FULL");
      expect(r.notes).toContain("none half-written: yes");
      expect(r.notes).toContain("turns accepted again");
    }
  }, 60_000);

  it("a daemon killed mid-decay finishes the journaled run on its next start, each note once", async () => {
    const r = await run(decayKill);
    expect(r.detectedMs).not.toBeNull();
    expect(r.detectedMs!).toBeLessThan(30_000);
    expect(r.notes).toContain("workspace identical to an uninterrupted pass");
  }, 90_000);

  it("while the gateway cannot run turns, nothing is claimed: the turn stays queued for another runtime (issue 10, item 7)", async () => {
    const r = await run(claimsNotReady);
    expect(r.detectedMs).not.toBeNull();
    expect(r.notes).toContain("the turn stayed queued with 0 leases");
    expect(r.notes).toContain("claimed by the second runtime: yes");
    expect(r.notes).not.toContain("gateway ready");
  }, 90_000);
});
