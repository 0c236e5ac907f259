/**
 * `agent-supervisor doctor`: operator checks, each `pass`, `warn` or `fail` with a hint for the
 * fix. The verdict functions are pure; `runDoctorChecks` does the I/O through injected probes.
 */
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { createServer } from "node:net";
import type { Settings } from "../config/schema.ts";
import { BOUNDARY_UNSET, type Boundary } from "../supervisor/gateway-user.ts";
import type { ProviderReading } from "../watchdogs/provider-probe.ts";
import { readingVerdict } from "../watchdogs/provider-verdict.ts";

/** One check's result. */
export type DoctorCheck = { name: string; status: "pass" | "warn" | "fail"; detail: string; hint?: string };

/** Exit code for the worst result: 0 pass, 1 warn, 2 fail. */
export function doctorExitCode(checks: readonly DoctorCheck[]): number {
  if (checks.some((c) => c.status === "fail")) return 2;
  if (checks.some((c) => c.status === "warn")) return 1;
  return 0;
}

/** Human lines: `[pass] name: detail` and an indented hint when not passing. Pure. */
export function formatDoctor(checks: readonly DoctorCheck[]): string {
  return checks
    .flatMap((c) => [`[${c.status}] ${c.name}: ${c.detail}`, ...(c.status !== "pass" && c.hint ? [`       hint: ${c.hint}`] : [])])
    .join("\n");
}

/** Data directory verdict from its mode and owner (uid). Pure. */
export function dataDirVerdict(st: { mode: number; uid: number } | { error: string }, path: string, myUid: number): DoctorCheck {
  const name = "data directory";
  if ("error" in st) {
    return st.error === "ENOENT"
      ? { name, status: "warn", detail: `${path} does not exist yet`, hint: "it is created on first start; the installer creates it with mode 0711" }
      : { name, status: "fail", detail: `${path}: ${st.error}`, hint: "run as the service user or root" };
  }
  if (st.uid !== myUid && myUid !== 0) {
    return { name, status: "fail", detail: `${path} is owned by uid ${st.uid}, not by this user (${myUid})`, hint: "run doctor as the service user: sudo -u agent-supervisor agent-supervisor doctor" };
  }
  // 0711 is how the boundary leaves it (issue 11): others may pass through to the gateway's tree
  // and the runtime, never list or read it.
  if ((st.mode & 0o066) !== 0) {
    return { name, status: "warn", detail: `${path} has mode ${(st.mode & 0o777).toString(8)}`, hint: `chmod 711 ${path} (it holds tokens and conversations)` };
  }
  return { name, status: "pass", detail: `${path} (mode ${(st.mode & 0o777).toString(8)})` };
}

/** Free-space verdict with the same thresholds as /health. Pure. */
export function diskVerdict(d: { freeBytes: number; totalBytes: number } | { error: string }, s: Settings): DoctorCheck {
  const name = "disk";
  if ("error" in d) return { name, status: "warn", detail: `cannot read free space: ${d.error}` };
  const pct = d.totalBytes > 0 ? (d.freeBytes / d.totalBytes) * 100 : 100;
  const mb = d.freeBytes / 1024 / 1024;
  const detail = `${(mb / 1024).toFixed(1)} GiB free (${pct.toFixed(1)} %)`;
  const hint = "free space on the data directory's filesystem (old /tmp/openclaw*, journald, other data)";
  if (pct < s.DISK_FAIL_FREE_PERCENT || mb < s.DISK_FAIL_FREE_MB) return { name, status: "fail", detail, hint };
  if (pct < s.DISK_WARN_FREE_PERCENT || mb < s.DISK_WARN_FREE_MB) return { name, status: "warn", detail, hint };
  return { name, status: "pass", detail };
}

/** Where install.sh and cloud-init keep the control-plane token for the unit's `LoadCredential=`. */
export const TOKEN_CREDENTIAL_FILE = "/etc/agent-supervisor/control-plane-token";

/**
 * Where the control-plane token comes from (config/load.ts TokenSource). Pure. From the env file
 * or the process environment it warns: whatever can read the file or /proc/<pid>/environ can act
 * as this runtime at the control plane. install.sh and cloud-init write it as a credential.
 * @returns undefined without a token (standalone)
 */
