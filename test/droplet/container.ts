/**
 * A Debian container booted with `systemd-nspawn --boot`: a real systemd 252 as PID 1 on the host's
 * kernel, with no network but its own loopback (`--private-network`). How to run it here
 * (../shared/SYSTEMD_TEST_FACTS.md): nspawn's systemd wants the unified cgroup hierarchy, which this
 * host does not mount, so nspawn runs inside a private mount namespace (`unshare --mount`) where
 * cgroup2 is mounted on /sys/fs/cgroup, with SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1; the host's own
 * mounts stay untouched. Commands run in the guest through `nsenter` into PID 1's namespaces.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";

/** A host path mounted into the guest. */
export type Bind = { host: string; guest: string; readOnly?: boolean };

/** What {@link bootContainer} needs. */
export type ContainerSpec = {
  /** The unpacked root filesystem. */
  root: string;
  /** Machine name (also the hostname); unique per run. */
  name: string;
  binds?: Bind[];
  /** Where nspawn's console output is appended. */
  consoleLog: string;
};

/** The outcome of a command run in the guest. */
export type ExecResult = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** Options of {@link Container.exec}. */
export type ExecOptions = {
  /** Kill the command (SIGKILL) after this many ms; default 120 000. */
  timeoutMs?: number;
  /** Extra environment (the guest command starts with PATH, LANG and these only). */
  env?: Record<string, string>;
};

const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A booted container. */
export type Container = {
  /** Host pid of the container's PID 1 (systemd). */
  readonly pid1: number;
  /** Resolves with nspawn's exit once the container is gone (133 after `systemctl reboot`). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Run `argv` in the guest as root. Never rejects for a non-zero exit. */
  exec(argv: readonly string[], o?: ExecOptions): Promise<ExecResult>;
  /** Run a `sh -c` script in the guest; rejects with the output when it exits non-zero. */
  sh(script: string, o?: ExecOptions): Promise<string>;
  /** Kill nspawn and everything in the container at once (cleanup). */
  kill(): void;
};

/**
 * Boot the container and wait until its PID 1 exists (not until boot is finished: poll
 * `systemctl is-system-running --wait` for that).
 * @throws Error when nspawn exits or no PID 1 appears within 30 s (with the console log's tail)
 */
export async function bootContainer(spec: ContainerSpec): Promise<Container> {
  const nspawnArgs = [
    "-D", spec.root, "--boot", `--machine=${spec.name}`, "--register=no", "--keep-unit", "--console=pipe",
    "--private-network", "--resolv-conf=off", "--timezone=off", "--link-journal=no",
    // The container's systemd attaches cgroup BPF programs for IPAddressDeny= (the unit blocks the
    // metadata address) only with these; without them it silently lets everything through.
    "--capability=CAP_BPF,CAP_SYS_ADMIN,CAP_NET_ADMIN,CAP_PERFMON", "--system-call-filter=bpf",
    ...(spec.binds ?? []).map((b) => `--bind${b.readOnly ? "-ro" : ""}=${b.host}:${b.guest}`),
  ];
  const log = createWriteStream(spec.consoleLog, { flags: "a" });
  // - setpriv --pdeathsig: if the test process dies, so does nspawn, and with it the container.
  // - a cgroup of its own (/droplet-<name>): nspawn puts its supervisor and payload cgroups below
  //   its own, so two containers (a test and an audit) never share unit cgroups.
  const cgroup = `/sys/fs/cgroup/droplet-${spec.name}`;
  const script = `mount -t cgroup2 none /sys/fs/cgroup && mkdir -p ${cgroup} && echo $$ > ${cgroup}/cgroup.procs && exec systemd-nspawn "$@"`;
  const proc: ChildProcess = spawn(
    "setpriv",
    ["--pdeathsig", "KILL", "--", "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", ...nspawnArgs],
    { env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" }, stdio: ["pipe", "pipe", "pipe"] },
  );
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => {
      log.end();
      removeCgroupTree(`/sys/fs/cgroup/unified/droplet-${spec.name}`);
      resolve({ code, signal });
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  let pid1: number | undefined;
  while (pid1 === undefined) {
    if (gone || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`systemd-nspawn did not start a PID 1 (${gone ? "it exited" : "timeout"}):\n${tail(spec.consoleLog)}`);
    }
    pid1 = childNamed(proc.pid!, "systemd");
    if (pid1 === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  const nspawnPid = proc.pid!;
  const container: Container = {
    pid1,
    exited,
    exec: (argv, o = {}) => {
      // Never nsenter a pid that is no longer this container's init (it may have been reused by a
      // host process): refuse once nspawn is gone or PID 1's parent is no longer nspawn.
      if (gone || parentOf(pid1!) !== nspawnPid) {
        return Promise.resolve({ code: null, signal: null, stdout: "", stderr: "the container is not running" });
      }
      return nsenterExec(pid1!, argv, o);
    },
    async sh(script, o) {
      const r = await container.exec(["sh", "-c", script], o);
      if (r.code !== 0) throw new Error(`guest command failed (exit ${r.code ?? r.signal}): ${script}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
    kill: () => {
      if (!gone) proc.kill("SIGKILL");
    },
  };
  return container;
}

/** Remove an (empty) cgroup directory tree, deepest first; best effort. */
function removeCgroupTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    // not there (another cgroup2 mount point) or not empty yet
  }
}

/** The parent pid of `pid` from /proc/<pid>/stat, or undefined when it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** The first child of `pid` whose comm is `name`, from /proc. */
function childNamed(pid: number, name: string): number | undefined {
  let children: string;
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
  } catch {
    return undefined;
  }
  for (const c of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
    try {
      if (readFileSync(`/proc/${c}/comm`, "utf8").trim() === name) return c;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function nsenterExec(pid1: number, argv: readonly string[], o: ExecOptions): Promise<ExecResult> {
  const env = { PATH: GUEST_PATH, LANG: "C.UTF-8", SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "", ...o.env };
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return new Promise((resolve) => {
    // Its own process group: a guest `kill 0` (or `kill -KILL ""` gone wrong) reaches the whole
    // process group of its caller, across pid namespaces, which would otherwise be the test runner.
    const p = spawn("nsenter", ["-t", String(pid1), "-a", "--", "/usr/bin/env", "-i", ...envArgs, ...argv], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // The whole process group: nsenter forks the command into the guest, and killing nsenter
    // alone would leave it running with our pipes open.
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, o.timeoutMs ?? 120_000);
    p.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${err.message}` });
    });
    p.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The last `chars` characters of a file, or "" when unreadable. */
export function tail(file: string, chars = 4000): string {
  try {
    return readFileSync(file, "utf8").slice(-chars);
  } catch {
    return "";
  }
}
