/**
 * The single executable for tests: `dist/agent-supervisor-linux-<arch>` built by `npm run build`
 * (scripts/build.sh), or reused when it is newer than every source it is built from. Several test
 * files need it and vitest runs them in parallel workers, so the build is serialized by a lock
 * directory (`.cache/build.lock`, taken over when its owner pid is gone).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, "..", "..");
const ARCH = process.arch === "arm64" ? "arm64" : "x64";
/** Path of the built binary. */
export const BINARY = join(ROOT, "dist", `agent-supervisor-linux-${ARCH}`);
/** Path of the checksum file beside it. */
export const SUMS = join(ROOT, "dist", "SHA256SUMS");

/** Newest mtime (ms) of the files the binary is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) if (e !== "node_modules") walk(join(p, e));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ["src", "build", "scripts/build.sh", "package.json", "package-lock.json", ".node-version"]) {
    if (existsSync(join(ROOT, p))) walk(join(ROOT, p));
  }
  return newest;
}

const fresh = () => existsSync(BINARY) && existsSync(SUMS) && statSync(BINARY).mtimeMs > newestSource();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Build the binary unless dist/ is fresh. Blocks (synchronously) while another worker builds.
 * @throws Error with the build's output when `scripts/build.sh` fails or takes over 5 minutes
 */
export function ensureBuilt(): void {
  if (fresh()) return;
  const lock = join(ROOT, ".cache", "build.lock");
  mkdirSync(join(ROOT, ".cache"), { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner = 0;
      let ageMs = 0;
      try {
        ageMs = Date.now() - statSync(lock).mtimeMs;
        owner = Number(readFileSync(join(lock, "pid"), "utf8").trim() || "0");
      } catch {
        // the owner is between mkdir and writing its pid, or just released it
      }
      // Stale: its owner is gone, or it is older than any build (a reused pid after a restart).
      if ((owner > 0 && !alive(owner)) || ageMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`waited 10 minutes for another build to release ${lock}`);
      else spawnSync("sleep", ["1"]);
    }
  }
  try {
    if (fresh()) return; // built by the worker that held the lock
    const r = spawnSync("sh", [join(ROOT, "scripts", "build.sh")], { cwd: ROOT, encoding: "utf8", timeout: 5 * 60_000 });
    if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
