/** sweepStaleGatewayTmp over a real temp directory standing in for /tmp, plus its pure decisions. */
import {
  chownSync,
  existsSync,
  lutimesSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  decideStaleEntry,
  isStale,
  isStateLocksName,
  sweepStaleGatewayTmp,
  type EntryFacts,
} from "../../src/watchdogs/tmp-sweep.ts";

const uid = process.getuid!();
const HOUR = 3_600_000;
const NOW = Date.now();
const OLD = NOW - 2 * HOUR;
const STALE_MS = HOUR;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Write a file (creating its parents) and set its mtime to `mtimeMs`. */
function file(path: string, content: string | Buffer, mtimeMs: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
}
/** Set a directory's (or, with lutimes, a link's own) mtime; call after its contents are written. */
const age = (path: string, mtimeMs: number) => utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
const ageLink = (path: string, mtimeMs: number) => lutimesSync(path, mtimeMs / 1000, mtimeMs / 1000);

const BIG = 3 * 1024 * 1024;

/** A fake /tmp with a running gateway's scratch files, old and fresh. */
function fakeTmp() {
  const tmp = tempDir("as-stale-tmp-");
  const outside = tempDir("as-stale-outside-");
  file(join(outside, "precious-old.txt"), "keep me", OLD);
  age(outside, OLD);

  // openclaw/: an old big transcript and a fresh one side by side.
  file(join(tmp, "openclaw", "sessions", "old.jsonl"), Buffer.alloc(BIG, 120), OLD);
  file(join(tmp, "openclaw", "sessions", "fresh.jsonl"), "{}", NOW);
  age(join(tmp, "openclaw", "sessions"), OLD);
  // openclaw-1000/: a nested tree that is entirely stale, and a fresh empty directory.
  file(join(tmp, "openclaw-1000", "a", "b", "c", "deep.txt"), "12345", OLD);
  file(join(tmp, "openclaw-1000", "a", "side.txt"), "123", OLD);
  for (const d of ["a/b/c", "a/b", "a"]) age(join(tmp, "openclaw-1000", d), OLD);
  mkdirSync(join(tmp, "openclaw-1000", "just-made"));
  age(join(tmp, "openclaw-1000"), OLD);
  // Links inside a swept directory: an old one and a fresh one, both to a directory outside.
  mkdirSync(join(tmp, "openclaw-inner"));
  symlinkSync(outside, join(tmp, "openclaw-inner", "old-link"));
  ageLink(join(tmp, "openclaw-inner", "old-link"), OLD);
  symlinkSync(outside, join(tmp, "openclaw-inner", "fresh-link"));
  // A top-level link to the outside directory: never followed, never removed.
  symlinkSync(outside, join(tmp, "openclaw-link"));
  ageLink(join(tmp, "openclaw-link"), OLD);
  // The running gateway's locks, old as they may be.
  file(join(tmp, `openclaw-state-locks-${uid}`, "lifecycle.abcd1234.lock"), "pid", OLD);
  age(join(tmp, `openclaw-state-locks-${uid}`), OLD);
  // A top-level file: the top-level entries themselves are never removed by this sweep.
  file(join(tmp, "openclaw-lock"), "123", OLD);
  // Not ours by name.
  file(join(tmp, "unrelated-old.txt"), "n", OLD);
  mkdirSync(join(tmp, "openclawx"));
  file(join(tmp, "openclawx", "old.txt"), "n", OLD);
  return { tmp, outside };
}

describe("isStale", () => {
  it.each([
    [NOW - 2 * HOUR, true],
    [NOW - HOUR - 1, true],
    [NOW - HOUR, false],
    [NOW - 1, false],
    [NOW, false],
    [NOW + HOUR * 5, false],
  ])("mtime %d → %s", (mtimeMs, expected) => {
    expect(isStale(mtimeMs, NOW, HOUR)).toBe(expected);
  });
});

describe("isStateLocksName", () => {
  it.each([
    ["openclaw-state-locks", true],
    ["openclaw-state-locks-1000", true],
    ["openclaw-state", false],
    ["openclaw", false],
    ["x-openclaw-state-locks", false],
  ])("%j → %s", (name, expected) => expect(isStateLocksName(name)).toBe(expected));
});

