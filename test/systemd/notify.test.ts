/**
 * createSystemdNotifier through the real systemd-notify binary into a real AF_UNIX datagram
 * socket (a python3 receiver standing in for systemd), and its queueing and failure handling
 * with a fake exec.
 */
import { spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { dirname } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { createLogger } from "../../src/core/logger.ts";
import {
  createSystemdNotifier,
  execNotify,
  notifyArgs,
  watchdogIntervalMs,
  type NotifyExec,
  type NotifyLog,
} from "../../src/core/systemd-notify.ts";
import { startWatchdogPings } from "../../src/watchdogs/systemd-pings.ts";
import { startNotifyReceiver, type NotifyReceiver } from "./notify-receiver.ts";

const hasSender = spawnSync("systemd-notify", ["--version"]).status === 0;
const hasPython = spawnSync("python3", ["--version"]).status === 0;
const hasSetpriv = spawnSync("setpriv", ["--version"]).status === 0;

let receiver: NotifyReceiver | undefined;
afterEach(() => {
  receiver?.close();
  receiver = undefined;
});

/** A logger recording warn/info calls. */
function recordingLog() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const log: NotifyLog = {
    warn: (obj, msg) => lines.push({ level: "warn", obj: obj as Record<string, unknown>, msg }),
    info: (obj, msg) => lines.push({ level: "info", obj: obj as Record<string, unknown>, msg }),
  };
  return { log, lines };
}

describe.runIf(hasSender && hasPython)("systemd-notify into a real notify socket", () => {
  it("delivers READY=1 with STATUS=, then WATCHDOG=1, each with MAINPID=<our pid>", async () => {
    receiver = await startNotifyReceiver();
    const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: receiver.socketPath, PATH: process.env.PATH } });
    expect(notifier.enabled).toBe(true);

    expect(await notifier.notify({ READY: "1", STATUS: "gateway ready; 0 turns queued" })).toBe(true);
    await notifier.notify({ WATCHDOG: "1" });
    // systemd-notify waits for the BARRIER=1 round trip, so both have arrived when notify resolves.
    const [first, second] = await receiver.waitFor(2);
    expect(first!.lines).toEqual([`MAINPID=${process.pid}`, "READY=1", "STATUS=gateway ready; 0 turns queued"]);
    expect(second!.lines).toEqual([`MAINPID=${process.pid}`, "WATCHDOG=1"]);
    // Privileged, systemd-notify sends with our pid as the sender; unprivileged, with its own
    // (hence NotifyAccess=all in the unit).
    if (process.getuid!() === 0) expect(first!.pid).toBe(process.pid);
    else expect(first!.pid).not.toBe(process.pid);
  });

  it.runIf(process.getuid!() === 0 && hasSetpriv)("unprivileged, the message comes from systemd-notify's own pid (why NotifyAccess=all)", async () => {
    receiver = await startNotifyReceiver();
    chmodSync(dirname(receiver.socketPath), 0o711);
    chmodSync(receiver.socketPath, 0o666);
    // The same sender, run as nobody: it cannot claim our pid, so it falls back to its own.
    const notifier = createSystemdNotifier({
      env: { NOTIFY_SOCKET: receiver.socketPath, PATH: process.env.PATH },
      exec: (file, args, o) => execNotify("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", file, ...args], o),
    });
    await notifier.notify({ READY: "1" });
    const [msg] = await receiver.waitFor(1);
    expect(msg!.lines).toEqual([`MAINPID=${process.pid}`, "READY=1"]);
    expect(msg!.pid).not.toBe(process.pid);
  });

  it("cannot be made to inject assignments through a value", async () => {
    receiver = await startNotifyReceiver();
    const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: receiver.socketPath, PATH: process.env.PATH } });
    await notifier.notify({ STATUS: "evil\nREADY=1", "bad key": "x", ["--ready"]: "1" });
    const [msg] = await receiver.waitFor(1);
    expect(msg!.lines).toEqual([`MAINPID=${process.pid}`, "STATUS=evil READY=1"]);
  });

  it("sends the first update at once and coalesces the ones queued behind it into the latest", async () => {
    receiver = await startNotifyReceiver();
    const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: receiver.socketPath, PATH: process.env.PATH } });
    const sent = [1, 2, 3, 4, 5].map((n) => notifier.notify({ STATUS: `update ${n}` }));
    await Promise.all(sent);
    await new Promise((r) => setTimeout(r, 100)); // nothing more may arrive
    expect(receiver.messages.map((m) => m.lines[1])).toEqual(["STATUS=update 1", "STATUS=update 5"]);
  });

  it("pings WATCHDOG=1 at half of WATCHDOG_USEC until aborted", async () => {
    receiver = await startNotifyReceiver();
    const env = { NOTIFY_SOCKET: receiver.socketPath, PATH: process.env.PATH, WATCHDOG_USEC: "200000", WATCHDOG_PID: String(process.pid) };
    const notifier = createSystemdNotifier({ env });
    const intervalMs = watchdogIntervalMs(env)!;
    expect(intervalMs).toBe(100);
    const ac = new AbortController();
    const done = startWatchdogPings({ notifier, intervalMs, healthy: () => true, clock: systemClock, signal: ac.signal });
    await receiver.waitFor(3, 3000);
    ac.abort();
    await done;
    expect(receiver.messages.every((m) => m.lines.includes("WATCHDOG=1"))).toBe(true);
  });

  it("never throws when the socket is gone, and logs the failure once per minute", async () => {
    let now = 0;
    const { log, lines } = recordingLog();
    const notifier = createSystemdNotifier({
      env: { NOTIFY_SOCKET: "/nonexistent/notify.sock", PATH: process.env.PATH },
      log,
      clock: { now: () => now },
    });
    await expect(notifier.notify({ READY: "1" })).resolves.toBe(false);
    await notifier.notify({ WATCHDOG: "1" });
    now += 30_000;
    await notifier.notify({ WATCHDOG: "1" });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toBe("systemd notification failed");
    expect((lines[0]!.obj.err as { code: string }).code).toBe("ERR_SYSTEMD_NOTIFY");
    expect(String((lines[0]!.obj.err as Error).message)).toMatch(/systemd-notify failed \(exit \d+\)/);
    now += 30_000;
    await notifier.notify({ WATCHDOG: "1" });
    expect(lines).toHaveLength(2);
    expect(lines[1]!.obj.suppressed).toBe(2);
  });
});

