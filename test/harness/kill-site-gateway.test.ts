/**
 * The e2e teardown's killSiteGateway must kill only the gateway its site's pid file names. The pid
 * file outlives its gateway, and with pid_max 32768 (this host) a 30-minute test run recycles
 * pids: a stale file once named a stand-in gateway of another test file, whose group the teardown
 * SIGKILLed (CI: `kill ESRCH` in test/faults/fast.test.ts's tmp-flood case).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { processStartTicks } from "../../src/supervisor/child.ts";
import { alive, killSiteGateway, until, type Site } from "../e2e/harness.ts";

const dirs: string[] = [];
const pids: number[] = [];

function site(): Site {
  const dir = mkdtempSync(join(tmpdir(), "as-kill-site-"));
  dirs.push(dir);
  mkdirSync(join(dir, "data"));
  return { dir, dataDir: join(dir, "data"), envFile: join(dir, "env"), httpPort: 0, gatewayPort: 0 };
}

/** A detached sleeper (its own process group, as the daemon starts the gateway). */
function groupLeader(): number {
  const p = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
  p.unref();
  pids.push(p.pid!);
  return p.pid!;
}

afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("killSiteGateway", () => {
  it("kills the group the pid file names when its start time matches", async () => {
    const s = site();
    const pid = groupLeader();
    writeFileSync(join(s.dataDir, "gateway.pid"), JSON.stringify({ pid, startTicks: processStartTicks(pid) }));
    killSiteGateway(s);
    await until("the gateway to be gone", () => !alive(pid), 5_000, 20);
  });

  it("leaves a recycled pid alone: the process there started at another time", async () => {
    const s = site();
    const pid = groupLeader();
    writeFileSync(join(s.dataDir, "gateway.pid"), JSON.stringify({ pid, startTicks: processStartTicks(pid)! - 1 }));
    killSiteGateway(s);
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(pid)).toBe(true);
  });
});
