/**
 * A disk that is nearly full, then full. When this process may mount (root), the data directory
 * lives on its own small tmpfs that is really filled: /health must warn, then fail, a full disk
 * must refuse new turns with 507 and lose none it accepted, and freeing space must bring the API
 * back. Otherwise the thresholds are set above the real free space and only /health is observed
 * (the disk itself is not filled).
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { getJson, until, type Site } from "../../test/e2e/harness.ts";
import { ms, post, rowsWithMessage, warnings, type SubmittedTurn } from "./observe.ts";
import { faultCase, withStandIn, type Outcome } from "./runner.ts";

const DISK_MB = 48;
const MiB = 1024 * 1024;

/** Mount a tmpfs of `sizeMb` MiB on `dir`; false when not permitted. */
function mountTmpfs(dir: string, sizeMb: number): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m,mode=0700`, "tmpfs", dir], { stdio: "ignore" }).status === 0;
}

function unmount(dir: string): void {
  if (spawnSync("umount", [dir], { stdio: "ignore" }).status !== 0) spawnSync("umount", ["-l", dir], { stdio: "ignore" });
}

const freeBytes = (dir: string) => {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
};

/** Append to `file` until only `leaveBytes` are free (0: until ENOSPC). */
function fill(file: string, dir: string, leaveBytes: number): void {
  const fd = openSync(file, "a");
  const chunk = Buffer.alloc(256 * 1024, 1);
  try {
    for (;;) {
      const room = freeBytes(dir) - leaveBytes;
      if (room <= 0) break;
      writeSync(fd, chunk, 0, Math.min(chunk.length, room));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}

/** Poll /health until disk:free has `status`; returns when (epoch ms). */
async function diskStatus(site: Site, status: string, timeoutMs: number): Promise<number> {
  await until(`disk:free ${status}`, async () => (await getJson(site, "/health")).body.checks["disk:free"][0].status === status, timeoutMs, 20);
  return Date.now();
}

export const diskFull = faultCase({
  id: "disk-full",
  fault: "Disk nearly full, then full",
  fast: true,
  realGateway: false,
  how:
    `As root: the data directory is a ${DISK_MB} MiB tmpfs, filled by a file until 5 MiB are free (warn below 8 MiB: DISK_WARN_FREE_MB=8), ` +
    `then 1 MiB (fail below 2 MiB: DISK_FAIL_FREE_MB=2), then completely; turns are posted at each stage, then the file is deleted. ` +
    `Detected at /health disk:free leaving pass. Without permission to mount: DISK_FAIL_FREE_MB is set 1 GiB above the real free space and only /health is observed.`,
  async measure(ctx) {
    const dataDir = join(ctx.workDir, "data");
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const mounted = mountTmpfs(dataDir, DISK_MB);
    try {
      return mounted ? await onTmpfs(ctx.workDir, ctx.runtimeDir, dataDir) : await byThresholds(ctx.workDir, ctx.runtimeDir);
    } finally {
      if (mounted) unmount(dataDir);
    }
  },
});

const TMPFS_SETTINGS = {
  GATEWAY_STARTUP_TIMEOUT_MS: "600000",
  DISK_WARN_FREE_PERCENT: "10",
  DISK_FAIL_FREE_PERCENT: "2",
  DISK_WARN_FREE_MB: "8",
  DISK_FAIL_FREE_MB: "2",
};

async function onTmpfs(dir: string, runtimeDir: string, dataDir: string): Promise<Outcome> {
  const filler = join(dataDir, "filler.bin");
  try {
    return await withStandIn(dir, runtimeDir, {}, TMPFS_SETTINGS, async (s) => {
      await diskStatus(s.site, "pass", 10_000);
      const accepted: SubmittedTurn[] = [];
      const refused: { status: number; code?: string; message: string }[] = [];
      const record = (r: Awaited<ReturnType<typeof post>>) => (r.turn ? accepted.push(r.turn) : refused.push(r));
      record(await post(s.site, "disk", "before"));

      fill(filler, dataDir, 5 * MiB);
      const injectAt = Date.now();
      const warnAt = await diskStatus(s.site, "warn", 10_000);
      const warnTurn = await post(s.site, "disk", "warn");
      record(warnTurn);

      fill(filler, dataDir, 1 * MiB);
      const failFilledAt = Date.now();
      const failAt = await diskStatus(s.site, "fail", 10_000);
      const healthCode = (await getJson(s.site, "/health")).status;
      const failTurn = await post(s.site, "disk", "fail");
      record(failTurn);

      fill(filler, dataDir, 0);
      const full: Awaited<ReturnType<typeof post>>[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await post(s.site, "disk", "full");
        full.push(r);
        record(r);
      }
      const livez = (await getJson(s.site, "/livez")).status;
      const alive = s.daemon.proc.exitCode === null;

      rmSync(filler);
      const freedAt = Date.now();
      const passAt = await diskStatus(s.site, "pass", 10_000);
      let acceptingAt: number | null = null;
      await until("a turn accepted again", async () => {
        const r = await post(s.site, "disk", "after");
        record(r);
        if (r.status === 202) acceptingAt = Date.now();
        return r.status === 202;
      }, 30_000, 100).catch(() => undefined);

      // A refused turn with a row would be half-written: counted as lost, beside the queued check.
      const halfWritten = refused.filter((r) => rowsWithMessage(s.site, r.message) > 0).length;
      const fullCodes = full.map((r) => (r.status === 202 ? "202" : `${r.status} ${r.code ?? ""}`.trim()));
      return {
        injectAt,
        detectedAt: warnAt,
        queued: accepted,
        verdict: { lost: halfWritten, duplicated: 0, problems: [] },
        notes: [
          `data dir on a ${DISK_MB} MiB tmpfs, really filled`,
          `5 MiB free: disk:free warn after ${ms(warnAt - injectAt)} ms, turn ${warnTurn.status}`,
          `1 MiB free: fail after ${ms(failAt - failFilledAt)} ms (/health HTTP ${healthCode}), turn ${failTurn.status}`,
          `0 free: turns ${fullCodes.join(", ")}; /livez ${livez}, daemon ${alive ? "alive" : "EXITED"}`,
          `space freed: disk:free pass after ${ms(passAt - freedAt)} ms, ${acceptingAt === null ? "NO turn accepted within 30 s" : `turns accepted again after ${ms(acceptingAt - freedAt)} ms`}`,
          `${accepted.length} accepted turns all kept queued; ${refused.length} refused (none half-written: ${halfWritten === 0 ? "yes" : `NO, ${halfWritten}`})`,
          "serving: n/a (stand-in gateway)",
        ],
        after: warnings(s.daemon.logs, 4).map((w) => `log: ${w}`),
      };
    });
  } finally {
    rmSync(filler, { force: true });
  }
}

async function byThresholds(dir: string, runtimeDir: string): Promise<Outcome> {
  const freeMb = Math.floor(freeBytes(dir) / MiB);
  const injectAt = Date.now();
  const settings = { GATEWAY_STARTUP_TIMEOUT_MS: "600000", DISK_WARN_FREE_MB: String(freeMb + 2048), DISK_FAIL_FREE_MB: String(freeMb + 1024) };
  return withStandIn(dir, runtimeDir, {}, settings, async (s) => {
    const failAt = await diskStatus(s.site, "fail", 10_000);
    const r = await post(s.site, "disk", "thresholds");
    return {
      injectAt,
      detectedAt: failAt,
      queued: r.turn ? [r.turn] : [],
      notes: [
        `disk NOT filled (no permission to mount a small tmpfs): DISK_FAIL_FREE_MB=${freeMb + 1024} above the ${freeMb} MiB free`,
        `/health disk:free fail ${ms(failAt - injectAt)} ms after the daemon was started (the first answer)`,
        `a turn posted meanwhile: ${r.status}`,
        "serving: n/a (stand-in gateway)",
      ],
    };
  });
}
