/**
 * The boundary between the daemon and the agent (issue 11, docs/agent-boundary.md): the gateway
 * runs tools a language model chooses, so it runs as its own unprivileged user (`GATEWAY_USER`,
 * `agent-supervisor-gw` from install.sh), which cannot read the daemon's credentials, database or
 * memory. The daemon starts it through `setpriv` (util-linux), which sets the user and group,
 * clears the supplementary groups and drops the inheritable and ambient capabilities before it
 * execs the gateway, so the gateway holds no capability (Node's own `spawn({ uid, gid })` would
 * pass the daemon's ambient capabilities on to it).
 *
 * What the daemon needs for this, and nothing more (the shipped unit grants exactly these):
 * CAP_SETUID and CAP_SETGID to start the gateway as another user, CAP_KILL to signal it.
 */
import { readFileSync, statSync } from "node:fs";
import { UnavailableError } from "../core/errors.ts";

/** A system user: name, uid, primary gid. */
export type SystemUser = { name: string; uid: number; gid: number };

/**
 * Whether the gateway runs as its own user.
 * - `on`: it does, as `user`, started through `setpriv` (an absolute path).
 * - off and not `required`: `GATEWAY_USER` is not set (development) or names the daemon's own
 *   user; the gateway runs as the daemon's user, and doctor and /health say so.
 * - off and `required`: `GATEWAY_USER` is set but cannot be used; the gateway is held, saying
 *   `reason`, rather than started as the daemon's user without the boundary.
 */
export type Boundary =
  | { on: true; user: SystemUser; setpriv: string }
  | { on: false; required: boolean; reason: string };

/** Capability numbers (linux/capability.h). */
const CAP = { CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7 } as const;

/** The capabilities the daemon needs to keep the gateway as another user (see the module comment). */
export const NEEDED_CAPABILITIES = ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"] as const;

/** Where setpriv is looked for (Debian's util-linux puts it in /usr/bin). */
export const SETPRIV_PATHS = ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv"];

/** The boundary when nothing asks for it: off, not required (`GATEWAY_USER` unset). */
export const BOUNDARY_UNSET: Boundary = { on: false, required: false, reason: "GATEWAY_USER is not set" };