describe("decideStaleEntry", () => {
  const ctx = { ownUid: 1000, nowMs: NOW, staleMs: HOUR };
  const e = (over: Partial<EntryFacts>): EntryFacts => ({ name: "x", uid: 1000, kind: "file", mtimeMs: OLD, ...over });
  it.each<[string, Partial<EntryFacts>, ReturnType<typeof decideStaleEntry>]>([
    ["stale file", {}, { kind: "unlink" }],
    ["fresh file", { mtimeMs: NOW }, { kind: "keep" }],
    ["stale symlink (the link, not its target)", { kind: "symlink" }, { kind: "unlink" }],
    ["fresh symlink", { kind: "symlink", mtimeMs: NOW }, { kind: "keep" }],
    ["directory", { kind: "dir" }, { kind: "descend" }],
    ["socket or fifo", { kind: "other" }, { kind: "keep" }],
    ["another user's file", { uid: 0 }, { kind: "skip", reason: "owned by uid 0" }],
    ["lock directory", { name: "openclaw-state-locks-1000", kind: "dir" }, { kind: "skip", reason: "gateway state locks" }],
    ["a capture lease, however old", { name: "owner.sqlite" }, { kind: "keep" }],
    ["a capture lease's WAL", { name: "owner.sqlite-wal" }, { kind: "keep" }],
    ["a file merely named like one", { name: "owner.sqlite.bak" }, { kind: "unlink" }],
  ])("%s", (_label, over, expected) => {
    expect(decideStaleEntry(e(over), ctx)).toEqual(expected);
  });
});

describe("sweepStaleGatewayTmp", () => {
  it("removes stale files and emptied stale directories, keeps fresh ones, the top level, locks and link targets", async () => {
    const { tmp, outside } = fakeTmp();
    const res = await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW, staleMs: STALE_MS });

    // old.jsonl, deep.txt, side.txt, old-link
    expect(res.removedFiles).toBe(4);
    // A symlink's lstat size is the length of its target path.
    expect(res.removedBytes).toBe(BIG + 5 + 3 + outside.length);
    expect(res.removedDirs).toBe(3); // a/b/c, a/b, a
    expect(res.truncated).toBe(false);
    expect(res.skipped).toEqual([{ path: join(tmp, `openclaw-state-locks-${uid}`), reason: "gateway state locks" }]);

    expect(existsSync(join(tmp, "openclaw", "sessions", "old.jsonl"))).toBe(false);
    expect(existsSync(join(tmp, "openclaw", "sessions", "fresh.jsonl"))).toBe(true);
    expect(readdirSync(join(tmp, "openclaw-1000"))).toEqual(["just-made"]);
    expect(readdirSync(join(tmp, "openclaw-inner"))).toEqual(["fresh-link"]);
    // Top-level entries all survive, whatever their age.
    for (const name of ["openclaw", "openclaw-1000", "openclaw-inner", "openclaw-link", "openclaw-lock"]) {
      expect(() => lstatSync(join(tmp, name))).not.toThrow();
    }
    // Nothing outside and nothing under the locks was touched.
    expect(readdirSync(outside)).toEqual(["precious-old.txt"]);
    expect(existsSync(join(tmp, `openclaw-state-locks-${uid}`, "lifecycle.abcd1234.lock"))).toBe(true);
    expect(existsSync(join(tmp, "unrelated-old.txt"))).toBe(true);
    expect(existsSync(join(tmp, "openclawx", "old.txt"))).toBe(true);
  });

  it("counts every lstat'ed entry and finds nothing left on a second sweep", async () => {
    const { tmp } = fakeTmp();
    const first = await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW, staleMs: STALE_MS });
    // top level: openclaw, openclaw-1000, openclaw-inner, openclaw-link, openclaw-lock (locks are not scanned)
    // below: sessions, old.jsonl, fresh.jsonl, a, side.txt, b, c, deep.txt, just-made, old-link, fresh-link
    expect(first.scannedEntries).toBe(5 + 11);
    // left below: sessions, fresh.jsonl, just-made, fresh-link
    const second = await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW, staleMs: STALE_MS });
    expect(second).toMatchObject({ removedFiles: 0, removedBytes: 0, removedDirs: 0, scannedEntries: 5 + 4 });
  });

  it("removes fresh files too once they age past staleMs", async () => {
    const { tmp } = fakeTmp();
    await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW, staleMs: STALE_MS });
    const later = await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW + 3 * HOUR, staleMs: STALE_MS });
    // fresh.jsonl and fresh-link; then sessions/ and just-made/ are empty and (at NOW + 3h) stale.
    expect(later).toMatchObject({ removedFiles: 2, removedDirs: 2 });
    expect(existsSync(join(tmp, "openclaw", "sessions", "fresh.jsonl"))).toBe(false);
    expect(existsSync(join(tmp, "openclaw-1000", "just-made"))).toBe(false);
    expect(existsSync(join(tmp, `openclaw-state-locks-${uid}`, "lifecycle.abcd1234.lock"))).toBe(true);
  });

  it("skips another user's top-level entries without looking inside", async () => {
    const { tmp } = fakeTmp();
    const res = await sweepStaleGatewayTmp(tmp, uid + 1, { nowMs: NOW, staleMs: STALE_MS });
    expect(res).toMatchObject({ removedFiles: 0, removedBytes: 0, removedDirs: 0, scannedEntries: 5, truncated: false });
    expect(res.skipped).toContainEqual({ path: join(tmp, "openclaw"), reason: `owned by uid ${uid}` });
    expect(res.skipped).toHaveLength(6); // 5 entries + the locks
    expect(existsSync(join(tmp, "openclaw", "sessions", "old.jsonl"))).toBe(true);
  });

  it.runIf(uid === 0)("skips another user's file inside our own directory (needs root to chown)", async () => {
    const tmp = tempDir("as-stale-tmp-");
    file(join(tmp, "openclaw", "theirs.txt"), "x", OLD);
    file(join(tmp, "openclaw", "ours.txt"), "x", OLD);
    chownSync(join(tmp, "openclaw", "theirs.txt"), 4242, 4242);
    const res = await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW, staleMs: STALE_MS });
    expect(res.removedFiles).toBe(1);
    expect(res.skipped).toEqual([{ path: join(tmp, "openclaw", "theirs.txt"), reason: "owned by uid 4242" }]);
    expect(existsSync(join(tmp, "openclaw", "theirs.txt"))).toBe(true);
  });

  it("never touches a lock directory nested below a swept entry", async () => {
    const tmp = tempDir("as-stale-tmp-");
    file(join(tmp, "openclaw", "openclaw-state-locks", "x.lock"), "pid", OLD);
    age(join(tmp, "openclaw", "openclaw-state-locks"), OLD);
    const res = await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW, staleMs: STALE_MS });
    expect(res.removedFiles).toBe(0);
    expect(existsSync(join(tmp, "openclaw", "openclaw-state-locks", "x.lock"))).toBe(true);
  });

  it("stops at the entry budget, reports truncation, and the next sweep carries on", async () => {
    const tmp = tempDir("as-stale-tmp-");
    for (let i = 0; i < 30; i++) file(join(tmp, "openclaw", `f${i}.tmp`), "abcd", OLD);
    const opts = { nowMs: NOW, staleMs: STALE_MS, budget: 10 };
    const first = await sweepStaleGatewayTmp(tmp, uid, opts);
    expect(first).toMatchObject({ scannedEntries: 10, removedFiles: 9, removedBytes: 36, truncated: true });
    let total = first.removedFiles;
    for (let i = 0; i < 5 && total < 30; i++) total += (await sweepStaleGatewayTmp(tmp, uid, opts)).removedFiles;
    expect(total).toBe(30);
    expect(readdirSync(join(tmp, "openclaw"))).toEqual([]);
    expect(existsSync(join(tmp, "openclaw"))).toBe(true);
  });

  it("reports an unreadable tmp directory as a skip and does not throw", async () => {
    const missing = join(tempDir("as-stale-tmp-"), "missing");
    const res = await sweepStaleGatewayTmp(missing, uid, { nowMs: NOW, staleMs: STALE_MS });
    expect(res).toMatchObject({ removedFiles: 0, scannedEntries: 0, skipped: [{ path: missing, reason: "ENOENT" }] });
  });
});

