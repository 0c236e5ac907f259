/**
 * Snapshots of the gateway's state directory (runtime/state-snapshot.ts) and the runtime switch
 * and cleanup (runtime/upgrade-switch.ts), on real files: a real SQLite database in WAL mode
 * whose latest rows are only in its -wal file, openclaw.json, a transcript, modes and symlinks.
 */
import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runtimeLayout, readCurrent } from "../../src/runtime/layout.ts";
import { listSnapshots, pruneSnapshots, removeSnapshot, restoreSnapshot, sweepIncompleteSnapshots, takeSnapshot } from "../../src/runtime/state-snapshot.ts";
import { pruneRuntimes, switchCurrent } from "../../src/runtime/upgrade-switch.ts";
import { installedRuntime } from "./fixtures.ts";

let dir: string;
let stateDir: string;
let snapshotsDir: string;
let clock = 1_000;
const now = () => clock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "upgrade-snapshot-"));
  stateDir = join(dir, "gateway", "state");
  snapshotsDir = join(dir, "upgrade", "snapshots");
  await mkdir(join(stateDir, "agents", "main", "sessions"), { recursive: true });
  await mkdir(join(stateDir, "tmp", "openclaw-plugin-build-1"), { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), '{"meta":{"lastTouchedVersion":"2026.9.5"}}');
  await writeFile(join(stateDir, "agents", "main", "sessions", "s1.jsonl"), '{"role":"user","text":"hi"}\n', { mode: 0o600 });
  await writeFile(join(stateDir, "tmp", "openclaw-plugin-build-1", "junk"), "x".repeat(1000));
  await symlink("agents/main", join(stateDir, "main-link"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A WAL database whose rows are not checkpointed: left open (as a killed writer leaves it). */
function walDatabase(file: string, rows: string[]): Database.Database {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("wal_autocheckpoint = 0");
  db.exec("CREATE TABLE IF NOT EXISTS t (v TEXT)");
  const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
  for (const r of rows) ins.run(r);
  return db;
}

const rowsOf = (file: string): string[] => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT v FROM t ORDER BY rowid").all() as { v: string }[]).map((r) => r.v);
  } finally {
    db.close();
  }
};

