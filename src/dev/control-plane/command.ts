/**
 * The `agent-supervisor dev control-plane` command body, for cli/dev.ts to wire:
 * `[--port 18800] [--host H] [--db FILE] [--service-token T] [--admin-token T] [--runtime RID:ACCOUNT ...]`.
 * Starts the reference control plane, prints where it listens, where its tokens are and how to
 * point a daemon at it, and runs until the signal (or SIGINT/SIGTERM) arrives.
 */
import { isAbsolute, join, relative } from "node:path";
import { ensureSecretFile } from "../../config/secret-file.ts";
import { ConfigError } from "../../core/errors.ts";
import { isBearerToken } from "./auth.ts";
import type { RuntimeRecord } from "./store_runtimes.ts";
import { startReferenceControlPlane, type RunningControlPlane } from "./server.ts";

/** Options of {@link runControlPlaneCommand}, as the CLI flags give them (strings are parsed here). */
export type ControlPlaneCommandOptions = {
  /** Default 18800; 0 picks a free port. */
  port?: string | number | undefined;
  /** Default 127.0.0.1. */
  host?: string | undefined;
  /** SQLite file; default ":memory:" (state is lost on exit). */
  db?: string | undefined;
  /** Default: the content of `<stateDir>/service.token`, generated on first use (32 random bytes, base64url, mode 0600). */
  serviceToken?: string | undefined;
  /** Default: the content of `<stateDir>/admin.token`, generated likewise. */
  adminToken?: string | undefined;
  /** `RID:ACCOUNT` pairs (split at the first colon); default `dev-runtime:dev-account`. */
  runtime?: string[] | undefined;
  /** Directory of the generated token files; default `.data/control-plane` under `cwd`. */
  stateDir?: string | undefined;
  /** Lease length (ms); default 60000. */
  leaseMs?: number | undefined;
};

/** What {@link runControlPlaneCommand} needs from cli/dev.ts. */
export type ControlPlaneCommandDeps = {
  /** Writes one line (no trailing newline) to stderr. */
  writeErr: (line: string) => void;
  /** Stops the command; without it SIGINT/SIGTERM of this process do. */
  signal?: AbortSignal | undefined;
  /** Base of relative paths; default process.cwd(). */
  cwd?: string | undefined;
  /** Called once listening (tests use it to reach the running instance). */
  onStarted?: ((cp: RunningControlPlane) => void) | undefined;
};

/**
 * Parse `RID:ACCOUNT` flags. Pure.
 * @throws ConfigError for a flag without a colon or with an empty side
 */
export function parseRuntimeFlags(flags: readonly string[]): RuntimeRecord[] {
  return flags.map((f) => {
    const i = f.indexOf(":");
    if (i <= 0 || i === f.length - 1) throw new ConfigError(`--runtime ${JSON.stringify(f)}: expected RUNTIME_ID:ACCOUNT_ID`);
    return { runtimeId: f.slice(0, i), accountId: f.slice(i + 1) };
  });
}

/**
 * Run the reference control plane until stopped, then close it.
 * @throws ConfigError for a bad --port or --runtime, or invalid or equal tokens; UnavailableError
 *   ERR_HTTP_LISTEN if the port is taken
 */
export async function runControlPlaneCommand(o: ControlPlaneCommandOptions, d: ControlPlaneCommandDeps): Promise<void> {
  const cwd = d.cwd ?? process.cwd();
  const port = Number(o.port ?? 18800);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port ${String(o.port)}: expected 0-65535`);
  const runtimes = parseRuntimeFlags(o.runtime?.length ? o.runtime : ["dev-runtime:dev-account"]);
  const stateDir = resolveFrom(cwd, o.stateDir ?? join(".data", "control-plane"));
  const serviceFile = join(stateDir, "service.token");
  const adminFile = join(stateDir, "admin.token");
  const serviceToken = o.serviceToken ?? (await ensureSecretFile(serviceFile));
  const adminToken = o.adminToken ?? (await ensureSecretFile(adminFile));
  const dbPath = o.db === undefined || o.db === ":memory:" ? ":memory:" : resolveFrom(cwd, o.db);

  if (!isBearerToken(serviceToken)) throw new ConfigError("the service token must be an RFC 6750 b64token ([A-Za-z0-9-._~+/] then = padding)");
  if (!isBearerToken(adminToken)) throw new ConfigError("the admin token must be an RFC 6750 b64token ([A-Za-z0-9-._~+/] then = padding)");
  if (serviceToken === adminToken) throw new ConfigError("the service token and the admin token must differ");

  const cp = await startReferenceControlPlane({ host: o.host ?? "127.0.0.1", port, dbPath, serviceToken, adminToken, runtimes, leaseMs: o.leaseMs });
  const show = (p: string) => relative(cwd, p) || p;
  const adminAuth = o.adminToken === undefined ? `$(cat ${show(adminFile)})` : "<admin token>";
  const first = runtimes[0]!;
  for (const line of [
    `reference control plane (a development and test peer, not the fleet's control plane) listening at ${cp.url}`,
    `  database: ${dbPath === ":memory:" ? ":memory: (state is lost on exit; --db FILE keeps it)" : show(dbPath)}`,
    `  service token: ${o.serviceToken === undefined ? show(serviceFile) : "as given by --service-token"}`,
    `  admin token:   ${o.adminToken === undefined ? show(adminFile) : "as given by --admin-token"}`,
    `  runtimes: ${runtimes.map((r) => `${r.runtimeId} (account ${r.accountId})`).join(", ")}`,
    `point a daemon at it (env file or environment):`,
    `  CONTROL_PLANE_URL=${cp.url}`,
    `  CONTROL_PLANE_TOKEN=${o.serviceToken === undefined ? `<content of ${show(serviceFile)}>` : "<the --service-token value>"}`,
    `  RUNTIME_ID=${first.runtimeId}`,
    `  ACCOUNT_ID=${first.accountId}`,
    `enqueue a turn, then read it (see docs/control-plane-api.md for the whole admin API):`,
    `  curl -s -H "authorization: Bearer ${adminAuth}" -H 'content-type: application/json' \\`,
    `    -d '{"accountId":"${first.accountId}","conversationId":"demo","message":"hello"}' ${cp.url}/admin/turns`,
    `  curl -s -H "authorization: Bearer ${adminAuth}" ${cp.url}/admin/turns/<turnId>`,
  ]) {
    d.writeErr(line);
  }
  d.onStarted?.(cp);
  await stopped(d.signal);
  await cp.close();
  d.writeErr("reference control plane stopped");
}

function resolveFrom(cwd: string, p: string): string {
  return isAbsolute(p) ? p : join(cwd, p);
}

/** Resolves when `signal` aborts, or (without one) on the first SIGINT or SIGTERM. */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal !== undefined) {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
      return;
    }
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