describe("sweepStaleGatewayTmp: leaked capture directories", () => {
  it("in TMP_DIR, a stale openclaw-plugin-build-* directory goes whole once emptied; the temp roots and a live capture lease stay", async () => {
    const tmp = tempDir("as-stale-tmp-");
    file(join(tmp, "openclaw-plugin-build-x1", "node_modules", "p", "index.js"), "a".repeat(700), OLD);
    for (const d of ["node_modules/p", "node_modules", ""]) age(join(tmp, "openclaw-plugin-build-x1", d), OLD);
    file(join(tmp, "openclaw-model-catalog-y2", "fresh.json"), "{}", NOW);
    age(join(tmp, "openclaw-model-catalog-y2"), OLD);
    file(join(tmp, "openclaw-plugin-captures-z3", "owner.sqlite"), "", OLD);
    file(join(tmp, "openclaw-plugin-captures-z3", "captures", "openclaw-plugin-build-q", "old.js"), "b", OLD);
    file(join(tmp, "openclaw", "old.txt"), "c", OLD);
    age(join(tmp, "openclaw"), OLD);
    const res = await sweepStaleGatewayTmp(tmp, uid, { nowMs: NOW, staleMs: STALE_MS });
    expect(res).toMatchObject({ removedFiles: 3, removedBytes: 702, truncated: false });
    expect(existsSync(join(tmp, "openclaw-plugin-build-x1"))).toBe(false);
    // A leaked directory with a fresh file keeps it (and itself).
    expect(readdirSync(join(tmp, "openclaw-model-catalog-y2"))).toEqual(["fresh.json"]);
    // A capture root of the running gateway keeps its lease; its stale capture files go.
    expect(existsSync(join(tmp, "openclaw-plugin-captures-z3", "owner.sqlite"))).toBe(true);
    expect(existsSync(join(tmp, "openclaw-plugin-captures-z3", "captures", "openclaw-plugin-build-q", "old.js"))).toBe(false);
    // The gateway's temp root is emptied, never removed while it runs.
    expect(readdirSync(join(tmp, "openclaw"))).toEqual([]);
  });

  it("in the state tmp/, only the leaked capture directories are swept; the gateway lock directory, old as it is, is never entered", async () => {
    const stateTmp = join(tempDir("as-state-"), "tmp");
    const outside = tempDir("as-stale-outside-");
    file(join(outside, "old.txt"), "keep", OLD);
    file(join(stateTmp, `openclaw-${uid}`, "gateway.state.lock"), "{}", OLD);
    file(join(stateTmp, `openclaw-${uid}`, "gateway.28731f71.lock.sqlite"), "", OLD);
    age(join(stateTmp, `openclaw-${uid}`), OLD);
    file(join(stateTmp, "agent-cli", "openclaw"), "#!/bin/sh", OLD);
    file(join(stateTmp, "plugin-captures", "0b8f", "captures", "x.js"), "x", OLD);
    file(join(stateTmp, "openclaw-plugin-build-a1", "dist", "index.js"), "z".repeat(1000), OLD);
    age(join(stateTmp, "openclaw-plugin-build-a1", "dist"), OLD);
    age(join(stateTmp, "openclaw-plugin-build-a1"), OLD);
    file(join(stateTmp, "openclaw-model-catalog-b2", "models.json"), "[]", OLD);
    // Emptied, but its own mtime is fresh: kept for now (a directory just made survives).
    symlinkSync(outside, join(stateTmp, "openclaw-plugin-build-link"));
    ageLink(join(stateTmp, "openclaw-plugin-build-link"), OLD);
    const res = await sweepStaleGatewayTmp(stateTmp, uid, { nowMs: NOW, staleMs: STALE_MS, kind: "state-tmp" });
    expect(res).toMatchObject({ removedFiles: 2, removedBytes: 1002, removedDirs: 2 });
    expect(res.skipped).toEqual([{ path: join(stateTmp, `openclaw-${uid}`), reason: "gateway state locks" }]);
    expect(existsSync(join(stateTmp, "openclaw-plugin-build-a1"))).toBe(false);
    expect(readdirSync(join(stateTmp, "openclaw-model-catalog-b2"))).toEqual([]);
    expect(readdirSync(join(stateTmp, `openclaw-${uid}`)).sort()).toEqual(["gateway.28731f71.lock.sqlite", "gateway.state.lock"]);
    expect(existsSync(join(stateTmp, "agent-cli", "openclaw"))).toBe(true);
    expect(existsSync(join(stateTmp, "plugin-captures", "0b8f", "captures", "x.js"))).toBe(true);
    expect(lstatSync(join(stateTmp, "openclaw-plugin-build-link")).isSymbolicLink()).toBe(true);
    expect(readdirSync(outside)).toEqual(["old.txt"]);
    // Once the emptied directory has aged too, it goes.
    const later = await sweepStaleGatewayTmp(stateTmp, uid, { nowMs: NOW + 2 * HOUR, staleMs: STALE_MS, kind: "state-tmp" });
    expect(later).toMatchObject({ removedFiles: 0, removedDirs: 1 });
    expect(existsSync(join(stateTmp, "openclaw-model-catalog-b2"))).toBe(false);
  });

  it("a state tmp/ that does not exist yet is nothing to do", async () => {
    const res = await sweepStaleGatewayTmp(join(tempDir("as-state-"), "tmp"), uid, { nowMs: NOW, staleMs: STALE_MS, kind: "state-tmp" });
    expect(res).toMatchObject({ removedFiles: 0, scannedEntries: 0, skipped: [] });
  });

  it.runIf(uid === 0)("as root, another user's leaked capture directory in the state tmp/ is skipped whole (needs root to chown)", async () => {
    const stateTmp = join(tempDir("as-state-"), "tmp");
    file(join(stateTmp, "openclaw-plugin-build-f1", "old.js"), "x", OLD);
    age(join(stateTmp, "openclaw-plugin-build-f1"), OLD);
    chownSync(join(stateTmp, "openclaw-plugin-build-f1"), 4242, 4242);
    const res = await sweepStaleGatewayTmp(stateTmp, uid, { nowMs: NOW, staleMs: STALE_MS, kind: "state-tmp" });
    expect(res.skipped).toEqual([{ path: join(stateTmp, "openclaw-plugin-build-f1"), reason: "owned by uid 4242" }]);
    expect(existsSync(join(stateTmp, "openclaw-plugin-build-f1", "old.js"))).toBe(true);
  });
});
