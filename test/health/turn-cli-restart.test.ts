/**
 * The real `agent-supervisor turn` (a child process) when the daemon goes away or says no: the
 * local API on 127.0.0.1 is stopped mid-wait, its port refuses or resets connections, it comes
 * back on the same port over the same SQLite file; or it refuses the submit for now.
 */
import { createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, waitFor } from "../integration/helpers.ts";
import { type LocalDaemon, runCli, startLocalDaemon } from "./local-daemon.ts";

let daemon: LocalDaemon | undefined;
let resetter: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (resetter ? resetter.close(r) : r(undefined)));
  await daemon?.close();
  daemon = resetter = undefined;
  removeTempDirs();
});

/**
 * Listen on `port` and reset (TCP RST) every connection at once, as a daemon that dies as it
 * accepts would. `count()` is how many connections came.
 */
async function resetEveryConnection(port: number): Promise<{ count: () => number }> {
  let n = 0;
  const server = createServer((s: Socket) => {
    n += 1;
    s.resetAndDestroy();
  });
  resetter = server;
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return { count: () => n };
}

describe("agent-supervisor turn while the daemon is stopped or restarted (the turn is already in SQLite)", () => {
  it("keeps waiting through a restart and prints the reply, exit 0 (it used to exit 70 on the cut long-poll)", async () => {
    const d = (daemon = await startLocalDaemon());
    const cli = runCli(["--config", d.envFile, "turn", "hello", "--timeout", "20000"], 25_000);
    await waitFor(() => d.polls() === 1, "the CLI's long-poll");
    // systemctl restart: drain, the long-poll is cut, and for a while the port refuses connections.
    await d.stop();
    await sleep(1500);
    await d.start();
    await waitFor(() => d.polls() === 2, "the CLI's long-poll on the restarted daemon");
    d.finish(d.ids[0]!, "hello back");
    const r = await cli;
    expect(r.stdout).toBe("hello back\n");
    expect(r.stderr).toContain(`the daemon is not answering`);
    expect(r.stderr).toContain(`turn ${d.ids[0]} is stored and goes on`);
    expect(r.code).toBe(0);
  }, 30_000);

  it("polls about once a second while the port resets connections, then exits 75 at the deadline: the turn goes on (it used to exit 70)", async () => {
    const d = (daemon = await startLocalDaemon());
    const t0 = performance.now();
    const cli = runCli(["--config", d.envFile, "turn", "hello", "--timeout", "4000"]);
    await waitFor(() => d.polls() === 1, "the CLI's long-poll");
    await d.stop();
    const resets = await resetEveryConnection(d.port);
    const r = await cli;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(4000);
    const id = d.ids[0]!;
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`turn ${id} is stored in the daemon (accepted, not seen since), but`);
    expect(r.stderr).toContain("the daemon did not answer when the wait ended after 4000 ms (ERR_NETWORK");
    expect(r.stderr).toContain("it keeps the turn and finishes it once it runs again");
    expect(r.stderr).toContain("systemctl status agent-supervisor");
    expect(r.stderr).toContain(`http://127.0.0.1:${d.port}/v1/turns/${id}`);
    expect(r.stderr).toContain("[ERR_WAIT_TIMEOUT]");
    expect(r.code).toBe(75);
    // A pause between attempts, not a busy loop: about 4 s down at one try a second.
    expect(resets.count()).toBeGreaterThanOrEqual(2);
    expect(resets.count()).toBeLessThanOrEqual(6);
    expect(d.t.turns.get(id)?.state).toBe("accepted");
  }, 20_000);

  it("exits 75 when the deadline passes while the port refuses connections", async () => {
    const d = (daemon = await startLocalDaemon());
    const cli = runCli(["--config", d.envFile, "turn", "hello", "--timeout", "2500"]);
    await waitFor(() => d.polls() === 1, "the CLI's long-poll");
    await d.stop();
    const r = await cli;
    expect(r.stderr).toContain(`turn ${d.ids[0]} is stored in the daemon`);
    expect(r.stderr).toContain("(ERR_DAEMON_UNREACHABLE");
    expect(r.stderr).toContain("[ERR_WAIT_TIMEOUT]");
    expect(r.code).toBe(75);
  }, 20_000);
});

describe("agent-supervisor turn when the daemon does not accept the turn", () => {
  it("exits 75 on a full queue, says nothing was stored and when to retry (it used to exit 70)", async () => {
    const d = (daemon = await startLocalDaemon({ queueLimit: 1 }));
    d.service()!.submit({ conversationId: "other", message: "first" });
    const r = await runCli(["--config", d.envFile, "turn", "hello", "--timeout", "2000"]);
    expect(r.stderr).toContain("the turn was not accepted, nothing was stored: turn queue is full");
    expect(r.stderr).toContain("Retry in 5 s (Retry-After)");
    expect(r.stderr).toContain("[ERR_QUEUE_FULL]");
    expect(r.code).toBe(75);
    expect(d.ids).toHaveLength(1);
  }, 20_000);

  it("exits 75 while the daemon drains for a stop or restart (it used to exit 70)", async () => {
    const d = (daemon = await startLocalDaemon());
    d.service()!.startDraining();
    const r = await runCli(["--config", d.envFile, "turn", "hello", "--timeout", "2000"]);
    expect(r.stderr).toContain("the turn was not accepted, nothing was stored: agent-supervisor is shutting down");
    expect(r.stderr).toContain("retry once it is back (systemctl status agent-supervisor)");
    expect(r.stderr).toContain("[ERR_DRAINING]");
    expect(r.code).toBe(75);
    expect(d.ids).toEqual([]);
  }, 20_000);

  it("exits 69 (EX_UNAVAILABLE) on a full disk (real SQLITE_FULL): retrying shortly does not help (it used to exit 70)", async () => {
    const d = (daemon = await startLocalDaemon());
    // Cap the file at its current size: the next write that needs a page fails like a full disk.
    d.t.db.pragma("wal_checkpoint(TRUNCATE)");
    d.t.db.pragma(`max_page_count = ${d.t.db.pragma("page_count", { simple: true }) as number}`);
    const r = await runCli(["--config", d.envFile, "turn", "x".repeat(64 * 1024), "--timeout", "2000"]);
    expect(r.stderr).toContain("the turn was not accepted, nothing was stored: the disk of the daemon's data directory is full");
    expect(r.stderr).toContain("Free space on it");
    expect(r.stderr).toContain("[ERR_STORAGE_FULL]");
    expect(r.code).toBe(69);
    expect(d.t.turns.counts().accepted).toBe(0);
  }, 20_000);

  it("exits 69 (EX_UNAVAILABLE) when the daemon is not running", async () => {
    const d = (daemon = await startLocalDaemon());
    await d.stop();
    const r = await runCli(["--config", d.envFile, "turn", "hello", "--timeout", "2000"]);
    expect(r.stderr).toContain("is agent-supervisor running?");
    expect(r.stderr).toContain("[ERR_DAEMON_UNREACHABLE]");
    expect(r.code).toBe(69);
  }, 20_000);
});
