/**
 * What bench/footprint.ts reads about a process from Linux's /proc (proc(5)), and the pure
 * arithmetic over two readings. No timers here: the bench decides when to read.
 */
import { readdirSync, readFileSync } from "node:fs";

/** One reading of a process. Memory in bytes, CPU in clock ticks (`CLK_TCK`, 100 per s on Linux). */
export type ProcReading = {
  /** performance.now() of the reading (ms). */
  atMs: number;
  /** VmRSS: resident set now (bytes). */
  rssBytes: number;
  /** VmHWM: the highest resident set since the process started (bytes). */
  hwmBytes: number;
  /** RssAnon: the anonymous part of VmRSS (heaps, stacks, malloc) (bytes). */
  anonBytes: number;
  /** RssFile: the file-backed part of VmRSS (the executable's pages read so far) (bytes). */
  fileBytes: number;
  /** utime + stime of the whole process, all threads (ticks). */
  cpuTicks: number;
  /** Context switches of the main thread (the event loop): voluntary + involuntary. */
  mainSwitches: number;
  /** The same, summed over every thread (V8's workers, libuv's pool, ...). */
  allSwitches: number;
  /** Threads now. */
  threads: number;
};

/** A `Key:   value kB` or `Key: n` field of /proc/<pid>/status; 0 when absent. Pure. */
export function statusField(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status);
  return m ? Number(m[1]) : 0;
}

/** utime + stime (fields 14 and 15, ticks) of a /proc/<pid>/stat line. Pure. */
export function statCpuTicks(stat: string): number {
  // Field 2 (comm) may hold spaces and parentheses: count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}

const switches = (status: string) => statusField(status, "voluntary_ctxt_switches") + statusField(status, "nonvoluntary_ctxt_switches");

/**
 * Read /proc/<pid> now.
 * @throws Error (ENOENT) when the process is gone
 */
export function readProc(pid: number): ProcReading {
  const atMs = performance.now();
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  let allSwitches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      allSwitches += switches(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return {
    atMs,
    rssBytes: statusField(status, "VmRSS") * 1024,
    hwmBytes: statusField(status, "VmHWM") * 1024,
    anonBytes: statusField(status, "RssAnon") * 1024,
    fileBytes: statusField(status, "RssFile") * 1024,
    cpuTicks: statCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8")),
    mainSwitches: switches(status),
    allSwitches,
    threads: statusField(status, "Threads"),
  };
}

/**
 * Resident memory by mapping of /proc/<pid>/smaps, summed per file (anonymous mappings under
 * `[anon]`, the rest by their name, e.g. `[heap]`, `[stack]`, a file path): the `top` largest, in
 * MB (10^6 bytes), largest first. Pure.
 */
export function rssByMapping(smaps: string, top = 8): { mapping: string; rssMB: number }[] {
  const sums = new Map<string, number>();
  let current = "[anon]";
  for (const line of smaps.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = head[1]!.trim() || "[anon]";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums.set(current, (sums.get(current) ?? 0) + Number(rss[1]) * 1024);
  }
  return [...sums]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([mapping, bytes]) => ({ mapping, rssMB: Number((bytes / 1e6).toFixed(1)) }));
}

/** The figures over a window: MB are 10^6 bytes, CPU % of one core. */
export type WindowFigures = {
  seconds: number;
  cpuPercent: number;
  rssMB: { first: number; mean: number; max: number; last: number };
  hwmMB: number;
  /** RssAnon and RssFile of the last reading (MB). */
  lastAnonMB: number;
  lastFileMB: number;
  mainWakeupsPerS: number;
  allWakeupsPerS: number;
  threads: number;
};

/**
 * Figures between the first and the last of `readings` (at least two, in time order), with
 * `ticksPerS` clock ticks per second (`getconf CLK_TCK`). Pure.
 * @throws Error when fewer than two readings are given
 */
export function windowFigures(readings: readonly ProcReading[], ticksPerS: number): WindowFigures {
  if (readings.length < 2) throw new Error(`windowFigures: need 2 readings, got ${readings.length}`);
  const a = readings[0]!;
  const b = readings.at(-1)!;
  const s = (b.atMs - a.atMs) / 1000;
  const mb = (bytes: number) => Number((bytes / 1e6).toFixed(1));
  const rss = readings.map((r) => r.rssBytes);
  return {
    seconds: Number(s.toFixed(1)),
    cpuPercent: Number((((b.cpuTicks - a.cpuTicks) / ticksPerS / s) * 100).toFixed(3)),
    rssMB: { first: mb(a.rssBytes), mean: mb(rss.reduce((x, y) => x + y, 0) / rss.length), max: mb(Math.max(...rss)), last: mb(b.rssBytes) },
    hwmMB: mb(b.hwmBytes),
    lastAnonMB: mb(b.anonBytes),
    lastFileMB: mb(b.fileBytes),
    mainWakeupsPerS: Number(((b.mainSwitches - a.mainSwitches) / s).toFixed(2)),
    allWakeupsPerS: Number(((b.allSwitches - a.allSwitches) / s).toFixed(2)),
    threads: b.threads,
  };
}
