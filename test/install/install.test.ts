/**
 * install.sh end to end under a scratch root: a real HTTP server on 127.0.0.1 serves a release
 * directory (a fake agent-supervisor binary, SHA256SUMS, install.sh) and the real script runs
 * `sh install.sh --root DIR --base-url http://127.0.0.1:PORT`. Also runs the static validators
 * (shellcheck, systemd-analyze verify/security, cloud-init schema) when they are installed.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const INSTALL_SH = join(ROOT, "install.sh");
const UNIT = join(ROOT, "systemd", "agent-supervisor.service");
const USER_DATA = join(ROOT, "cloud-init", "user-data.yaml");
const ASSET = "agent-supervisor-linux-x64";
const IS_ROOT = process.getuid?.() === 0;

/** A stand-in for the real binary: answers --version, openclaw install (records it) and config check. */
function fakeBinary(version: string): string {
  return `#!/bin/sh
case "$*" in
  --version) echo "${version}" ;;
  *"openclaw install"*)
    mkdir -p "$AGENT_SUPERVISOR_DATA_DIR/runtime"
    printf '%s\\n' "$*" > "$AGENT_SUPERVISOR_DATA_DIR/runtime/openclaw-install-args"
    echo '{"openclawVersion":"fake"}' > "$AGENT_SUPERVISOR_DATA_DIR/runtime/current.json" ;;
  *"config check"*) echo ok ;;
  *) echo "fake agent-supervisor: $*" >&2; exit 64 ;;
esac
`;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

let server: Server;
let baseUrl: string;
let releaseDir: string;
const scratch: string[] = [];

/** Fill the served directory with a release of `version` (a wrong SHA256SUMS line when `corrupt`). */
function publish(version: string, opts: { corrupt?: boolean } = {}): string {
  const bin = fakeBinary(version);
  writeFileSync(join(releaseDir, ASSET), bin, { mode: 0o755 });
  const hash = opts.corrupt ? sha256(bin + "tampered") : sha256(bin);
  writeFileSync(
    join(releaseDir, "SHA256SUMS"),
    `${sha256("other")}  agent-supervisor-linux-arm64\n${hash}  ${ASSET}\n`,
  );
  copyFileSync(INSTALL_SH, join(releaseDir, "install.sh"));
  return bin;
}

function newScratch(opts: { passwd?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "as-install-root-"));
  scratch.push(dir);
  if (opts.passwd) {
    mkdirSync(join(dir, "etc"));
    copyFileSync("/etc/passwd", join(dir, "etc", "passwd"));
    copyFileSync("/etc/group", join(dir, "etc", "group"));
  }
  return dir;
}

type Run = { status: number | null; stdout: string; stderr: string };

/** Run a command without blocking the event loop (the HTTP server lives in this process). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, { env, encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      done({ status, stdout, stderr });
    });
  });
}

/** Download install.sh from the server (as `curl | sh` would) and run it with `args`. */
async function install(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "as-install-sh-"));
  scratch.push(dir);
  const fetched = join(dir, "install.sh");
  const dl = await run("curl", ["-fsS", "-o", fetched, `${baseUrl}/install.sh`], process.env);
  expect(dl.status, dl.stderr).toBe(0);
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing from the caller's shell may leak into the env file.
    if (v !== undefined && !/^(CONTROL_PLANE_|RUNTIME_ID|ACCOUNT_ID|MOONSHOT_|OPENAI_|DESTDIR|AGENT_SUPERVISOR_)/.test(k)) clean[k] = v;
  }
  return run("sh", [fetched, ...args], { ...clean, ...env });
}

const mode = (p: string) => statSync(p).mode & 0o777;
const paths = (root: string) => ({
  bin: join(root, "usr/local/bin/agent-supervisor"),
  unit: join(root, "etc/systemd/system/agent-supervisor.service"),
  env: join(root, "etc/agent-supervisor/agent-supervisor.env"),
  configDir: join(root, "etc/agent-supervisor"),
  dataDir: join(root, "var/lib/agent-supervisor"),
});

