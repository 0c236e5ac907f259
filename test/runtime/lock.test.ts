import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireInstallLock } from "../../src/runtime/lock.ts";

let dir: string;
let file: string;
const alive = new Set<number>();
const opts = (pid: number) => ({ pid, nowIso: "2026-11-21T10:00:00.000Z", isAlive: (p: number) => alive.has(p) });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rt-lock-"));
  file = join(dir, ".install.lock");
  alive.clear();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("acquireInstallLock", () => {
  it("writes {pid, token, startedAt} and removes it on release, leaving no temp file", async () => {
    const lock = await acquireInstallLock(file, opts(100));
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ pid: 100, token: lock.token, startedAt: "2026-11-21T10:00:00.000Z" });
    expect(await readdir(dir)).toEqual([".install.lock"]);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses while the owning pid runs", async () => {
    alive.add(100);
    const held = await acquireInstallLock(file, opts(100));
    await expect(acquireInstallLock(file, opts(200))).rejects.toMatchObject({ code: "ERR_INSTALL_LOCKED" });
    expect(await readdir(dir)).toEqual([".install.lock"]);
    await held.release();
    const next = await acquireInstallLock(file, opts(200));
    await next.release();
  });

  it.each([
    ["a dead pid", JSON.stringify({ pid: 100, token: "dead", startedAt: "x" })],
    ["garbage", "\u0000\u0000"],
    ["an empty file", ""],
  ])("breaks a stale lock holding %s", async (_, content) => {
    await writeFile(file, content);
    const lock = await acquireInstallLock(file, opts(200));
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ pid: 200 });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("release does not remove a lock someone else has taken since", async () => {
    const lock = await acquireInstallLock(file, opts(100));
    await writeFile(file, JSON.stringify({ pid: 300, token: "theirs", startedAt: "x" }));
    await lock.release();
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ token: "theirs" });
  });

  it("of many concurrent takers exactly one wins", async () => {
    alive.add(1).add(2).add(3).add(4).add(5);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((pid) => acquireInstallLock(file, opts(pid))));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(Array(4).fill("ERR_INSTALL_LOCKED"));
  });
});
