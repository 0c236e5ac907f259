/**
 * Work done in the gateway's tree as the gateway's user (issue 11). The tree is that user's, and
 * any process of it can swap a directory for a symlink at any moment, so a daemon that wrote,
 * deleted or walked there itself could be led to write over or delete its own files (its
 * database, its tokens) through such a link. So the daemon does not: with the boundary on, it
 * runs a child as the gateway's user (setpriv, gateway-user.ts `commandAsUser`) with an empty
 * environment, which can do no more than that user could anyway. With the boundary off, callers
 * do the same work in the daemon's process.
 */
import { rm } from "node:fs/promises";
import { exitedAndDrained, type SpawnFn } from "../core/os-process.ts";
import { commandAsUser, type SystemUser } from "./gateway-user.ts";

/** How to run this program again (main.ts): its executable and the arguments before a command. */
export type SelfCommand = { command: string; args: string[] };

/** The gateway's user and the setpriv that switches to it (a `Boundary` that is on fits). */
export type RunAs = { user: SystemUser; setpriv: string };

/** The most one child may take (ms); then it is killed with SIGKILL. */
export const AS_GATEWAY_TIMEOUT_MS = 120_000;
/** How long after the child's exit its output may still arrive (ms): a grandchild holding the pipes must not hang the daemon. */
const DRAIN_MS = 1_000;
/** The most output kept from one child (bytes). */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Why a child run as the gateway's user failed: its exit and the end of its stderr. */
export class AsGatewayError extends Error {
  constructor(what: string, user: string, detail: string) {
    super(`${what} as ${user} failed: ${detail}`);
    this.name = "AsGatewayError";
  }
}

/**
 * Run `command args` as the gateway's user, cwd `/`, environment `PATH` only, `stdin` written to
 * it; killed with SIGKILL (which a process of that user cannot ignore or stop) after `timeoutMs`.
 * @param what names the work in errors ("the /tmp sweep")
 * @returns its stdout, on exit 0
 * @throws AsGatewayError on another exit, a signal, the timeout or a failed spawn
 */
export function runAsGateway(spawn: SpawnFn, runAs: RunAs, what: string, command: string, args: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
  const run = commandAsUser(runAs, command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(run.command, run.args, { cwd: "/", env: { PATH: "/usr/bin:/bin" }, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(() => reject(new AsGatewayError(what, runAs.user.name, `no exit within ${opts.timeoutMs ?? AS_GATEWAY_TIMEOUT_MS} ms (killed)`)));
    }, opts.timeoutMs ?? AS_GATEWAY_TIMEOUT_MS);
    child.stdout?.on("data", (d: Buffer) => void (out.length < MAX_OUTPUT_BYTES && (out += d.toString())));
    child.stderr?.on("data", (d: Buffer) => void (err.length < MAX_OUTPUT_BYTES && (err += d.toString())));
    child.stdin?.on("error", () => {}); // a child that exits without reading its stdin
    child.stdin?.end(opts.stdin ?? "");
    child.once("error", (e) => finish(() => reject(new AsGatewayError(what, runAs.user.name, e.message))));
    void exitedAndDrained(child, DRAIN_MS).then(({ code, signal }) =>
      finish(() => (code === 0 ? resolve(out) : reject(new AsGatewayError(what, runAs.user.name, `exit ${code ?? signal}: ${err.trim().slice(-500)}`)))),
    );
  });
}

/**
 * Run one of this program's own commands (`self` and `args`) as the gateway's user and read its
 * result, the last line it prints, as JSON (the hidden `gateway-files` and `sweep-tmp`).
 * @throws AsGatewayError as {@link runAsGateway}, or when that line is not JSON
 */
export async function runSelfAsGateway(as: { spawn: SpawnFn; self: SelfCommand }, runAs: RunAs, what: string, args: readonly string[], opts: { stdin?: string } = {}): Promise<unknown> {
  const out = await runAsGateway(as.spawn, runAs, what, as.self.command, [...as.self.args, ...args], opts);
  return lastJsonLine(out, what, runAs.user.name);
}

/** The last line of `out` parsed as JSON. @throws AsGatewayError when it is not JSON */
function lastJsonLine(out: string, what: string, user: string): unknown {
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new AsGatewayError(what, user, `its output is not JSON: ${line.slice(0, 200)}`);
  }
}

/**
 * Remove a tree of the gateway's as the gateway's user (`rm -rf --one-file-system`, which walks
 * with descriptors): whatever that user swaps in during the walk, it can only remove what it
 * could remove itself. `runAs()` undefined (the boundary off): `fs.rm` here, as before.
 */
export function treeRemover(spawn: SpawnFn, runAs: () => RunAs | undefined): (path: string) => Promise<void> {
  return async (path) => {
    const as = runAs();
    if (!as) return rm(path, { recursive: true, force: true });
    await runAsGateway(spawn, as, `removing ${path}`, "rm", ["-rf", "--one-file-system", "--", path]);
  };
}
