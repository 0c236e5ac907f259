/**
 * What the install.sh tests share: a release directory served by a real HTTP server on 127.0.0.1
 * (a fake agent-supervisor binary, SHA256SUMS, install.sh), scratch directories, and running the
 * real script as `curl` downloads it.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "vitest";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const INSTALL_SH = join(ROOT, "install.sh");
export const ASSET = "agent-supervisor-linux-x64";

/** A stand-in for the real binary: answers --version, openclaw install (records it) and config check; gateway-user hand-over is the real command. */
export function fakeBinary(version: string): string {
  return `#!/bin/sh
case "$*" in
  --version) echo "${version}" ;;
  *"openclaw install"*)
    mkdir -p "$AGENT_SUPERVISOR_DATA_DIR/runtime"
    printf '%s\\n' "$*" > "$AGENT_SUPERVISOR_DATA_DIR/runtime/openclaw-install-args"
    echo '{"openclawVersion":"fake"}' > "$AGENT_SUPERVISOR_DATA_DIR/runtime/current.json" ;;
  *"config check"*) echo ok ;;
  *"gateway-user hand-over"*) exec "${join(ROOT, "bin", "agent-supervisor")}" "$@" ;;
  *) echo "fake agent-supervisor: $*" >&2; exit 64 ;;
esac
`;
}

export const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

export type Run = { status: number | null; stdout: string; stderr: string };

/** Run a command without blocking the event loop (the HTTP server lives in this process). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { env, encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      done({ status, stdout, stderr });
    });
    // A child that exits before reading its input (install.sh refusing bad flags at once) closes
    // the pipe: EPIPE on this write is expected, not an error of the test (it was an unhandled one).
    child.stdin?.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
    child.stdin?.end(input ?? "");
  });
}

/** The caller's environment without anything that install.sh would write into the env file or read as a setting. */
export function cleanEnv(): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(CONTROL_PLANE_|RUNTIME_ID|ACCOUNT_ID|MOONSHOT_|OPENAI_|DESTDIR|AGENT_SUPERVISOR_)/.test(k)) clean[k] = v;
  }
  return clean;
}

/** Scratch directories, removed by `removeAll`. */
export class Scratch {
  private readonly dirs: string[] = [];

  /** A new empty directory (with a copy of the host's /etc/passwd and /etc/group when `passwd`). */
  dir(opts: { passwd?: boolean; prefix?: string } = {}): string {
    const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? "as-install-root-"));
    this.dirs.push(dir);
    if (opts.passwd) {
      mkdirSync(join(dir, "etc"));
      copyFileSync("/etc/passwd", join(dir, "etc", "passwd"));
      copyFileSync("/etc/group", join(dir, "etc", "group"));
    }
    return dir;
  }

  removeAll(): void {
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** A release directory served over http on 127.0.0.1. */
export class Release {
  readonly dir: string;
  /** The path of every request, in order. */
  readonly requests: string[] = [];
  private server?: Server;
  private url = "";

  private readonly scratch: Scratch;

  constructor(scratch: Scratch) {
    this.scratch = scratch;
    this.dir = scratch.dir({ prefix: "as-release-" });
  }

  get baseUrl(): string {
    return this.url;
  }

  /**
   * Serves the files of `dir`. `?cut=N` sends the file's full Content-Length but only its first N
   * bytes, then drops the connection: a transfer cut off midway.
   */
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      this.requests.push(url.pathname);
      const name = decodeURIComponent(url.pathname.slice(1));
      const file = join(this.dir, name);
      if (name.includes("/") || !existsSync(file)) {
        res.writeHead(404).end("not found\n");
        return;
      }
      const body = readFileSync(file);
      const cut = url.searchParams.get("cut");
      if (cut === null) {
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(body);
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) });
      res.write(body.subarray(0, Number(cut)), () => res.destroy());
    });
    await new Promise<void>((ok) => this.server!.listen(0, "127.0.0.1", ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (this.server) await new Promise((ok) => this.server!.close(ok));
  }

  /** Fill the directory with a release of `version` (a wrong SHA256SUMS line when `corrupt`). */
  publish(version: string, opts: { corrupt?: boolean } = {}): string {
    const bin = fakeBinary(version);
    writeFileSync(join(this.dir, ASSET), bin, { mode: 0o755 });
    const hash = opts.corrupt ? sha256(bin + "tampered") : sha256(bin);
    writeFileSync(join(this.dir, "SHA256SUMS"), `${sha256("other")}  agent-supervisor-linux-arm64\n${hash}  ${ASSET}\n`);
    copyFileSync(INSTALL_SH, join(this.dir, "install.sh"));
    return bin;
  }

  /** Download install.sh from the server (as `curl | sh` would) and run it with `args`. */
  async install(args: string[], env: Record<string, string> = {}): Promise<Run> {
    const fetched = join(this.scratch.dir({ prefix: "as-install-sh-" }), "install.sh");
    const dl = await run("curl", ["-fsS", "-o", fetched, `${this.url}/install.sh`], process.env);
    expect(dl.status, dl.stderr).toBe(0);
    // Nothing from the caller's shell may leak into the env file.
    return run("sh", [fetched, ...args], { ...cleanEnv(), ...env });
  }
}