export function tokenSourceVerdict(source: "credential" | "token-file" | "env-file" | "environment" | undefined): DoctorCheck | undefined {
  const name = "control-plane token";
  const hint =
    `deliver it as a systemd credential: run install.sh again (it moves the token to ${TOKEN_CREDENTIAL_FILE}, root:agent-supervisor 0640, ` +
    `and adds 'LoadCredential=control-plane-token:${TOKEN_CREDENTIAL_FILE}' in a drop-in), or do so by hand and remove CONTROL_PLANE_TOKEN from the env file`;
  switch (source) {
    case undefined:
      return undefined;
    case "credential":
      return { name, status: "pass", detail: "from the systemd credential control-plane-token" };
    case "token-file":
      return { name, status: "pass", detail: "from CONTROL_PLANE_TOKEN_FILE" };
    case "env-file":
      return { name, status: "warn", detail: "read from the env file: whatever can read that file can act as this runtime at the control plane", hint };
    case "environment":
      return { name, status: "warn", detail: "read from the process environment, visible in /proc/<pid>/environ", hint };
  }
}

/**
 * The agent boundary (issue 11): the running daemon's own `gateway:user` check from /health when
 * it answers (it alone knows its unit's GATEWAY_USER and capabilities), else `local`, the boundary
 * as this command's settings describe it, with the capabilities the unit grants assumed. Pure.
 */
export function boundaryVerdict(daemon: { status: string; output?: string; observedValue?: unknown } | undefined, local: Boundary): DoctorCheck {
  const name = "gateway user";
  const hint = "run install.sh (it creates agent-supervisor-gw and the unit sets GATEWAY_USER); docs/agent-boundary.md";
  if (daemon) {
    const status = daemon.status === "pass" ? "pass" : daemon.status === "fail" ? "fail" : "warn";
    return status === "pass"
      ? { name, status, detail: `the running daemon starts the gateway as ${String(daemon.observedValue)}: the agent's tools cannot read the daemon's credentials or database` }
      : { name, status, detail: `the running daemon says: ${daemon.output ?? "the agent boundary is off"}`, hint };
  }
  if (local.on) return { name, status: "pass", detail: `the gateway will run as ${local.user.name} (uid ${local.user.uid}) (no daemon answered; capabilities as the unit grants them)` };
  return { name, status: local.required ? "fail" : "warn", detail: `the agent boundary is off: ${local.reason}`, hint };
}

/** `path` or its nearest existing ancestor (free space of a data directory not created yet). */
export function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Whether a TCP port on 127.0.0.1 can be bound right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** What the checks need from the outside world. */
export type DoctorProbes = {
  runtime: () => Promise<{ nodePath: string; entryPath: string; openclawVersion: string | undefined }>;
  disk: () => Promise<{ freeBytes: number; totalBytes: number }>;
  portFree: (port: number) => Promise<boolean>;
  /** GET a URL (daemon /readyz, control plane); resolves with the HTTP status or rejects. */
  httpStatus: (url: string, headers?: Record<string, string>) => Promise<number>;
  uid: number;
  /** The running daemon's /health document (parsed JSON); rejects when no daemon answers. Absent: not asked. */
  health?: (url: string) => Promise<unknown>;
  /** The boundary as the settings describe it (supervisor/gateway-user.ts). Absent: off, GATEWAY_USER unset. */
  boundary?: () => Boundary;
  /**
   * The daemon's provider check (watchdogs/provider-probe.ts) of every configured provider, with
   * the keys the gateway would start with (settings and stored control-plane secrets). Absent: not checked.
   */
  providers?: () => Promise<{ provider: string; baseUrl: string; reading: ProviderReading }[]>;
};

/**
 * One provider's doctor line from its check (the verdict of the daemon's `provider:auth` check,
 * watchdogs/provider-verdict.ts). Pure. The base URL is shown without credentials or query.
 */
