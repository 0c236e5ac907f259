/**
 * Hardening audit: which system calls does the shipped unit's sandbox make fail for the daemon and
 * the real gateway? Run as root: `npm run hardening-audit` (about 10 minutes; not part of
 * `npm test`). Results: `.cache/droplet/hardening-audit.json` and the table on stdout; the run of
 * 2026-11-29 is quoted in docs/operations.md ("Hardening and its score").
 *
 * Method (issue 8 asked for every hardening line to be checked under the real unit with the real
 * gateway, as RestrictSUIDSGID's openat2 → ENOSYS was found): boot a droplet as the droplet test
 * does, then run the same scenario twice under `strace -f -Z` (failing calls only): once with the
 * unit as shipped, once with a drop-in that turns every hardening line off. Scenario: start, wait
 * for the gateway's hello-ok, one turn, SIGKILL the gateway, wait for it to be ready again, one
 * turn, `systemctl stop` (drain). A failure (syscall, errno, path shape) seen only under the
 * hardened unit is the sandbox's doing; the table lists each with its count, for a human verdict.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Container } from "./container.ts";
import { GUEST } from "./fixtures.ts";
import { gatewayPid, turnWorks, until, waitUnit } from "./guest.ts";
import { DROPLET_CACHE, startDroplet } from "./session.ts";

const DROPIN_DIR = "/etc/systemd/system/agent-supervisor.service.d";
const TRACE = `${GUEST.dataDir}/audit.strace`;
// Under strace everything runs several times slower: a longer start timeout and no watchdog (a
// loop slowed down this much withholds its pings, and systemd would kill the daemon).
const STRACE = `ExecStart=\nExecStart=/usr/bin/strace -f -qq -Z -s 96 -e signal=none -o ${TRACE} /usr/local/bin/agent-supervisor run\n`;
/**
 * strace needs ptrace (@debug), outside the shipped allow-list, and calls setreuid at start
 * (@setuid, which the shipped unit allows since issue 11, for setpriv): added for the hardened run.
 */
const TRACE_ALLOW = "SystemCallFilter=@debug @setuid";

/** Every hardening line of the shipped unit, turned off (an empty assignment resets a list). */
const UNHARDENED = [
  "NoNewPrivileges=no", "ProtectSystem=no", "ProtectHome=no", "PrivateTmp=no", "PrivateUsers=no", "PrivateDevices=no", "DevicePolicy=auto",
  "PrivateMounts=no", "ProtectKernelTunables=no", "ProtectKernelModules=no", "ProtectKernelLogs=no", "ProtectControlGroups=no",
  "ProtectClock=no", "ProtectHostname=no", "ProtectProc=default", "RestrictNamespaces=no", "RestrictRealtime=no",
  "RestrictSUIDSGID=no", "LockPersonality=no", "RemoveIPC=no", "CapabilityBoundingSet=~", "RestrictAddressFamilies=",
  "SystemCallArchitectures=", "SystemCallFilter=",
].join("\n");

/** One failing call, reduced to what identifies its cause: syscall, errno and the path's shape. */
export function failureKey(line: string): string | undefined {
  const m = /^\d+\s+(\w+)\((.*)\) = -1 (E[A-Z0-9]+)/.exec(line);
  if (!m) return undefined;
  const path = /"([^"]*)"/.exec(m[2]!)?.[1];
  const shape = path === undefined ? "" : ` ${path.replace(/[0-9a-f]*\d[0-9a-f]*/gi, "N").replace(/[A-Za-z0-9]{6}(?=\/|$)/g, "X")}`;
  return `${m[1]} ${m[3]}${shape}`;
}

/**
 * Whether a failure can be the sandbox's doing: seccomp answers EPERM (SystemCallErrorNumber=) or
 * ENOSYS, RestrictAddressFamilies= EAFNOSUPPORT, ProtectSystem= and ProtectKernelTunables= EROFS,
 * ProtectHome= EACCES; PrivateDevices=, ProtectHome= and ProtectProc= hide paths (ENOENT) under
 * /dev, /home, /root, /run and /proc. Every other errno, and ENOENT inside the data directory
 * (state files not created yet), is the program's own business.
 */
export function sandboxRelevant(key: string): boolean {
  const [, errno, path] = key.split(" ");
  if (["EPERM", "EACCES", "ENOSYS", "EROFS", "EAFNOSUPPORT", "EOPNOTSUPP", "EXDEV"].includes(errno!)) return true;
  return errno === "ENOENT" && path !== undefined && /^\/(dev|home|root|run|proc|sys)\//.test(path);
}

async function scenario(c: Container, label: string, dropin: string): Promise<Map<string, number>> {
  await c.sh(`mkdir -p ${DROPIN_DIR} && printf '%s' '${`[Service]\n${dropin}\n${STRACE}TimeoutStartSec=300s\nWatchdogSec=0\n`}' > ${DROPIN_DIR}/99-audit.conf && systemctl daemon-reload && rm -f ${TRACE}`);
  await c.sh("systemctl restart agent-supervisor");
  await waitUnit(c, `${label}: gateway ready`, (s) => s.StatusText.startsWith("gateway ready"), 10 * 60_000);
  await turnWorks(c, `audit ${label} one`, `audit-${label}`, 5 * 60_000);
  const pid = await gatewayPid(c);
  await c.sh(`kill -KILL ${pid}`);
  await until(`${label}: a new gateway`, async () => (await gatewayPid(c).catch(() => pid)) !== pid, 5 * 60_000, 1000);
  await waitUnit(c, `${label}: gateway ready again`, (s) => s.StatusText.startsWith("gateway ready"), 10 * 60_000);
  await turnWorks(c, `audit ${label} two`, `audit-${label}`, 5 * 60_000);
  await c.sh("systemctl stop agent-supervisor", { timeoutMs: 5 * 60_000 });
  const counts = new Map<string, number>();
  for (const line of (await c.sh(`cat ${TRACE}`, { timeoutMs: 5 * 60_000 })).split("\n")) {
    const k = failureKey(line);
    if (k) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

async function main(runtimeDir: string): Promise<void> {
  const d = await startDroplet(runtimeDir);
  try {
    await d.giveSecrets();
    const ci = await d.c.exec(["cloud-init", "status", "--wait"], { timeoutMs: 10 * 60_000 });
    if (ci.code !== 0) throw new Error(`cloud-init failed: ${ci.stdout}`);
    await d.c.sh("command -v strace >/dev/null || { echo 'strace is not in the rootfs (test/droplet/rootfs.ts)'; exit 1; }");
    const hardened = await scenario(d.c, "hardened", TRACE_ALLOW);
    const open = await scenario(d.c, "unhardened", UNHARDENED);
    const onlyHardened = [...hardened].filter(([k]) => !open.has(k) && sandboxRelevant(k)).sort((a, b) => b[1] - a[1]);
    const result = {
      at: new Date().toISOString(),
      onlyHardened: Object.fromEntries(onlyHardened),
      hardened: Object.fromEntries(hardened),
      unhardened: Object.fromEntries(open),
    };
    writeFileSync(join(DROPLET_CACHE, "hardening-audit.json"), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`failing calls seen only under the shipped hardening (${onlyHardened.length} kinds):`);
    for (const [k, n] of onlyHardened) console.log(`  ${String(n).padStart(6)}  ${k}`);
  } finally {
    await d.close();
  }
}

if (import.meta.main) {
  const runtimeDir = process.argv[2] ?? join(import.meta.dirname, "..", "..", ".cache", "e2e-runtime", "runtime");
  main(runtimeDir).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
