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