/** setpriv's path (the first of {@link SETPRIV_PATHS} that is a file), or undefined. */
export function findSetpriv(): string | undefined {
  return SETPRIV_PATHS.find((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

/** What {@link decideBoundary} decides from. */
export type BoundaryFacts = {
  /** `GATEWAY_USER`, undefined when unset. */
  wanted: string | undefined;
  /** The daemon's uid. */
  selfUid: number;
  /** The daemon's primary gid (whose group may read its env file and token file); undefined if unknown. */
  selfGid?: number | undefined;
  /** `wanted` looked up in the user database; undefined if there is no such user. */
  user: SystemUser | undefined;
  /** The daemon's effective capability set (CapEff of /proc/self/status); null if unknown. */
  capEff: bigint | null;
  /** setpriv's path, undefined if it is not installed. */
  setpriv: string | undefined;
};

/** The needed capabilities missing from `capEff` (all of them when it is unknown). Pure. */
export function missingCapabilities(capEff: bigint | null): string[] {
  return NEEDED_CAPABILITIES.filter((name) => capEff === null || (capEff & (1n << BigInt(CAP[name]))) === 0n);
}

/** Decide the boundary (see {@link Boundary}). Pure. */
export function decideBoundary(f: BoundaryFacts): Boundary {
  if (f.wanted === undefined) {
    return { on: false, required: false, reason: `GATEWAY_USER is not set: the gateway runs as the daemon's own user (uid ${f.selfUid}), so the agent's tools can read the daemon's credentials and database` };
  }
  const off = (reason: string): Boundary => ({ on: false, required: true, reason: `GATEWAY_USER=${f.wanted}: ${reason}; the gateway is not started without the boundary` });
  if (f.user === undefined) return off("no such user (install.sh creates agent-supervisor-gw)");
  if (f.user.uid === f.selfUid) {
    return { on: false, required: false, reason: `GATEWAY_USER=${f.wanted} is the daemon's own user (uid ${f.selfUid}): the agent's tools can read the daemon's credentials and database` };
  }
  if (f.user.uid === 0 || f.user.gid === 0) return off("the gateway never runs as root or in group root");
  if (f.selfGid !== undefined && f.user.gid === f.selfGid) return off(`its group is the daemon's (gid ${f.selfGid}), which may read the env file and the token file`);
  const missing = missingCapabilities(f.capEff);
  if (missing.length > 0) {
    return off(`the daemon (uid ${f.selfUid}) lacks ${missing.join(", ")}; the shipped unit grants them (AmbientCapabilities=), or run it as root`);
  }
  if (f.setpriv === undefined) return off(`setpriv (util-linux) is not installed (looked in ${SETPRIV_PATHS.join(", ")})`);
  return { on: true, user: f.user, setpriv: f.setpriv };
}

/**
 * Find `name` in passwd(5) text. Lenient: malformed lines are skipped. Pure.
 * @returns undefined when there is no such user
 */
export function findUser(passwd: string, name: string): SystemUser | undefined {
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user !== name || uid === undefined || gid === undefined) continue;
    const u = Number(uid);
    const g = Number(gid);
    if (Number.isInteger(u) && Number.isInteger(g) && uid !== "" && gid !== "") return { name, uid: u, gid: g };
  }
  return undefined;
}

/** CapEff of /proc/<pid>/status text as a bit set; null if absent. Pure. */
export function parseCapEff(status: string): bigint | null {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/**
 * Look the facts up on this host: /etc/passwd (system users live there; NSS-only users are not
 * supported), /proc/self/status, setpriv's path. Never throws: an unreadable file counts as absent.
 * @param opts.assumeCapabilities judge as if the daemon held the capabilities the unit grants
 *   (`doctor`, run outside the unit)
 */
export function probeBoundary(wanted: string | undefined, selfUid: number, opts: { assumeCapabilities?: boolean } = {}): Boundary {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  const setpriv = findSetpriv();
  const user = wanted === undefined ? undefined : findUser(read("/etc/passwd"), wanted);
  const all = NEEDED_CAPABILITIES.reduce((m, name) => m | (1n << BigInt(CAP[name])), 0n);
  const capEff = opts.assumeCapabilities ? all : parseCapEff(read("/proc/self/status"));
  const selfGid = Number(/^Gid:\s*(\d+)/m.exec(read("/proc/self/status"))?.[1] ?? Number.NaN);
  return decideBoundary({ wanted, selfUid, selfGid: Number.isInteger(selfGid) ? selfGid : undefined, user, capEff, setpriv });
}

/**
 * The command line that runs `command args` as the gateway's user: setpriv sets the real,
 * effective and saved uid and gid, clears the supplementary groups, and empties the inheritable
 * and ambient capability sets, so that after its execve the gateway's permitted and effective
 * sets are empty (capabilities(7): P'(permitted) = (P(inheritable) & F(inheritable)) | P'(ambient)).
 * Without a user, `command args` unchanged. Pure.
 */
export function commandAsUser(runAs: { user: SystemUser; setpriv: string } | undefined, command: string, args: readonly string[]): { command: string; args: string[] } {
  if (!runAs) return { command, args: [...args] };
  const { uid, gid } = runAs.user;
  return {
    command: runAs.setpriv,
    args: [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--inh-caps=-all", "--ambient-caps=-all", "--", command, ...args],
  };
}

/** The boundary is required but off: the gateway is held, saying why (the supervisor's UnavailableError path). */
export function boundaryUnavailable(b: Boundary): UnavailableError | undefined {
  return !b.on && b.required ? new UnavailableError("ERR_GATEWAY_USER", b.reason) : undefined;
}
