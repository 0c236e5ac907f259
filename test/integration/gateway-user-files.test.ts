/**
 * The files side of the agent boundary (issue 11) on real files: the root hand-over of the
 * gateway's tree (symlinks never followed), the data directory closed to others, and the /tmp
 * sweeps run as the gateway's user through setpriv and the real CLI. The parts that change owners
 * or switch users need root and a second user (created here); CI runs them as root.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { handOverTree, closeToOthers, isHandedOver } from "../../src/supervisor/shared-tree.ts";
import { TmpSweeper } from "../../src/watchdogs/tmp-sweep-as.ts";
import type { Boundary } from "../../src/supervisor/gateway-user.ts";
import { CLI } from "../e2e/harness.ts";
import { openToOthers } from "../../src/runtime/install.ts";

const isRoot = process.getuid?.() === 0;
const USER = "as-it-gw";
const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), "as-gwfiles-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function ensureUser(): { name: string; uid: number; gid: number } {
  if (spawnSync("id", ["-u", USER]).status !== 0) execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]);
  return { name: USER, uid: Number(execFileSync("id", ["-u", USER], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", USER], { encoding: "utf8" })) };
}

it("closeToOthers takes the others' bits off the data directory's entries, but the gateway's tree and the runtime", async () => {
  const data = scratch();
  writeFileSync(join(data, "agent-supervisor.db"), "db", { mode: 0o644 });
  writeFileSync(join(data, "api.token"), "t", { mode: 0o600 });
  mkdirSync(join(data, "native"), { mode: 0o755 });
  mkdirSync(join(data, "gateway"), { mode: 0o755 });
  mkdirSync(join(data, "runtime"), { mode: 0o755 });
  chmodSync(join(data, "agent-supervisor.db"), 0o644);
  chmodSync(join(data, "native"), 0o755);
  const changed = await closeToOthers(data, process.getuid!(), ["gateway", "runtime"]);
  expect(changed.sort()).toEqual([join(data, "agent-supervisor.db"), join(data, "native")]);
  const mode = (n: string) => statSync(join(data, n)).mode & 0o777;
  expect([mode("agent-supervisor.db"), mode("api.token"), mode("native"), mode("gateway"), mode("runtime")]).toEqual([0o640, 0o600, 0o750, 0o755, 0o755]);
  expect(await closeToOthers(data, process.getuid!(), ["gateway", "runtime"])).toEqual([]);
});

it("openToOthers makes a runtime piece installed under umask 077 readable, and runnable where its owner may run it", async () => {
  const piece = scratch();
  mkdirSync(join(piece, "bin"), { mode: 0o700 });
  writeFileSync(join(piece, "bin", "node"), "#!/bin/sh\n", { mode: 0o700 });
  writeFileSync(join(piece, "package.json"), "{}", { mode: 0o600 });
  symlinkSync("/etc/shadow", join(piece, "link"));
  for (const [p, m] of [["bin", 0o700], ["bin/node", 0o700], ["package.json", 0o600]] as const) chmodSync(join(piece, p), m);
  chmodSync(piece, 0o700);
  await openToOthers(piece);
  const mode = (p: string) => statSync(join(piece, p)).mode & 0o777;
  expect([mode(""), mode("bin"), mode("bin/node"), mode("package.json")]).toEqual([0o705, 0o705, 0o705, 0o604]);
  expect(await openToOthers(piece)).toBe(0);
});

if (!isRoot) {
  describe("as another user", () => {
    it.skip("skipped here (not root): the hand-over changes owners and the sweeps switch users; CI runs them as root", () => {});
  });
}

describe.runIf(isRoot)("as another user (root)", () => {
  it("hands a tree over: owners and shared modes, contents kept, a symlink's target untouched, once", async () => {
    const user = ensureUser();
    const base = scratch();
    const root = join(base, "gateway");
    mkdirSync(join(root, "state", "agents"), { recursive: true, mode: 0o700 });
    writeFileSync(join(root, "state", "openclaw.json"), "{}\n", { mode: 0o600 });
    writeFileSync(join(root, "state", "agents", "t.sqlite"), "transcript", { mode: 0o600 });
    const outside = join(base, "secret");
    writeFileSync(outside, "operator secret", { mode: 0o600 });
    symlinkSync(outside, join(root, "state", "link"));
    // A hard link the old gateway (the daemon's user) made to a daemon file, and a stranger's file.
    linkSync(outside, join(root, "state", "hard"));
    writeFileSync(join(root, "state", "stranger"), "s", { mode: 0o600 });
    chownSync(join(root, "state", "stranger"), 4242, 4242);
    const tree = { root, subdirs: [join(root, "home"), join(root, "state"), join(root, "workspace"), join(root, "logs")] };
    expect(await isHandedOver(root, user)).toBe(false);
    const r = await handOverTree(tree, user, 0);
    expect(r.already).toBe(false);
    expect(r.skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: join(root, "state", "hard"), reason: "a hard link (2 names)" },
      { path: join(root, "state", "link"), reason: "symlink (not followed)" },
      { path: join(root, "state", "stranger"), reason: "owned by uid 4242" },
    ]);
    for (const p of [root, ...tree.subdirs, join(root, "state", "agents")]) {
      expect([statSync(p).uid, statSync(p).gid, statSync(p).mode & 0o7777], p).toEqual([user.uid, user.gid, 0o2770]);
    }
    for (const p of ["state/openclaw.json", "state/agents/t.sqlite"]) {
      expect([statSync(join(root, p)).uid, statSync(join(root, p)).mode & 0o777], p).toEqual([user.uid, 0o660]);
    }
    expect(readFileSync(join(root, "state", "agents", "t.sqlite"), "utf8")).toBe("transcript");
    expect([statSync(outside).uid, statSync(outside).mode & 0o777]).toEqual([0, 0o600]);
    expect(statSync(join(root, "state", "stranger")).uid).toBe(4242);
    expect(await isHandedOver(root, user)).toBe(true);
    // Again: nothing to do, but a subdirectory deleted since comes back as the user's.
    rmSync(join(root, "logs"), { recursive: true });
    expect(await handOverTree(tree, user, 0)).toEqual({ already: true, changed: 0, skipped: [] });
    expect([statSync(join(root, "logs")).uid, statSync(join(root, "logs")).mode & 0o7777]).toEqual([user.uid, 0o2770]);
  });

  it("the sweeps run as the gateway's user: its 0700 leftovers in a sticky /tmp and in its state tmp/ go, the stale files only while it runs", async () => {
    const user = ensureUser();
    const tmp = scratch();
    chmodSync(tmp, 0o1777);
    const own = (p: string) => chownSync(p, user.uid, user.gid);
    const leftover = join(tmp, "openclaw-build-1");
    mkdirSync(join(leftover, "deep"), { recursive: true, mode: 0o700 });
    writeFileSync(join(leftover, "deep", "f"), "x");
    for (const p of [join(leftover, "deep", "f"), join(leftover, "deep"), leftover]) own(p);
    const others = join(tmp, "openclaw-root");
    mkdirSync(others);
    // The state directory's tmp/, in the gateway's tree (its user's, 0700): a leaked capture
    // directory of the user's, one of root's (the daemon's: the user cannot remove it, and the
    // daemon does not), and the gateway lock directory, which is never touched.
    const stateTmp = join(scratch(), "tmp");
    mkdirSync(stateTmp, { mode: 0o700 });
    const leaked = join(stateTmp, "openclaw-plugin-build-a1");
    mkdirSync(leaked, { mode: 0o700 });
    writeFileSync(join(leaked, "index.js"), "y".repeat(100));
    const rootsLeak = join(stateTmp, "openclaw-model-catalog-r1");
    mkdirSync(rootsLeak);
    const lockDir = join(stateTmp, `openclaw-${user.uid}`);
    mkdirSync(lockDir, { mode: 0o700 });
    writeFileSync(join(lockDir, "gateway.state.lock"), "{}");
    for (const p of [join(leaked, "index.js"), leaked, join(lockDir, "gateway.state.lock"), lockDir, stateTmp]) own(p);
    chownSync(join(stateTmp, ".."), user.uid, user.gid);
    const b: Boundary = { on: true, user, setpriv: "/usr/bin/setpriv" };
    const sweeper = new TmpSweeper({ tmpDir: tmp, stateTmpDir: stateTmp, selfUid: 0, spawn, self: { command: CLI, args: [] } });
    const full = await sweeper.full(b);
    expect(full.tmp.removed).toEqual([leftover]);
    expect(full.tmp.skipped).toEqual([{ path: others, reason: "owned by uid 0" }]);
    expect(full.tmp.removedBytes).toBe(1);
    expect(readdirSync(tmp)).toEqual(["openclaw-root"]);
    expect(full.stateTmp.removed).toEqual([leaked]);
    expect(full.stateTmp.removedBytes).toBe(100);
    expect(full.stateTmp.skipped).toContainEqual({ path: rootsLeak, reason: "owned by uid 0" });
    expect(full.stateTmp.skipped).toContainEqual({ path: lockDir, reason: "gateway state locks" });
    expect(readdirSync(stateTmp).sort()).toEqual([`openclaw-${user.uid}`, "openclaw-model-catalog-r1"]);
    expect(readFileSync(join(lockDir, "gateway.state.lock"), "utf8")).toBe("{}");

    const running = join(tmp, "openclaw");
    mkdirSync(running, { mode: 0o700 });
    writeFileSync(join(running, "old"), "o");
    writeFileSync(join(running, "new"), "n");
    const old = Date.now() / 1000 - 7200;
    utimesSync(join(running, "old"), old, old);
    for (const p of [join(running, "old"), join(running, "new"), running]) own(p);
    const staleLeak = join(stateTmp, "openclaw-model-catalog-b2");
    mkdirSync(staleLeak, { mode: 0o700 });
    writeFileSync(join(staleLeak, "catalog.json"), "[]");
    utimesSync(join(lockDir, "gateway.state.lock"), old, old);
    for (const p of [join(staleLeak, "catalog.json"), staleLeak]) {
      utimesSync(p, old, old);
      own(p);
    }
    const stale = await sweeper.stale(b, Date.now(), 3_600_000);
    expect(stale.tmp.removedFiles).toBe(1);
    expect(existsSync(join(running, "old"))).toBe(false);
    expect(existsSync(join(running, "new"))).toBe(true);
    // The stale leaked capture directory goes whole (file, then the emptied directory); the lock stays, old as it is.
    expect(stale.stateTmp).toMatchObject({ removedFiles: 1, removedDirs: 1, removedBytes: 2 });
    expect(existsSync(staleLeak)).toBe(false);
    expect(existsSync(join(lockDir, "gateway.state.lock"))).toBe(true);
  });

  it("`decay` as root empties the trash of a workspace of another user as that user, never as root", async () => {
    const user = ensureUser();
    const base = scratch();
    chmodSync(base, 0o755);
    const data = join(base, "data");
    const ws = join(data, "gateway", "workspace");
    const day = join(ws, ".trash", "2020-01-01");
    mkdirSync(join(day, "sub"), { recursive: true });
    writeFileSync(join(day, "note.md"), "old note");
    writeFileSync(join(day, "sub", "more.md"), "old");
    for (const p of [join(day, "sub", "more.md"), join(day, "sub"), join(day, "note.md"), day, join(ws, ".trash"), ws, join(data, "gateway")]) chownSync(p, user.uid, user.gid);
    // Planted: a root-owned folder inside the trash. Root would remove it; the gateway's user cannot.
    mkdirSync(join(day, "roots"), { mode: 0o755 });
    writeFileSync(join(day, "roots", "keep"), "root's");
    chmodSync(data, 0o711);
    const env = join(base, "env");
    writeFileSync(env, `AGENT_SUPERVISOR_DATA_DIR=${data}\nOPENAI_COMPAT_BASE_URL=http://127.0.0.1:9/v1\n`);
    const r = spawnSync(CLI, ["--config", env, "decay"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(r.stdout + r.stderr).toMatch(/purge/);
    // The purge ran as the gateway's user: its files went, root's stayed (and the step says why).
    expect(existsSync(join(day, "note.md"))).toBe(false);
    expect(existsSync(join(day, "sub"))).toBe(false);
    expect(readFileSync(join(day, "roots", "keep"), "utf8")).toBe("root's");
    expect(r.stdout).toMatch(/Permission denied/);
  });

  it("a sweep that cannot run as the user rejects, naming it", async () => {
    const user = ensureUser();
    const b: Boundary = { on: true, user, setpriv: "/usr/bin/setpriv" };
    const sweeper = new TmpSweeper({ tmpDir: scratch(), stateTmpDir: scratch(), selfUid: 0, spawn, self: { command: "/nonexistent/agent-supervisor", args: [] } });
    await expect(sweeper.full(b)).rejects.toThrow(new RegExp(`the /tmp sweep as ${USER} failed`));
  });
});