describe("createSystemdNotifier", () => {
  it("logs failures through the daemon's pino logger with the typed error", async () => {
    let out = "";
    const sink = new Writable({ write: (chunk, _e, cb) => ((out += String(chunk)), cb()) });
    const notifier = createSystemdNotifier({
      env: { NOTIFY_SOCKET: "/s" },
      exec: () => execNotify("/nonexistent/systemd-notify", [], { env: {}, timeoutMs: 1000 }),
      log: createLogger("info", sink),
    });
    await notifier.notify({ READY: "1" });
    const line = JSON.parse(out.trim()) as { level: string; msg: string; err: { code: string; type: string } };
    expect(line).toMatchObject({ level: "warn", msg: "systemd notification failed", err: { code: "ERR_SYSTEMD_NOTIFY", type: "SystemdNotifyError" } });
  });

  it("is disabled without NOTIFY_SOCKET and runs nothing", async () => {
    const calls: string[][] = [];
    const exec: NotifyExec = async (_f, args) => void calls.push([...args]);
    for (const env of [{}, { NOTIFY_SOCKET: "" }]) {
      const notifier = createSystemdNotifier({ env, exec });
      expect(notifier.enabled).toBe(false);
      await notifier.notify({ READY: "1" });
    }
    expect(calls).toEqual([]);
  });

  it("passes only NOTIFY_SOCKET and PATH to the sender, with --pid and -- before the assignments", async () => {
    const calls: { file: string; args: readonly string[]; env: Record<string, string>; timeoutMs: number }[] = [];
    const exec: NotifyExec = async (file, args, o) => void calls.push({ file, args, ...o });
    const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: "@sock", SECRET: "x", PATH: "/bin" }, exec, pid: 4242 });
    await notifier.notify({ READY: "1", STATUS: "ok" });
    expect(calls).toEqual([
      { file: "systemd-notify", args: ["--pid=4242", "--", "READY=1", "STATUS=ok"], env: { NOTIFY_SOCKET: "@sock", PATH: "/bin" }, timeoutMs: 10_000 },
    ]);
  });

  it("serializes sends and merges everything queued behind the one in flight", async () => {
    const sent: string[][] = [];
    const gates: (() => void)[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const exec: NotifyExec = (_f, args) => {
      sent.push(args.slice(2));
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise((resolve) => gates.push(() => (inFlight--, resolve())));
    };
    const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: "/s" }, exec, pid: 1 });
    const resolved: string[] = [];
    const track = (name: string, p: Promise<unknown>) => void p.then(() => resolved.push(name));
    track("a", notifier.notify({ STATUS: "a" }));
    track("b", notifier.notify({ READY: "1", STATUS: "b" }));
    track("c", notifier.notify({ STATUS: "c" }));
    track("w", notifier.notify({ WATCHDOG: "1" }));
    expect(sent).toEqual([["STATUS=a"]]);
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(resolved).toEqual(["a"]);
    expect(sent).toEqual([["STATUS=a"], ["READY=1", "STATUS=c", "WATCHDOG=1"]]);
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(resolved).toEqual(["a", "b", "c", "w"]);
    expect(maxInFlight).toBe(1);
  });

  it("survives an exec that throws synchronously or a missing binary", async () => {
    const { log, lines } = recordingLog();
    const throwing = createSystemdNotifier({
      env: { NOTIFY_SOCKET: "/s" },
      exec: () => {
        throw new Error("boom");
      },
      log,
    });
    await expect(throwing.notify({ READY: "1" })).resolves.toBe(false);
    const missing = createSystemdNotifier({ env: { NOTIFY_SOCKET: "/s" }, command: "/nonexistent/systemd-notify", log });
    await expect(missing.notify({ READY: "1" })).resolves.toBe(false);
    expect(lines.map((l) => String((l.obj.err as Error).message))).toEqual(["boom", expect.stringContaining("ENOENT")]);
  });
});

describe("notifyArgs", () => {
  it.each<[Record<string, string>, string[]]>([
    [{ READY: "1" }, ["--pid=7", "--", "READY=1"]],
    [{ STATUS: "a\r\nb\tc" }, ["--pid=7", "--", "STATUS=a  b c"]],
    [{ WATCHDOG: "1", lower: "x", "A-B": "y", "": "z", _X: "q" }, ["--pid=7", "--", "WATCHDOG=1"]],
    [{}, ["--pid=7", "--"]],
  ])("%j", (state, expected) => {
    expect(notifyArgs(state, 7)).toEqual(expected);
  });
});
