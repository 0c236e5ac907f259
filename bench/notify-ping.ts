/**
 * What one systemd `WATCHDOG=1` ping costs the daemon's own process (issue 15, goal 2). Node has
 * no AF_UNIX datagram socket, so the daemon runs `systemd-notify` per message
 * (src/core/systemd-notify.ts). This measures the CPU time (user + system, ms, `process.cpuUsage`,
 * the child's own time not included, as in bench/footprint.ts) of N pings through the daemon's
 * notifier beside the raw path: `child_process.spawn` of the same program with stdio ignored, the
 * cheapest way Node has to run it. The sender is a stand-in (`/bin/true`: systemd is not PID 1
 * here); forking costs more the more memory the parent maps, so the process first holds about as
 * much as the idle daemon (BENCHMARKS.md: ~25 MB of V8 heap, ~120 MB RSS).
 *
 * Run: `.cache/node/bin/node bench/notify-ping.ts [pings=200] [rounds=3]`. Prints one JSON line
 * per round and a summary with the ratio daemon/raw and the share of a core at one ping per 15 s
 * (WatchdogSec=30s in systemd/agent-supervisor.service).
 */
import { spawn } from "node:child_process";
import { createSystemdNotifier } from "../src/core/systemd-notify.ts";

const pings = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
const SENDER = "/bin/true";

// About the idle daemon's footprint: objects on the V8 heap and touched native memory.
const heap = Array.from({ length: 45_000 }, (_, i) => ({ i, s: `entry ${i} ${"x".repeat(60)}` }));
const native = Array.from({ length: 10 }, () => Buffer.alloc(4 << 20, 1));

/** CPU ms of this process for `n` sequential runs of `once`. */
async function cpuFor(n: number, once: () => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await once();
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
}

const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: "/run/bench-none", PATH: "/usr/bin:/bin" }, command: SENDER });
const daemonPing = async () => {
  if (!(await notifier.notify({ WATCHDOG: "1" }))) throw new Error("the stand-in sender failed");
};
const rawPing = () =>
  new Promise<void>((resolve, reject) => {
    const c = spawn(SENDER, ["--pid=1", "--", "WATCHDOG=1"], { env: { NOTIFY_SOCKET: "/run/bench-none" }, stdio: "ignore" });
    c.once("error", reject);
    c.once("exit", () => resolve());
  });

const results: { daemonMsPerPing: number; rawMsPerPing: number }[] = [];
for (let r = 0; r < rounds; r++) {
  // ABBA within a round, so a slow phase of the machine falls on both.
  const a1 = await cpuFor(pings / 2, daemonPing);
  const b1 = await cpuFor(pings / 2, rawPing);
  const b2 = await cpuFor(pings / 2, rawPing);
  const a2 = await cpuFor(pings / 2, daemonPing);
  const row = { daemonMsPerPing: Number(((a1 + a2) / pings).toFixed(2)), rawMsPerPing: Number(((b1 + b2) / pings).toFixed(2)) };
  results.push(row);
  console.log(JSON.stringify({ round: r + 1, ...row }));
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const d = mean(results.map((x) => x.daemonMsPerPing));
const raw = mean(results.map((x) => x.rawMsPerPing));
console.log(JSON.stringify({
  pings, rounds, rssMB: Math.round(process.memoryUsage().rss / 1e6), heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1e6),
  daemonMsPerPing: Number(d.toFixed(2)), rawMsPerPing: Number(raw.toFixed(2)), ratio: Number((d / raw).toFixed(2)),
  daemonCorePercentAt15s: Number(((d / 15_000) * 100).toFixed(4)), rawCorePercentAt15s: Number(((raw / 15_000) * 100).toFixed(4)),
  held: heap.length + native.length,
}));
