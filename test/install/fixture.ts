/**
 * What the install tests share: the release served on 127.0.0.1 with its scratch roots (release.ts),
 * the paths install.sh writes under a root, and readers of a scratch root's users and groups.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { ROOT, Release, Scratch } from "./release.ts";

export const UNIT = join(ROOT, "systemd", "agent-supervisor.service");
export const USER_DATA = join(ROOT, "cloud-init", "user-data.yaml");
export const IS_ROOT = process.getuid?.() === 0;

/** A release served for the calling test file (started before its tests, stopped after), and its scratch roots. */
export function installFixture() {
  const scratch = new Scratch();
  const release = new Release(scratch);
  const fx = {
    baseUrl: "",
    publish: release.publish.bind(release),
    install: release.install.bind(release),
    newScratch: (opts: { passwd?: boolean } = {}) => scratch.dir(opts),
  };
  beforeAll(async () => {
    await release.start();
    fx.baseUrl = release.baseUrl;
  });
  afterAll(async () => {
    await release.stop();
    scratch.removeAll();
  });
  return fx;
}

export const mode = (p: string) => statSync(p).mode & 0o777;
export const paths = (root: string) => ({
  bin: join(root, "usr/local/bin/agent-supervisor"),
  unit: join(root, "etc/systemd/system/agent-supervisor.service"),
  env: join(root, "etc/agent-supervisor/agent-supervisor.env"),
  configDir: join(root, "etc/agent-supervisor"),
  dataDir: join(root, "var/lib/agent-supervisor"),
  token: join(root, "etc/agent-supervisor/control-plane-token"),
  dropIn: join(root, "etc/systemd/system/agent-supervisor.service.d/10-control-plane-token.conf"),
});

/** The drop-in that delivers the token file as the systemd credential the daemon reads (src/config/load.ts). */
export const TOKEN_DROP_IN = /^\[Service\]\nLoadCredential=control-plane-token:\/etc\/agent-supervisor\/control-plane-token$/m;

/** uid and gid of `user` (default agent-supervisor) in the scratch root's /etc/passwd. */
export function serviceIds(root: string, user = "agent-supervisor"): { uid: number; gid: number } {
  const line = readFileSync(join(root, "etc/passwd"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${user}:`));
  expect(line, `${user} in the scratch /etc/passwd`).toBeDefined();
  const f = line!.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The members of `group` in the scratch root's /etc/group (undefined if there is no such group). */
export function groupMembers(root: string, group: string): string[] | undefined {
  const line = readFileSync(join(root, "etc/group"), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${group}:`));
  return line === undefined ? undefined : line.split(":")[3]!.split(",").filter((m) => m !== "");
}

export const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
