/**
 * Helpers shared by the benchmarks in bench/ (percentiles of latencies, process CPU time).
 */
import { readFileSync } from "node:fs";

/** The p-th percentile (nearest rank, 0-100) of an ascending array, in its unit. */
export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** p50/p90/p99 of `xs` (any order, not modified), rounded to 0.1 of its unit (ms in the benches). */
export function summary(xs: number[]): { p50: number; p90: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number) => Number(v.toFixed(1));
  return { p50: r(pct(s, 50)), p90: r(pct(s, 90)), p99: r(pct(s, 99)) };
}

/**
 * CPU time (user + system, ms) a live process has used so far, from /proc/<pid>/stat (Linux;
 * fields 14 and 15 in clock ticks, 100 per second: `getconf CLK_TCK` on Linux x86-64 and arm64).
 * @returns undefined when the process is gone or /proc is not there
 */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: the fields after it start past the last ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * Peak resident set size (MiB) of a live process since it started, from VmHWM in
 * /proc/<pid>/status (Linux; the kernel gives it in kB).
 * @returns undefined when the process is gone or /proc is not there
 */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}