export function providerDoctorCheck(provider: string, baseUrl: string, reading: ProviderReading): DoctorCheck {
  const v = readingVerdict(reading);
  let where = baseUrl;
  try {
    const u = new URL(baseUrl);
    where = `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    // not a URL: the check said so already
  }
  const hint =
    v.status === "fail"
      ? "rotate the key: at the control plane (PUT .../secrets), or in the env file and restart; the daemon clears the gateway's stale cooldown for a rotated key"
      : "check the provider's status page, the host's outbound HTTPS and any proxy in between";
  return { name: `provider ${provider}`, status: v.status, detail: `${v.reason} (GET ${where}/models)`, hint };
}

/** The `gateway:user` check of a /health document, if it has one. Lenient: anything else is undefined. Pure. */
export function healthBoundaryCheck(doc: unknown): { status: string; output?: string; observedValue?: unknown } | undefined {
  const entry = (doc as { checks?: Record<string, unknown> } | null)?.checks?.["gateway:user"];
  const c = Array.isArray(entry) ? (entry[0] as Record<string, unknown> | undefined) : undefined;
  if (!c || typeof c.status !== "string") return undefined;
  return { status: c.status, ...(typeof c.output === "string" ? { output: c.output } : {}), observedValue: c.observedValue };
}

/**
 * Run every check. The config has already been validated (an invalid config exits 78 before).
 * @param tokenSource where the control-plane token was read from (config/load.ts), if any
 * @returns the checks in a stable order; never rejects
 */
export async function runDoctorChecks(
  s: Settings,
  configFile: string | undefined,
  probes: DoctorProbes,
  tokenSource?: Parameters<typeof tokenSourceVerdict>[0],
): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [{ name: "config", status: "pass", detail: configFile ? `valid (${configFile})` : "valid (environment only)" }];
  let st: { mode: number; uid: number } | { error: string };
  try {
    const x = statSync(s.AGENT_SUPERVISOR_DATA_DIR);
    st = { mode: x.mode, uid: x.uid };
  } catch (err) {
    st = { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  out.push(dataDirVerdict(st, s.AGENT_SUPERVISOR_DATA_DIR, probes.uid));
  try {
    const r = await probes.runtime();
    out.push({ name: "openclaw runtime", status: "pass", detail: `openclaw ${r.openclawVersion ?? "?"} (${r.entryPath})` });
  } catch (err) {
    out.push({ name: "openclaw runtime", status: "fail", detail: (err as Error).message, hint: "agent-supervisor openclaw install" });
  }
  out.push(await probes.disk().then((d) => diskVerdict(d, s), (err: Error) => diskVerdict({ error: err.message }, s)));
  const base = `http://127.0.0.1:${s.AGENT_SUPERVISOR_HTTP_PORT}`;
  const ready = await probes.httpStatus(`${base}/readyz`).catch(() => null);
  if (ready === null) {
    // No daemon answering: both ports must be free for it to start.
    for (const [what, port] of [["local API port", s.AGENT_SUPERVISOR_HTTP_PORT], ["gateway port", s.OPENCLAW_GATEWAY_PORT]] as const) {
      const free = await probes.portFree(port);
      out.push(free
        ? { name: what, status: "pass", detail: `${port} is free` }
        : { name: what, status: "fail", detail: `${port} is in use by another process`, hint: `find it with 'ss -ltnp sport = :${port}' or change the port setting` });
    }
    out.push({ name: "gateway readiness", status: "warn", detail: "the daemon is not running (no answer on the local API)", hint: "systemctl start agent-supervisor; journalctl -u agent-supervisor" });
    out.push(boundaryVerdict(undefined, probes.boundary?.() ?? BOUNDARY_UNSET));
  } else {
    out.push({ name: "ports", status: "pass", detail: `the running daemon answers on ${s.AGENT_SUPERVISOR_HTTP_PORT}` });
    out.push(ready === 200
      ? { name: "gateway readiness", status: "pass", detail: "ready (hello-ok)" }
      : { name: "gateway readiness", status: "fail", detail: `/readyz answered ${ready}`, hint: "agent-supervisor status shows why" });
    const daemon = probes.health ? healthBoundaryCheck(await probes.health(`${base}/health`).catch(() => undefined)) : undefined;
    out.push(boundaryVerdict(daemon, probes.boundary?.() ?? BOUNDARY_UNSET));
  }
  if (probes.providers) {
    const list = await probes.providers().catch(() => []);
    if (list.length === 0) out.push({ name: "provider keys", status: "warn", detail: "no model provider configured yet", hint: "set MOONSHOT_API_KEY, OPENAI_API_KEY or OPENAI_COMPAT_BASE_URL, or give the runtime secrets at the control plane" });
    for (const p of list) out.push(providerDoctorCheck(p.provider, p.baseUrl, p.reading));
  }
  if (s.CONTROL_PLANE_URL === undefined) {
    out.push({ name: "control plane", status: "pass", detail: "not configured (standalone)" });
  } else {
    const url = `${s.CONTROL_PLANE_URL.replace(/\/+$/, "")}/v1/runtimes/${encodeURIComponent(s.RUNTIME_ID ?? "")}/skills`;
    const code = await probes.httpStatus(url, { authorization: `Bearer ${s.CONTROL_PLANE_TOKEN ?? ""}` }).catch((err: Error) => err.message);
    if (code === 200) out.push({ name: "control plane", status: "pass", detail: `reachable and accepts the service token (${new URL(s.CONTROL_PLANE_URL).host})` });
    else if (code === 401 || code === 403) out.push({ name: "control plane", status: "fail", detail: `answers ${code}: the service token or runtime id is refused`, hint: "check CONTROL_PLANE_TOKEN, RUNTIME_ID and ACCOUNT_ID" });
    else out.push({ name: "control plane", status: "fail", detail: `not reachable: ${code}`, hint: "check CONTROL_PLANE_URL, DNS and outbound HTTPS" });
    const token = tokenSourceVerdict(tokenSource);
    if (token) out.push(token);
  }
  return out;
}
