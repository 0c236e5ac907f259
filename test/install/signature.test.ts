/**
 * Authenticity, optional: with a pinned release key (AGENT_SUPERVISOR_SIGNING_KEY, --signing-key,
 * or the host's /etc/agent-supervisor/release-signing-key.pub), install.sh verifies SHA256SUMS.sig
 * with `ssh-keygen -Y verify` before it trusts SHA256SUMS. The signatures come from the release's
 * own signer, scripts/sign-release.sh (`ssh-keygen -Y sign`), with throwaway ed25519 keys. Real
 * ssh-keygen, real sh, the real release server on 127.0.0.1.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSET, ROOT, Release, Scratch, fakeBinary, sha256 } from "./release.ts";

const SIGN = join(ROOT, "scripts", "sign-release.sh");
const HAS_SSH_KEYGEN = spawnSync("sh", ["-c", "command -v ssh-keygen"]).status === 0;

const scratch = new Scratch();
const release = new Release(scratch);

/** A throwaway ed25519 key pair: the private key's file and the public key's line. */
function makeKey(comment: string): { file: string; pub: string } {
  const file = join(scratch.dir({ prefix: "as-key-" }), "release-key");
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return { file, pub: readFileSync(`${file}.pub`, "utf8").trim() };
}

/** Sign the served SHA256SUMS as a release build does. */
function sign(keyFile: string): void {
  const r = spawnSync("sh", [SIGN, keyFile, join(release.dir, "SHA256SUMS")], { encoding: "utf8" });
  expect(r.status, r.stderr + r.stdout).toBe(0);
}

const SIG = () => join(release.dir, "SHA256SUMS.sig");
const binOf = (root: string) => join(root, "usr/local/bin/agent-supervisor");
const install = (root: string, env: Record<string, string> = {}, args: string[] = []) =>
  release.install(["--root", root, "--base-url", release.baseUrl, "--skip-openclaw", ...args], env);

let key: { file: string; pub: string };
let other: { file: string; pub: string };

beforeAll(async () => {
  await release.start();
  if (HAS_SSH_KEYGEN) {
    key = makeKey("agent-supervisor release");
    other = makeKey("someone else");
  }
});
afterAll(async () => {
  await release.stop();
  scratch.removeAll();
});

describe.skipIf(!HAS_SSH_KEYGEN)("install.sh with a pinned release key", () => {
  it("a good signature installs; the key may come from the environment or --signing-key", async () => {
    const bin = release.publish("0.4.0-signed");
    sign(key.file);
    const root = scratch.dir();
    const r = await install(root, { AGENT_SUPERVISOR_SIGNING_KEY: key.pub });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("signature of SHA256SUMS ok");
    expect(readFileSync(binOf(root), "utf8")).toBe(bin);
    expect(readdirSync(join(root, "usr/local/bin"))).toEqual(["agent-supervisor"]);
    const r2 = await install(scratch.dir(), {}, ["--signing-key", key.pub]);
    expect(r2.status, r2.stderr + r2.stdout).toBe(0);
    expect(r2.stdout).toContain("signature of SHA256SUMS ok");
  });

  it.each([
    { name: "a missing signature", prepare: () => rmSync(SIG(), { force: true }), text: "SHA256SUMS.sig could not be downloaded" },
    { name: "a signature by another key", prepare: () => sign(other.file), text: "does not verify with the pinned key" },
  ])("$name refuses and installs nothing", async ({ prepare, text }) => {
    release.publish("0.4.0-signed");
    prepare();
    const root = scratch.dir();
    const r = await install(root, { AGENT_SUPERVISOR_SIGNING_KEY: key.pub });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(text);
    expect(readdirSync(root)).toEqual([]);
  });

  it("a binary and SHA256SUMS replaced after signing (a consistent checksum) refuse and install nothing", async () => {
    release.publish("0.4.0-signed");
    sign(key.file);
    const evil = fakeBinary("6.6.6-evil");
    writeFileSync(join(release.dir, ASSET), evil, { mode: 0o755 });
    writeFileSync(join(release.dir, "SHA256SUMS"), `${sha256(evil)}  ${ASSET}\n`);
    const root = scratch.dir();
    const r = await install(root, { AGENT_SUPERVISOR_SIGNING_KEY: key.pub });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("does not verify with the pinned key");
    expect(readdirSync(root)).toEqual([]);
    // Without a pinned key the checksum alone accepts it: it proves integrity, not authenticity.
    const unpinned = await install(scratch.dir());
    expect(unpinned.status, unpinned.stderr).toBe(0);
    expect(unpinned.stdout).toContain("6.6.6-evil");
  });

  it("the key pinned on the host (release-signing-key.pub, as cloud-init writes it) is used", async () => {
    release.publish("0.4.0-signed");
    sign(other.file);
    const root = scratch.dir();
    mkdirSync(join(root, "etc/agent-supervisor"), { recursive: true });
    writeFileSync(join(root, "etc/agent-supervisor/release-signing-key.pub"), `${key.pub}\n`);
    const bad = await install(root);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("does not verify with the pinned key");
    expect(existsSync(binOf(root))).toBe(false);
    sign(key.file);
    const good = await install(root);
    expect(good.status, good.stderr + good.stdout).toBe(0);
    expect(good.stdout).toContain("signature of SHA256SUMS ok");
  });

  it("a pinned key that is not one OpenSSH public key line refuses before downloading", async () => {
    release.publish("0.4.0-signed");
    sign(key.file);
    const privateKey = readFileSync(key.file, "utf8");
    for (const bad of ["ssh-ed25519", "not-a-type AAAAC3NzaC1lZDI1NTE5", `${key.pub}\n${other.pub}`, privateKey, "ssh-ed25519 AAAA$(reboot)"]) {
      const root = scratch.dir();
      const before = release.requests.length;
      const r = await install(root, { AGENT_SUPERVISOR_SIGNING_KEY: bad });
      expect(r.status, bad).not.toBe(0);
      expect(r.stderr).toContain("is not an OpenSSH public key line");
      expect(release.requests.slice(before)).toEqual(["/install.sh"]);
      expect(readdirSync(root)).toEqual([]);
    }
  });
});

describe("install.sh without a pinned key", () => {
  it("installs on the checksum alone, as before, whether or not the release is signed", async () => {
    release.publish("0.4.0-unsigned");
    rmSync(SIG(), { force: true });
    const root = scratch.dir();
    const r = await install(root);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("checksum ok");
    expect(r.stdout).not.toContain("signature");
    expect(existsSync(binOf(root))).toBe(true);
  });
});

describe("scripts/sign-release.sh", () => {
  it.skipIf(spawnSync("sh", ["-c", "command -v shellcheck"]).status !== 0)("is clean under shellcheck", () => {
    const r = spawnSync("shellcheck", ["--shell=sh", SIGN], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