/** uid and gid of agent-supervisor in the scratch root's /etc/passwd. */
function serviceIds(root: string): { uid: number; gid: number } {
  const line = readFileSync(join(root, "etc/passwd"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("agent-supervisor:"));
  expect(line, "agent-supervisor in the scratch /etc/passwd").toBeDefined();
  const f = line!.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

beforeAll(async () => {
  releaseDir = mkdtempSync(join(tmpdir(), "as-release-"));
  scratch.push(releaseDir);
  server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname.slice(1));
    const file = join(releaseDir, name);
    if (name.includes("/") || !existsSync(file)) {
      res.writeHead(404).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe("install.sh under a scratch root", () => {
  it("installs the binary, directories, env file and unit with their modes", async () => {
    const bin = publish("0.1.0-test");
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"], {
      CONTROL_PLANE_URL: "https://cp.example.com",
      CONTROL_PLANE_TOKEN: "tok-abc.123",
      RUNTIME_ID: "rt-1",
      ACCOUNT_ID: "acc-1",
    });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const p = paths(root);
    expect(readFileSync(p.bin, "utf8")).toBe(bin);
    expect(mode(p.bin)).toBe(0o755);
    expect(mode(p.dataDir)).toBe(0o700);
    expect(mode(p.configDir)).toBe(0o750);
    expect(mode(p.env)).toBe(0o640);
    expect(mode(p.unit)).toBe(0o644);
    expect(readFileSync(p.unit, "utf8")).toBe(readFileSync(UNIT, "utf8"));
    const env = readFileSync(p.env, "utf8");
    expect(env).toMatch(/^CONTROL_PLANE_URL=https:\/\/cp\.example\.com$/m);
    expect(env).toMatch(/^CONTROL_PLANE_TOKEN=tok-abc\.123$/m);
    expect(env).toMatch(/^RUNTIME_ID=rt-1$/m);
    expect(env).toMatch(/^ACCOUNT_ID=acc-1$/m);
    expect(env).toMatch(/^#OPENAI_API_KEY=$/m);
    // Nothing else is left behind (no temp files next to the installed ones).
    expect(readdirSync(join(root, "usr/local/bin"))).toEqual(["agent-supervisor"]);
    expect(readdirSync(p.configDir)).toEqual(["agent-supervisor.env"]);
    expect(r.stdout).toContain("skipping systemctl daemon-reload and enable");
    expect(r.stdout).toContain("skipping 'agent-supervisor openclaw install' (--skip-openclaw)");
    expect(r.stdout).toContain("Next steps:");
  });

  it("runs again as an upgrade: new binary, unit refreshed, env file kept", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const p = paths(root);
    expect((await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"])).status).toBe(0);
    const operatorEnv = "# mine\nOPENAI_API_KEY=sk-operator\n";
    writeFileSync(p.env, operatorEnv, { mode: 0o640 });
    writeFileSync(p.unit, "[Unit]\nDescription=stale\n");
    const bin2 = publish("0.2.0-test");
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"], { OPENAI_API_KEY: "sk-ignored" });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(p.bin, "utf8")).toBe(bin2);
    expect(r.stdout).toContain("0.2.0-test");
    expect(readFileSync(p.env, "utf8")).toBe(operatorEnv);
    expect(r.stdout).toContain("kept the existing");
    expect(readFileSync(p.unit, "utf8")).toBe(readFileSync(UNIT, "utf8"));
  });

  it("refuses a checksum mismatch and installs nothing", async () => {
    publish("0.1.0-test", { corrupt: true });
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("checksum mismatch");
    expect(readdirSync(root)).toEqual([]);
  });

  it("fails clearly on an unsupported architecture, and without a base URL", async () => {
    publish("0.1.0-test");
    const fakeBin = newScratch();
    writeFileSync(join(fakeBin, "uname"), '#!/bin/sh\nif [ "$1" = -m ]; then echo aarch64; else echo Linux; fi\n', { mode: 0o755 });
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"], { PATH: `${fakeBin}:${process.env.PATH}` });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("unsupported architecture: aarch64");
    expect(readdirSync(root)).toEqual([]);
    const r2 = await install(["--root", root, "--skip-openclaw"]);
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toContain("AGENT_SUPERVISOR_BASE_URL");
  });

  it("refuses plain http to a non-loopback host", async () => {
    const r = await install(["--root", newScratch(), "--base-url", "http://downloads.example.com", "--skip-openclaw"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("must be https://");
  });

  it("takes the base URL and the root from AGENT_SUPERVISOR_BASE_URL and DESTDIR", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const r = await install(["--skip-openclaw"], { AGENT_SUPERVISOR_BASE_URL: baseUrl, DESTDIR: root });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(existsSync(paths(root).bin)).toBe(true);
  });

  it("runs 'agent-supervisor openclaw install' against the scratch root's config and data", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const r = await install(["--root", root, "--base-url", baseUrl]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const p = paths(root);
    expect(readFileSync(join(p.dataDir, "runtime/openclaw-install-args"), "utf8").trim()).toBe(`--config ${p.env} openclaw install`);
  });

  it("--uninstall removes the binary and unit and keeps data and config; --purge removes them", async () => {
    publish("0.1.0-test");
    const root = newScratch();
    const p = paths(root);
    expect((await install(["--root", root, "--base-url", baseUrl])).status).toBe(0);
    const un = await install(["--root", root, "--uninstall"]);
    expect(un.status, un.stderr + un.stdout).toBe(0);
    expect(existsSync(p.bin)).toBe(false);
    expect(existsSync(p.unit)).toBe(false);
    expect(existsSync(p.env)).toBe(true);
    expect(existsSync(join(p.dataDir, "runtime/current.json"))).toBe(true);
    expect(un.stdout).toContain("add --purge");
    const purge = await install(["--root", root, "--uninstall", "--purge"]);
    expect(purge.status, purge.stderr + purge.stdout).toBe(0);
    expect(existsSync(p.dataDir)).toBe(false);
    expect(existsSync(p.configDir)).toBe(false);
    expect((await install(["--root", root, "--purge"])).status).not.toBe(0);
  });

  it("without /etc/passwd in the root, skips the user and owners and says so", async () => {
    publish("0.1.0-test");
    const r = await install(["--root", newScratch(), "--base-url", baseUrl, "--skip-openclaw"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("not creating the user agent-supervisor");
  });

  it.skipIf(!IS_ROOT || !has("useradd"))("as root with /etc/passwd in the root: creates the user and sets owners", async () => {
    publish("0.1.0-test");
    const root = newScratch({ passwd: true });
    const r = await install(["--root", root, "--base-url", baseUrl]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const { uid, gid } = serviceIds(root);
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toMatch(/^agent-supervisor:[^:]*:\d+:\d+:[^:]*:\/var\/lib\/agent-supervisor:\/usr\/sbin\/nologin$/m);
    expect(uid).toBeLessThan(1000); // a system user
    const p = paths(root);
    const own = (f: string) => [statSync(f).uid, statSync(f).gid];
    expect(own(p.dataDir)).toEqual([uid, gid]);
    expect(own(join(p.dataDir, "runtime/current.json"))).toEqual([uid, gid]);
    expect(own(p.configDir)).toEqual([0, gid]);
    expect(own(p.env)).toEqual([0, gid]);
    expect(own(p.bin)).toEqual([0, 0]);
    // An env file written root:root before the user existed (cloud-init) gets the service group.
    chmodSync(p.env, 0o600);
    spawnSync("chgrp", ["0", p.env]);
    const before = readFileSync(p.env, "utf8");
    const again = await install(["--root", root, "--base-url", baseUrl, "--skip-openclaw"]);
    expect(again.status, again.stderr + again.stdout).toBe(0);
    expect(own(p.env)).toEqual([0, gid]);
    expect(mode(p.env)).toBe(0o640);
    expect(readFileSync(p.env, "utf8")).toBe(before);
    // --purge also removes the user from the root's passwd.
    expect((await install(["--root", root, "--uninstall", "--purge"])).status).toBe(0);
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).not.toContain("agent-supervisor:");
  });
});

describe("static validation", () => {
  it.skipIf(!has("shellcheck"))("install.sh is clean under shellcheck", () => {
    const r = spawnSync("shellcheck", ["--shell=sh", INSTALL_SH], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it.skipIf(!has("systemd-analyze"))("the unit passes systemd-analyze verify and scores at most 2.0", () => {
    // verify checks that ExecStart= exists: point it at a scratch executable.
    const dir = newScratch();
    const exe = join(dir, "agent-supervisor");
    writeFileSync(exe, "#!/bin/sh\n", { mode: 0o755 });
    const unit = join(dir, "agent-supervisor.service");
    const text = readFileSync(UNIT, "utf8");
    expect(text).toMatch(/^ExecStart=\/usr\/local\/bin\/agent-supervisor run$/m);
    writeFileSync(unit, text.replace(/^ExecStart=\/usr\/local\/bin\/agent-supervisor /m, `ExecStart=${exe} `));
    const v = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(v.stderr + v.stdout).toBe("");
    expect(v.status).toBe(0);
    const s = spawnSync("systemd-analyze", ["security", "--offline=true", "--threshold=20", unit], { encoding: "utf8" });
    expect(s.status, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toMatch(/Overall exposure level for agent-supervisor\.service: (0\.\d|1\.\d|2\.0) /);
  });

  it.skipIf(!has("cloud-init") || !has("envsubst"))("the cloud-init user data is valid, before and after rendering", () => {
    expect(spawnSync("cloud-init", ["schema", "--config-file", USER_DATA], { encoding: "utf8" }).status).toBe(0);
    const vars = ["AGENT_SUPERVISOR_BASE_URL", "CONTROL_PLANE_URL", "CONTROL_PLANE_TOKEN", "RUNTIME_ID", "ACCOUNT_ID"];
    const rendered = spawnSync("envsubst", [vars.map((v) => "${" + v + "}").join(" ")], {
      input: readFileSync(USER_DATA, "utf8"),
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        AGENT_SUPERVISOR_BASE_URL: "https://downloads.example.com/agent-supervisor",
        CONTROL_PLANE_URL: "https://cp.example.com",
        CONTROL_PLANE_TOKEN: "tok-123",
        RUNTIME_ID: "rt-1",
        ACCOUNT_ID: "acc-1",
      },
    });
    expect(rendered.status).toBe(0);
    expect(rendered.stdout).toContain("CONTROL_PLANE_TOKEN=tok-123\n");
    expect(rendered.stdout).toContain('"https://downloads.example.com/agent-supervisor"]');
    const file = join(newScratch(), "user-data.yaml");
    writeFileSync(file, rendered.stdout);
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("Valid cloud-config");
    // The env file is written before the installer runs, 0640, and the installer is run from the base URL.
    expect(rendered.stdout).toMatch(/path: \/etc\/agent-supervisor\/agent-supervisor\.env\n\s+owner: root:root\n\s+permissions: "0640"/);
  });
});
