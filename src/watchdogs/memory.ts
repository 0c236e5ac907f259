/**
 * Memory watchdog: the RSS of the gateway's whole process tree (its process group: the gateway,
 * its spawn broker and workers), sampled on an interval. If it stays above the limit for a
 * sustained window, the gateway is drained and restarted before the kernel's OOM killer picks a
 * victim (upstream operators report growth to 1.6-2 GB over days).
 */
import { readdirSync, readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { procStatFields } from "../core/os-process.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** One RSS sample. `at` is epoch ms, `bytes` the summed resident set size. */
export type RssSample = { at: number; bytes: number };

/** Memory limit settings. */
export type MemoryPolicy = {
  /** Restart above this many bytes... */
  limitBytes: number;
  /** ...sustained for this long (ms): every sample in the window is over the limit. */
  sustainMs: number;
};

/**
 * The limit in bytes: `limitMb` MiB when set, else `percent` % of host memory.
 * @param hostBytes total host memory (os.totalmem())
 */
export function memoryLimitBytes(limitMb: number | undefined, percent: number, hostBytes: number = totalmem()): number {
  return limitMb !== undefined ? limitMb * 1024 * 1024 : Math.floor((hostBytes * percent) / 100);
}

/**
 * Whether the tree has been over the limit for the whole sustain window. Pure.
 * The window must be covered: the oldest sample inside it is at least `sustainMs` old, so one
 * spike right after a start cannot trigger a restart.
 * @param samples oldest first
 */
export function memoryVerdict(samples: readonly RssSample[], policy: MemoryPolicy, nowMs: number): { over: boolean; sinceMs: number | null } {
  let since: number | null = null;
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i]!;
    if (s.bytes <= policy.limitBytes) break;
    since = s.at;
  }
  return { over: since !== null && nowMs - since >= policy.sustainMs, sinceMs: since };
}

/** Resident set size in bytes of one process from /proc/<pid>/status (VmRSS), or null. */
function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return null;
  }
}

/** Process group of a process from /proc/<pid>/stat (field 5), or null. */
function pgrpOf(pid: number): number | null {
  const fields = procStatFields(pid);
  return fields ? Number(fields[2]) : null;
}

/**
 * Summed RSS (bytes) of every process in process group `pgid` (the gateway is spawned detached,
 * so its pid is its group id), or null if the group has no live process or /proc is missing.
 */
export function processGroupRss(pgid: number): number | null {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return null;
  }
  let total = 0;
  let found = false;
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pgrpOf(pid) !== pgid) continue;
    const rss = rssOf(pid);
    if (rss === null) continue;
    total += rss;
    found = true;
  }
  return found ? total : null;
}

/** Options for {@link MemoryWatchdog}. Times are ms. */
export type MemoryWatchdogOptions = {
  /** The gateway's pid (= its process group), or null while none runs. */
  pid: () => number | null;
  /** RSS of a process group in bytes; defaults to {@link processGroupRss}. */
  sample?: (pgid: number) => number | null;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  policy: MemoryPolicy;
  sampleMs: number;
  /** Keep the trend (SQLite in production). */
  record?: (sample: RssSample) => void;
  /** The limit was exceeded for the whole window: drain and restart (cause "memory"). */
  onOver: (reason: string) => void;
};

/** Memory state for /health and /metrics. */
export type MemorySnapshot = { bytes: number | null; limitBytes: number; overSinceMs: number | null };

/** Key of the memory watchdog's /health check (also read by /metrics). */
export const GATEWAY_MEMORY_CHECK = "gateway:memory";

/**
 * The /health check of a memory reading, pure: `warn` while above the limit (it is restarted if
 * that lasts), `pass` below it; none before the first sample of a running gateway.
 */
export function memoryCheck(m: MemorySnapshot): WatchdogCheck | undefined {
  if (m.bytes === null) return undefined;
  const over = m.bytes > m.limitBytes;
  const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;
  const since = m.overSinceMs !== null ? ` since ${new Date(m.overSinceMs).toISOString()}` : "";
  return {
    key: GATEWAY_MEMORY_CHECK,
    status: over ? "warn" : "pass",
    output: over ? `gateway RSS ${mb(m.bytes)} is above the ${mb(m.limitBytes)} limit${since}; it is restarted if this lasts` : null,
    componentType: "system",
    observedValue: m.bytes,
    observedUnit: "bytes",
    details: { limitBytes: m.limitBytes },
  };
}

/** Samples the gateway tree's RSS and calls `onOver` when it stays above the limit. */
export class MemoryWatchdog implements Watchdog {
  readonly name = "memory";
  readonly #o: MemoryWatchdogOptions;
  #samples: RssSample[] = [];
  #pid: number | null = null;
  #snap: MemorySnapshot;

  constructor(opts: MemoryWatchdogOptions) {
    this.#o = opts;
    this.#snap = { bytes: null, limitBytes: opts.policy.limitBytes, overSinceMs: null };
  }

  /** Current reading (a copy). */
  snapshot(): MemorySnapshot {
    return { ...this.#snap };
  }

  /** @inheritdoc */
  check(): WatchdogCheck | undefined {
    return memoryCheck(this.#snap);
  }

  /** Sample until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#o.sleep(this.#o.sampleMs, signal);
      if (!signal.aborted) this.sampleOnce();
    }
  }

  /** Take one sample and judge it; exposed for tests. */
  sampleOnce(): void {
    const { policy, now } = this.#o;
    const pid = this.#o.pid();
    if (pid !== this.#pid) {
      this.#pid = pid;
      this.#samples = []; // a new gateway starts a new window
    }
    const bytes = pid === null ? null : (this.#o.sample ?? processGroupRss)(pid);
    this.#snap.bytes = bytes;
    if (bytes === null) {
      this.#snap.overSinceMs = null;
      return;
    }
    const at = now();
    this.#samples.push({ at, bytes });
    this.#samples = this.#samples.filter((s) => s.at >= at - policy.sustainMs - 2 * this.#o.sampleMs);
    this.#o.record?.({ at, bytes });
    const v = memoryVerdict(this.#samples, policy, at);
    this.#snap.overSinceMs = v.sinceMs;
    if (v.over) {
      const mb = (b: number) => Math.round(b / 1024 / 1024);
      this.#samples = [];
      this.#o.onOver(`gateway RSS ${mb(bytes)} MB above the ${mb(policy.limitBytes)} MB limit for ${Math.round((at - v.sinceMs!) / 1000)} s`);
    }
  }
}
