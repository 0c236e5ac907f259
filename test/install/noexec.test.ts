/**
 * A host whose /tmp is mounted noexec (a common hardening) can still install: install.sh runs the
 * downloaded binary (`--version`) before installing it, so it may not stage it in $TMPDIR. The
 * test mounts a real tmpfs with `noexec` and points TMPDIR at it; that needs root (mount(2)), so
 * without root, or where mounting is refused (an unprivileged container), it is skipped and says so.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Release, Scratch } from "./release.ts";

const scratch = new Scratch();
const release = new Release(scratch);

/** A noexec tmpfs, or why there is none. */
function mountNoexec(): { dir: string } | { why: string } {
  if (process.getuid?.() !== 0) return { why: "not root: cannot mount a noexec tmpfs" };
  const dir = mkdtempSync(join(tmpdir(), "as-noexec-tmp-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "noexec,nosuid,nodev,size=16m,mode=1777", "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    rmdirSync(dir);
    return { why: `mount -t tmpfs -o noexec refused: ${(r.stderr || r.error?.message || "").trim()}` };
  }
  return { dir };
}
const noexec = mountNoexec();
const TMP = "dir" in noexec ? noexec.dir : "";

beforeAll(async () => {
  await release.start();
});
afterAll(async () => {
  await release.stop();
  scratch.removeAll();
  if (TMP) {
    spawnSync("umount", [TMP]);
    rmdirSync(TMP);
  }
});

describe("install.sh with TMPDIR on a noexec mount", () => {
  if ("why" in noexec) it.skip(`skipped: ${noexec.why}`, () => {});

  it.skipIf(!TMP)("the mount really forbids running a program from it", () => {
    const probe = join(TMP, "probe");
    writeFileSync(probe, "#!/bin/sh\necho ran\n", { mode: 0o755 });
    const r = spawnSync(probe, [], { encoding: "utf8" });
    expect(r.error && (r.error as NodeJS.ErrnoException).code).toBe("EACCES");
  });

  it.skipIf(!TMP)("installs, runs the binary from a staging directory elsewhere and leaves nothing behind", async () => {
    const bin = release.publish("0.3.0-noexec");
    const root = scratch.dir();
    const r = await release.install(["--root", root, "--base-url", release.baseUrl, "--skip-openclaw"], { TMPDIR: TMP });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("0.3.0-noexec");
    const installed = join(root, "usr/local/bin/agent-supervisor");
    expect(readFileSync(installed, "utf8")).toBe(bin);
    // No staging directory left, next to the binary or in TMPDIR.
    expect(readdirSync(join(root, "usr/local/bin"))).toEqual(["agent-supervisor"]);
    expect(readdirSync(TMP).filter((f) => f !== "probe")).toEqual([]);
  });

  it.skipIf(!TMP)("a refused download leaves neither the staging directory nor the directories made for it", async () => {
    release.publish("0.3.0-noexec", { corrupt: true });
    const root = scratch.dir();
    const r = await release.install(["--root", root, "--base-url", release.baseUrl, "--skip-openclaw"], { TMPDIR: TMP });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("checksum mismatch");
    expect(readdirSync(root)).toEqual([]);
    expect(existsSync(join(root, "usr"))).toBe(false);
  });
});
