/**
 * The data directory (AGENT_SUPERVISOR_DATA_DIR, default /var/lib/agent-supervisor), described
 * once. Pure: paths only, nothing is created here.
 *
 * ```
 * <dataDir>/                 0700, or 0711 with GATEWAY_USER (its user passes through to gateway/)
 *   agent-supervisor.db      SQLite: turns, leases, outbox, events, decay journal (store/)
 *   gateway.token            0600, the gateway's auth token (generated)
 *   api.token                0600, bearer token of the local API (generated)
 *   gateway.pid              the running gateway's pid, to reap it after a kill -9 of the daemon
 *   native/                  the single executable's SQLite addon, extracted (store/native.ts)
 *   runtime/                 the managed Node + openclaw (runtime/layout.ts has its inside)
 *   secrets/                 0700, the daemon's only: never inside the gateway's tree (issue 11)
 *     provider-secrets.json  0600, provider keys from the control plane, as last applied
 *     skills-manifest.json   0600, approved skills from the control plane, as last applied
 *     launched-keys.json     0600, fingerprints of the provider keys the gateway last started with
 *   gateway/                 the gateway's own tree (its HOME, state, workspace, logs); with
 *                            GATEWAY_USER, its user's, 2770, shared through its group
 *     home/ state/openclaw.json workspace/ logs/openclaw.log
 *
 * Daemons before issue 11 kept the two secrets files under gateway/; GatewayLaunch.loadStored
 * moves them to secrets/.
 * ```
 */
import { dirname, join, resolve } from "node:path";

/** Directories of the gateway under the data directory. */
export type GatewayLayout = {
  root: string;
  homeDir: string;
  stateDir: string;
  configPath: string;
  workspaceDir: string;
  logFile: string;
};

/** Layout of the gateway's directories under `dataDir`. */
export function gatewayLayout(dataDir: string): GatewayLayout {
  const root = join(dataDir, "gateway");
  return {
    root,
    homeDir: join(root, "home"),
    stateDir: join(root, "state"),
    configPath: join(root, "state", "openclaw.json"),
    workspaceDir: join(root, "workspace"),
    logFile: join(root, "logs", "openclaw.log"),
  };
}

/** The gateway's tree: its root and the directories its user owns from the start. Pure. */
export function gatewayTreeDirs(layout: GatewayLayout): { root: string; subdirs: string[] } {
  return { root: layout.root, subdirs: [layout.homeDir, layout.stateDir, layout.workspaceDir, dirname(layout.logFile)] };
}

/** Every path the daemon keeps under `dataDir` (see the module comment). */
export function dataDirLayout(dataDir: string) {
  const gateway = gatewayLayout(dataDir);
  const secretsDir = join(dataDir, "secrets");
  return {
    db: join(dataDir, "agent-supervisor.db"),
    gatewayToken: join(dataDir, "gateway.token"),
    apiToken: join(dataDir, "api.token"),
    gatewayPid: join(dataDir, "gateway.pid"),
    nativeDir: join(dataDir, "native"),
    runtimeDir: join(resolve(dataDir), "runtime"),
    gateway,
    secretsDir,
    providerSecrets: join(secretsDir, "provider-secrets.json"),
    skillsManifest: join(secretsDir, "skills-manifest.json"),
    launchedKeys: join(secretsDir, "launched-keys.json"),
  };
}
