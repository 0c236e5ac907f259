/**
 * The Debian 12 root filesystem the droplet test boots with `systemd-nspawn --boot`: built once by
 * `mmdebstrap` from Debian's packages and cached as a tarball under `.cache/droplet/`, keyed by a
 * hash of the recipe below (change the recipe and a new tarball is built). What a fresh cloud VM of
 * this kind has: systemd as PID 1, cloud-init with the NoCloud datasource, curl and CA
 * certificates. Recipe and container quirks: ../shared/SYSTEMD_TEST_FACTS.md.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Debian release and mirror (the only network the test set-up uses). */
const SUITE = "bookworm";
const MIRROR = "http://deb.debian.org/debian";

/** Packages beyond minbase: an init, cloud-init and what install.sh and cloud-init call. */
const PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "cloud-init", "curl", "ca-certificates", "locales",
  "python3", "iproute2", "procps", "util-linux",
  // Only for the hardening audit (hardening-audit.ts).
  "strace",
];

/**
 * Run inside mmdebstrap's customize phase (`$1` is the new root):
 * - a generated en_US.UTF-8 locale (cloud-init's locale module fails without it);
 * - NoCloud only: no metadata service to wait for (the seed goes in /var/lib/cloud/seed/nocloud);
 * - an empty fstab: a container has no disk to mount;
 * - no apt timers, which would start downloads that can only fail offline.
 */
const CUSTOMIZE = [
  `echo 'en_US.UTF-8 UTF-8' > "$1/etc/locale.gen"`,
  `chroot "$1" locale-gen`,
  `echo 'LANG=en_US.UTF-8' > "$1/etc/default/locale"`,
  `printf 'datasource_list: [NoCloud, None]\\n' > "$1/etc/cloud/cloud.cfg.d/90-droplet-test.cfg"`,
  `: > "$1/etc/fstab"`,
  `rm -f "$1/etc/systemd/system/timers.target.wants/apt-daily.timer" "$1/etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer"`,
];

/** Cache key of the recipe: 12 hex digits of its sha256. */
export function rootfsKey(): string {
  return createHash("sha256").update(JSON.stringify({ SUITE, MIRROR, PACKAGES, CUSTOMIZE })).digest("hex").slice(0, 12);
}

/**
 * The cached rootfs tarball, built first when missing (about 100 s and 300 MB; needs root,
 * `mmdebstrap` and Debian's mirror). Older tarballs of other recipes are removed.
 * @param cacheDir e.g. `<repo>/.cache/droplet`
 * @returns the tarball's path
 * @throws Error with mmdebstrap's output when the build fails
 */
export async function ensureRootfs(cacheDir: string): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  const tar = join(cacheDir, `rootfs-${SUITE}-${rootfsKey()}.tar`);
  if (existsSync(tar)) return tar;
  for (const f of readdirSync(cacheDir)) {
    const owner = /\.partial-(\d+)\.tar$/.exec(f)?.[1];
    if (/^rootfs-.*\.tar$/.test(f) && (owner === undefined || !existsSync(`/proc/${owner}`))) rmSync(join(cacheDir, f), { force: true });
  }
  // Per process: two runs building at once each write their own, and the rename is atomic.
  const partial = tar.replace(/\.tar$/, `.partial-${process.pid}.tar`);
  const args = [
    "--variant=minbase",
    "--format=tar",
    `--include=${PACKAGES.join(",")}`,
    ...CUSTOMIZE.map((c) => `--customize-hook=${c}`),
    SUITE,
    partial,
    MIRROR,
  ];
  // Asynchronous, so that the caller's hook timeout can still fire while it runs.
  const r = await new Promise<{ code: number | null; stderr: string; error?: Error }>((resolve) => {
    const p = spawn("mmdebstrap", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 15 * 60_000, killSignal: "SIGKILL" });
    let stderr = "";
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-8000)));
    p.once("error", (error) => resolve({ code: null, stderr, error }));
    p.once("close", (code) => resolve({ code, stderr }));
  });
  if (r.code !== 0) {
    rmSync(partial, { force: true });
    throw new Error(`mmdebstrap failed (exit ${r.code}${r.error ? `, ${r.error.message}` : ""}):\n${r.stderr.slice(-4000)}`);
  }
  renameSync(partial, tar);
  return tar;
}

/**
 * Unpack the tarball into `dir` (which must be empty or absent), preserving owners and modes.
 * @throws Error when tar fails
 */
export function unpackRootfs(tar: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("tar", ["--numeric-owner", "-xpf", tar, "-C", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tar -xf ${tar} failed: ${r.stderr}`);
}