describe("takeSnapshot / restoreSnapshot", () => {
  it("copies a WAL database whole: the copy holds the rows only the -wal file had", async () => {
    const dbFile = join(stateDir, "state.sqlite");
    const writer = walDatabase(dbFile, ["one", "two"]);
    try {
      expect((await stat(`${dbFile}-wal`)).size).toBeGreaterThan(0);
      const snap = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.5", now });
      expect(snap.dir).toBe(join(snapshotsDir, "2026.9.5-1000"));
      const names = await readdir(join(snap.dir, "state"));
      expect(names).toEqual(expect.arrayContaining(["state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "openclaw.json"]));
      expect(names).not.toContain("tmp"); // scratch is left out
      // the copy, opened on its own, replays its WAL
      await rm(join(snap.dir, "state", "state.sqlite-shm"));
      expect(rowsOf(join(snap.dir, "state", "state.sqlite"))).toEqual(["one", "two"]);
    } finally {
      writer.close();
    }
  });

  it("restores the state as it was: later writes, files and config written by a newer version are gone", async () => {
    const dbFile = join(stateDir, "state.sqlite");
    walDatabase(dbFile, ["before"]).close();
    const snap = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.5", now });
    // the new version migrates the state and rewrites the config
    walDatabase(dbFile, ["after-migration"]).close();
    await writeFile(join(stateDir, "openclaw.json"), '{"meta":{"lastTouchedVersion":"2026.9.6"}}');
    await writeFile(join(stateDir, "agents", "main", "sessions", "s2.jsonl"), "{}\n");

    const meta = await restoreSnapshot(snap.dir, stateDir);
    expect(meta.openclawVersion).toBe("2026.9.5");
    expect(rowsOf(dbFile)).toEqual(["before"]);
    expect(await readFile(join(stateDir, "openclaw.json"), "utf8")).toContain("2026.9.5");
    expect(await readdir(join(stateDir, "agents", "main", "sessions"))).toEqual(["s1.jsonl"]);
    expect((await stat(join(stateDir, "agents", "main", "sessions", "s1.jsonl"))).mode & 0o777).toBe(0o600);
    expect(await readlink(join(stateDir, "main-link"))).toBe("agents/main");
    // nothing left beside the state directory, and the snapshot itself is intact for another restore
    expect((await readdir(join(dir, "gateway"))).sort()).toEqual(["state"]);
    expect(rowsOf(join(snap.dir, "state", "state.sqlite"))).toEqual(["before"]);
  });

  it("a restore killed between its renames (state directory gone, a copy beside it) is finished by running it again", async () => {
    const snap = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.5", now });
    await rm(stateDir, { recursive: true });
    await mkdir(`${stateDir}.restore-abcdef012345`);
    await mkdir(`${stateDir}.old-abcdef012345`);
    await restoreSnapshot(snap.dir, stateDir);
    expect(await readFile(join(stateDir, "openclaw.json"), "utf8")).toContain("2026.9.5");
    expect((await readdir(join(dir, "gateway"))).sort()).toEqual(["state"]);
  });

  it("a snapshot that cannot be taken leaves nothing partial; a missing snapshot is refused and the state kept", async () => {
    await expect(takeSnapshot({ stateDir: join(dir, "nope"), snapshotsDir, openclawVersion: "2026.9.5", now })).rejects.toThrow(/ENOENT/);
    expect(await readdir(snapshotsDir)).toEqual([]);
    await expect(restoreSnapshot(join(snapshotsDir, "none"), stateDir)).rejects.toThrow(/not a complete snapshot/);
    expect(existsSync(join(stateDir, "openclaw.json"))).toBe(true);
  });

  it("lists complete snapshots newest first and prunes all but one (partials too)", async () => {
    const a = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.4", now });
    clock = 2_000;
    const b = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.5", now });
    await mkdir(join(snapshotsDir, ".partial-0123456789ab"));
    expect((await listSnapshots(snapshotsDir)).map((s) => s.dir)).toEqual([b.dir, a.dir]);
    expect(await pruneSnapshots(snapshotsDir, b.dir)).toHaveLength(2);
    expect(await readdir(snapshotsDir)).toEqual(["2026.9.5-2000"]);
    expect(await listSnapshots(join(dir, "absent"))).toEqual([]);
  });
});

describe("incomplete snapshots", () => {
  it("a snapshot whose removal was killed (meta.json left, state half gone) or with no meta.json is not listed, and the sweep removes it with partials", async () => {
    const good = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.4", now });
    clock = 5_000;
    const halfGone = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.5", now });
    await rm(join(halfGone.dir, "state"), { recursive: true }); // rm -r killed after state/, before meta.json
    await mkdir(join(snapshotsDir, "2026.9.6-9000", "state"), { recursive: true }); // copied, never marked complete
    await mkdir(join(snapshotsDir, ".partial-0123456789ab", "state"), { recursive: true });
    expect((await listSnapshots(snapshotsDir)).map((s) => s.dir)).toEqual([good.dir]);
    expect((await sweepIncompleteSnapshots(snapshotsDir)).sort()).toEqual([halfGone.dir, join(snapshotsDir, "2026.9.6-9000"), join(snapshotsDir, ".partial-0123456789ab")].sort());
    expect(await readdir(snapshotsDir)).toEqual([basename(good.dir)]);
  });

  it("removeSnapshot makes the snapshot unlisted before it deletes anything (a kill mid-delete leaves a partial, not a snapshot)", async () => {
    const snap = await takeSnapshot({ stateDir, snapshotsDir, openclawVersion: "2026.9.4", now });
    await removeSnapshot(snap.dir);
    expect(await readdir(snapshotsDir)).toEqual([]);
    await removeSnapshot(snap.dir); // already gone: no error
  });
});

describe("switchCurrent / pruneRuntimes", () => {
  const record = (v: string) => installedRuntime(dir, v);

  it("switches current.json and keeps only the current and previous runtimes", async () => {
    const l = runtimeLayout(dir);
    const r4 = await record("2026.9.4");
    await record("2026.9.5");
    const r6 = await record("2026.9.6");
    await mkdir(join(l.root, "openclaw-2026.9.7.partial-0123456789ab"));
    await switchCurrent(dir, r6);
    expect((await readCurrent(l.currentFile))?.openclawVersion).toBe("2026.9.6");
    expect(await pruneRuntimes(dir, ["2026.9.6", "2026.9.5"])).toEqual(["2026.9.4"]);
    expect((await readdir(l.root)).sort()).toEqual(["current.json", "node-24.21.0", "openclaw-2026.9.5", "openclaw-2026.9.6", "openclaw-2026.9.7.partial-0123456789ab"]);
    await expect(switchCurrent(dir, r4)).rejects.toThrow(/cannot switch to openclaw 2026\.9\.4/);
    expect((await readCurrent(l.currentFile))?.openclawVersion).toBe("2026.9.6");
  });
});
