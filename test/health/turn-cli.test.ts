/**
 * The real `agent-supervisor turn` (bin/agent-supervisor, a child process) against the real local
 * API on 127.0.0.1: the real app and HTTP server over the real TurnService and a SQLite file.
 * Nothing delivers the turn, so its wait always times out.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs } from "../integration/helpers.ts";
import { type LocalDaemon, runCli, startLocalDaemon } from "./local-daemon.ts";

let daemon: LocalDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
  removeTempDirs();
});

/** A daemon API whose turns never finish (stuck `accepted`, or `delivering`). */
async function stuckDaemon(hang: "accepted" | "delivering") {
  daemon = await startLocalDaemon({ hang });
  return daemon;
}

describe("agent-supervisor turn --timeout, when the turn does not finish in time", () => {
  it.each([
    { hang: "accepted" as const, meaning: "queued, not yet delivered to the gateway" },
    { hang: "delivering" as const, meaning: "running in the gateway" },
  ])("exits 75 (EX_TEMPFAIL) and says the $hang turn goes on and how to read it", async ({ hang, meaning }) => {
    const d = await stuckDaemon(hang);
    const t0 = performance.now();
    const r = await runCli(["--config", d.envFile, "turn", "hello", "--timeout", "1500"]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(d.ids).toHaveLength(1);
    const id = d.ids[0]!;
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`turn ${id} is still ${hang} (${meaning}) after 1500 ms`);
    expect(r.stderr).toContain("the daemon keeps it and it finishes on its own");
    expect(r.stderr).toContain(`curl -H "authorization: Bearer $(cat ${join(d.dataDir, "api.token")})" http://127.0.0.1:${d.port}/v1/turns/${id}`);
    expect(r.stderr).toContain("--timeout");
    expect(r.stderr).toContain("[ERR_WAIT_TIMEOUT]");
    expect(r.code).toBe(75);
    // The CLI gave up waiting; the turn itself is untouched.
    expect(d.t.turns.get(id)?.state).toBe(hang);
  }, 20_000);

  it("refuses a --timeout that is not a whole number of ms before submitting, exit 64 (it used to submit the turn, then fail with ERR_NETWORK, exit 70)", async () => {
    const d = await stuckDaemon("accepted");
    const r = await runCli(["--config", d.envFile, "turn", "hello", "--timeout", "soon"], 8_000);
    expect(r.stderr).toContain("--timeout");
    expect(r.stderr).toContain("must be a whole number of milliseconds");
    expect(r.code).toBe(64);
    expect(d.ids).toEqual([]);
  }, 20_000);
});
