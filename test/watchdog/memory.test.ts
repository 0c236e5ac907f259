import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { memoryLimitBytes, memoryVerdict, MemoryWatchdog, processGroupRss } from "../../src/watchdogs/memory.ts";

const MB = 1024 * 1024;
const policy = { limitBytes: 100 * MB, sustainMs: 60_000 };

describe("memoryVerdict", () => {
  it.each([
    ["no samples", [], 0, false],
    ["under the limit", [{ at: 0, bytes: 50 * MB }, { at: 70_000, bytes: 90 * MB }], 70_000, false],
    ["over, but not for the whole window yet", [{ at: 30_000, bytes: 150 * MB }, { at: 60_000, bytes: 150 * MB }], 60_000, false],
    ["over for the whole window", [{ at: 0, bytes: 150 * MB }, { at: 30_000, bytes: 160 * MB }, { at: 60_000, bytes: 170 * MB }], 60_000, true],
    ["dipped under inside the window", [{ at: 0, bytes: 150 * MB }, { at: 30_000, bytes: 90 * MB }, { at: 60_000, bytes: 170 * MB }], 60_000, false],
  ])("%s", (_n, samples, now, over) => {
    expect(memoryVerdict(samples, policy, now).over).toBe(over);
  });

  it("limit: MB when set, else a share of host memory", () => {
    expect(memoryLimitBytes(512, 50, 8 * 1024 * MB)).toBe(512 * MB);
    expect(memoryLimitBytes(undefined, 50, 8 * 1024 * MB)).toBe(4 * 1024 * MB);
  });
});

describe("MemoryWatchdog", () => {
  it("restarts only after the limit is exceeded for the sustained window, and keeps the trend", () => {
    let now = 0;
    let bytes = 50 * MB;
    const over: string[] = [];
    const trend: number[] = [];
    const w = new MemoryWatchdog({
      pid: () => 4242, sample: () => bytes, now: () => now, sleep: async () => {}, policy, sampleMs: 10_000,
      record: (s) => trend.push(s.bytes), onOver: (r) => over.push(r),
    });
    for (let i = 0; i < 3; i++, now += 10_000) w.sampleOnce();
    bytes = 200 * MB;
    for (let i = 0; i < 6; i++, now += 10_000) w.sampleOnce();
    expect(over).toEqual([]);
    w.sampleOnce();
    expect(over).toEqual(["gateway RSS 200 MB above the 100 MB limit for 60 s"]);
    expect(trend).toHaveLength(10);
    expect(w.snapshot()).toMatchObject({ bytes: 200 * MB, limitBytes: 100 * MB });
  });

  it("a new gateway pid starts a new window", () => {
    let now = 0;
    let pid = 1;
    const over: string[] = [];
    const w = new MemoryWatchdog({ pid: () => pid, sample: () => 200 * MB, now: () => now, sleep: async () => {}, policy, sampleMs: 10_000, onOver: (r) => over.push(r) });
    for (let i = 0; i < 6; i++, now += 10_000) w.sampleOnce();
    pid = 2;
    w.sampleOnce();
    expect(over).toEqual([]);
  });
});

describe("processGroupRss with a real process tree", () => {
  it("sums the resident memory of a detached child and its grandchild, which grow with a balloon", async () => {
    const script = `
      const { spawn } = require("node:child_process");
      const g = spawn(process.execPath, ["-e", "const b = Buffer.alloc(80 * 1024 * 1024, 1); setInterval(() => b[0]++, 1000)"], { stdio: "ignore" });
      const mine = Buffer.alloc(40 * 1024 * 1024, 1);
      setInterval(() => mine[0]++, 1000);
      console.log("ready");`;
    const child = spawn(process.execPath, ["-e", script], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    try {
      await new Promise<void>((res) => child.stdout!.once("data", () => res()));
      let rss = 0;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        rss = processGroupRss(child.pid!) ?? 0;
        if (rss > 120 * MB) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(rss).toBeGreaterThan(120 * MB);
      expect(processGroupRss(999_999_999)).toBeNull();
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
  });
});
