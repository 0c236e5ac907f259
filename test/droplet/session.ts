/**
 * One droplet: the cached Debian rootfs unpacked into a scratch directory, the guest fixtures
 * written into it (fixtures.ts), and the container booted (container.ts). Shared by the droplet
 * test and the hardening audit.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBuilt, ROOT } from "../build/ensure-built.ts";
import { bootContainer, type Container } from "./container.ts";
import { GUEST, prepareGuest, type PreparedGuest } from "./fixtures.ts";
import { controlPlaneAdmin, until } from "./guest.ts";
import { ensureRootfs, unpackRootfs } from "./rootfs.ts";

/** Where the rootfs tarball and the last run's timings are cached. */
export const DROPLET_CACHE = join(ROOT, ".cache", "droplet");

/** A running droplet. `c` is replaced by {@link Droplet.boot} after a reboot. */
export type Droplet = {
  c: Container;
  guest: PreparedGuest;
  /** Scratch directory: `root/`, `release/`, `tls/`, `console.log`. */
  work: string;
  /** Epoch ms of the latest boot. */
  bootedAt: number;
  /** Boot the same root filesystem again (after the container went down). */
  boot(): Promise<void>;
  /** Hand the runtime its provider (the guest's mock model) through the control plane's secrets. */
  giveSecrets(): Promise<void>;
  /** Power the guest off (SIGKILL after 30 s) and remove the scratch directory. */
  close(): Promise<void>;
};

/**
 * Build the binary and the rootfs when needed, prepare a fresh guest and boot it.
 * @param runtimeDir the end-to-end runtime cache (`inject("e2eRuntimeDir")`)
 */
export async function startDroplet(runtimeDir: string): Promise<Droplet> {
  ensureBuilt();
  const tar = await ensureRootfs(DROPLET_CACHE);
  removeStaleWorkDirs();
  const work = mkdtempSync("/tmp/as-droplet-");
  const root = join(work, "root");
  let guest: PreparedGuest;
  try {
    unpackRootfs(tar, root);
    guest = prepareGuest(root, work, runtimeDir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  const d: Droplet = {
    c: undefined as unknown as Container,
    guest,
    work,
    bootedAt: 0,
    async boot() {
      d.bootedAt = Date.now();
      d.c = await bootContainer({ root, name: `droplet-${process.pid}`, binds: guest.binds, consoleLog: join(work, "console.log") });
    },
    async giveSecrets() {
      await until("the control plane to take the runtime's secrets", async () => {
        await controlPlaneAdmin(d.c, guest.tokens.admin, "PUT", `/admin/runtimes/${GUEST.runtimeId}/secrets`, {
          providers: { compat: { baseUrl: `${GUEST.modelUrl}/v1`, apiKey: "sk-droplet-provider-key", model: "echo-1" } },
        });
        return true;
      }, 120_000);
    },
    async close() {
      live.delete(d);
      if (d.c) {
        await d.c.exec(["systemctl", "poweroff"], { timeoutMs: 10_000 });
        await Promise.race([d.c.exited, new Promise((r) => setTimeout(r, 30_000))]);
        d.c.kill();
        await d.c.exited;
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
  live.add(d);
  try {
    await d.boot();
  } catch (err) {
    await d.close();
    throw err;
  }
  return d;
}

const live = new Set<Droplet>();

/**
 * Close every droplet of this process that is still open, including one whose start is still
 * under way (a hook that timed out leaves no handle to it).
 */
export async function closeAllDroplets(): Promise<void> {
  await Promise.all([...live].map((d) => d.close()));
}

/** Remove /tmp/as-droplet-* left by runs that died, i.e. that no running systemd-nspawn uses. */
function removeStaleWorkDirs(): void {
  const inUse = new Set<string>();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const m = /\/tmp\/as-droplet-[^/\0]+/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
      if (m) inUse.add(m[0]);
    } catch {
      // gone meanwhile
    }
  }
  for (const name of readdirSync("/tmp").filter((n) => n.startsWith("as-droplet-"))) {
    if (!inUse.has(`/tmp/${name}`)) rmSync(`/tmp/${name}`, { recursive: true, force: true });
  }
}
