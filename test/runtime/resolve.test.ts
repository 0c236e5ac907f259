import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveGatewayRuntime } from "../../src/runtime/resolve.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rt-resolve-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function touch(path: string, content = "", mode = 0o644): Promise<string> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content);
  await chmod(path, mode);
  return path;
}

describe("resolveGatewayRuntime: external", () => {
  it("uses OPENCLAW_NODE and OPENCLAW_ENTRY, reading the version beside the entry", async () => {
    const node = await touch(join(dir, "bin", "node"), "#!/bin/sh\n", 0o755);
    const entry = await touch(join(dir, "oc", "openclaw.mjs"));
    await touch(join(dir, "oc", "package.json"), JSON.stringify({ name: "openclaw", version: "2026.9.1" }));
    expect(await resolveGatewayRuntime({ dataDir: dir, openclawNode: node, openclawEntry: entry, openclawVersion: "2026.9.6" })).toEqual({
      nodePath: node, entryPath: entry, openclawVersion: "2026.9.1", source: "external",
    });
  });

  it("reports no version when there is no openclaw package.json beside the entry", async () => {
    const node = await touch(join(dir, "node"), "", 0o755);
    const entry = await touch(join(dir, "openclaw.mjs"));
    expect((await resolveGatewayRuntime({ dataDir: dir, openclawNode: node, openclawEntry: entry, openclawVersion: "2026.9.6" })).openclawVersion).toBeUndefined();
  });

  it.each([
    ["a missing node", "nope/node", "entry.mjs", /OPENCLAW_NODE=.*not an executable file/],
    ["a node that is not executable", "plain", "entry.mjs", /OPENCLAW_NODE=.*not an executable file/],
    ["a node that is a directory", ".", "entry.mjs", /OPENCLAW_NODE=/],
    ["a missing entry", "node", "nope.mjs", /OPENCLAW_ENTRY=.*not a file/],
    ["only OPENCLAW_NODE", "node", undefined, /must be set together/],
    ["only OPENCLAW_ENTRY", undefined, "entry.mjs", /must be set together/],
  ])("rejects %s with ERR_RUNTIME_EXTERNAL", async (_, node, entry, message) => {
    await touch(join(dir, "node"), "", 0o755);
    await touch(join(dir, "plain"), "", 0o644);
    await touch(join(dir, "entry.mjs"));
    const err = await resolveGatewayRuntime({
      dataDir: dir, openclawVersion: "2026.9.6",
      openclawNode: node === undefined ? undefined : join(dir, node),
      openclawEntry: entry === undefined ? undefined : join(dir, entry),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_RUNTIME_EXTERNAL" });
    expect((err as Error).message).toMatch(message);
  });
});

describe("resolveGatewayRuntime: managed", () => {
  async function record(version: string, files = true): Promise<{ nodePath: string; entryPath: string }> {
    const nodePath = join(dir, "runtime", "node-24.21.0", "bin", "node");
    const entryPath = join(dir, "runtime", `openclaw-${version}`, "node_modules", "openclaw", "openclaw.mjs");
    if (files) {
      await touch(nodePath, "", 0o755);
      await touch(entryPath);
    }
    await touch(join(dir, "runtime", "current.json"), JSON.stringify({
      openclawVersion: version, nodeVersion: "24.21.0", npmVersion: "11.21.2", nodePath, entryPath, installedAt: "2026-11-21T10:00:00.000Z",
    }));
    return { nodePath, entryPath };
  }

  it("returns what current.json records", async () => {
    const paths = await record("2026.9.6");
    expect(await resolveGatewayRuntime({ dataDir: dir, openclawVersion: "2026.9.6" })).toEqual({ ...paths, openclawVersion: "2026.9.6", source: "managed" });
  });

  it.each([
    ["nothing is installed", async () => {}, /no managed OpenClaw runtime/],
    ["another version is installed", () => record("2026.9.1"), /OPENCLAW_VERSION is 2026\.9\.6 but the installed runtime is 2026\.9\.1/],
    ["the recorded files are gone", () => record("2026.9.6", false), /lacks/],
    ["current.json is not JSON", () => touch(join(dir, "runtime", "current.json"), "{"), /not JSON/],
    ["current.json lacks fields", () => touch(join(dir, "runtime", "current.json"), "{}"), /current.json is invalid: .*run .agent-supervisor openclaw install./],
  ])("throws ERR_RUNTIME_MISSING telling to run install when %s", async (_, arrange, message) => {
    await arrange();
    const err = await resolveGatewayRuntime({ dataDir: dir, openclawVersion: "2026.9.6" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_RUNTIME_MISSING", name: "RuntimeError" });
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain("agent-supervisor openclaw install");
  });
});
