/** sweepGatewayTmp over a real temp directory standing in for /tmp. */
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isGatewayTmpName, sweepGatewayTmp } from "../../src/watchdogs/tmp-sweep.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";

afterEach(removeTempDirs);

const uid = process.getuid!();

/** A fake /tmp with gateway leftovers, unrelated entries and a symlink pointing outside. */
function fakeTmp() {
  const tmp = tempDir("as-tmp-");
  const outside = tempDir("as-outside-");
  writeFileSync(join(outside, "precious.txt"), "keep me");
  mkdirSync(join(tmp, "openclaw", "sessions"), { recursive: true });
  writeFileSync(join(tmp, "openclaw", "sessions", "big.jsonl"), "x".repeat(4096));
  mkdirSync(join(tmp, "openclaw-1000"));
  writeFileSync(join(tmp, "openclaw-1000", "shell-snapshot.sh"), "echo hi");
  writeFileSync(join(tmp, "openclaw-lock"), "123");
  // A link inside a swept directory must be removed without following it.
  mkdirSync(join(tmp, "openclaw-inner"));
  symlinkSync(outside, join(tmp, "openclaw-inner", "to-outside"));
  symlinkSync(outside, join(tmp, "openclaw-link"));
  mkdirSync(join(tmp, "openclawx"));
  writeFileSync(join(tmp, "openclaw.json"), "{}");
  mkdirSync(join(tmp, "systemd-private-abc"));
  writeFileSync(join(tmp, "notes.txt"), "n");
  return { tmp, outside };
}

describe("isGatewayTmpName", () => {
  it.each([
    ["openclaw", true],
    ["openclaw-", true],
    ["openclaw-1000", true],
    ["openclaw-link", true],
    ["openclawx", false],
    ["openclaw.json", false],
    ["xopenclaw", false],
    ["OpenClaw", false],
    ["", false],
  ])("%j → %s", (name, expected) => {
    expect(isGatewayTmpName(name)).toBe(expected);
  });
});

describe("sweepGatewayTmp", () => {
  it("removes openclaw and openclaw-* entries and keeps everything else", async () => {
    const { tmp } = fakeTmp();
    const res = await sweepGatewayTmp(tmp, uid);
    expect(res.skipped).toEqual([]);
    expect([...res.removed].sort()).toEqual(
      ["openclaw", "openclaw-1000", "openclaw-inner", "openclaw-link", "openclaw-lock"].map((n) => join(tmp, n)).sort(),
    );
    for (const gone of ["openclaw", "openclaw-1000", "openclaw-lock", "openclaw-inner", "openclaw-link"]) {
      expect(existsSync(join(tmp, gone)), gone).toBe(false);
    }
    for (const kept of ["openclawx", "openclaw.json", "systemd-private-abc", "notes.txt"]) {
      expect(existsSync(join(tmp, kept)), kept).toBe(true);
    }
  });

  it("unlinks a symlink without touching its target", async () => {
    const { tmp, outside } = fakeTmp();
    await sweepGatewayTmp(tmp, uid);
    expect(() => lstatSync(join(tmp, "openclaw-link"))).toThrow(/ENOENT/);
    expect(readFileSync(join(outside, "precious.txt"), "utf8")).toBe("keep me");
    expect(existsSync(outside)).toBe(true);
  });

  it("skips entries owned by another uid", async () => {
    const { tmp } = fakeTmp();
    const res = await sweepGatewayTmp(tmp, uid + 1);
    expect(res.removed).toEqual([]);
    expect(res.skipped).toHaveLength(5);
    for (const s of res.skipped) expect(s.reason).toBe(`owned by uid ${uid}`);
    expect(existsSync(join(tmp, "openclaw", "sessions", "big.jsonl"))).toBe(true);
    expect(existsSync(join(tmp, "openclaw-link"))).toBe(true);
  });

  it.runIf(uid === 0)("as root, leaves another user's openclaw-* alone and removes its own", async () => {
    const tmp = tempDir("as-tmp-");
    mkdirSync(join(tmp, "openclaw-other"));
    writeFileSync(join(tmp, "openclaw-other", "f"), "theirs");
    chownSync(join(tmp, "openclaw-other"), 54321, 54321);
    mkdirSync(join(tmp, "openclaw-mine"));
    const res = await sweepGatewayTmp(tmp, uid);
    expect(res.removed).toEqual([join(tmp, "openclaw-mine")]);
    expect(res.skipped).toEqual([{ path: join(tmp, "openclaw-other"), reason: "owned by uid 54321" }]);
    expect(readFileSync(join(tmp, "openclaw-other", "f"), "utf8")).toBe("theirs");
  });

  it("reports a missing directory as skipped instead of throwing", async () => {
    const missing = join(tempDir(), "no-such-tmp");
    const res = await sweepGatewayTmp(missing, uid);
    expect(res).toEqual({ removed: [], skipped: [{ path: missing, reason: "ENOENT" }] });
  });

  it("an empty directory yields nothing to do", async () => {
    expect(await sweepGatewayTmp(tempDir(), uid)).toEqual({ removed: [], skipped: [] });
  });
});
