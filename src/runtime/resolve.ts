/**
 * Which Node binary and openclaw.mjs the supervisor spawns the gateway with: the operator's own
 * (OPENCLAW_NODE + OPENCLAW_ENTRY) or the managed runtime recorded in `current.json`.
 */
import { access, constants, readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { RUNTIME_ERROR_CODES as E, RuntimeError } from "./errors.ts";
import { readCurrent, runtimeLayout } from "./layout.ts";

/** The settings this needs (a subset of `Settings`, renamed). */
export type RuntimeSettings = {
  /** AGENT_SUPERVISOR_DATA_DIR. */
  dataDir: string;
  /** OPENCLAW_NODE and OPENCLAW_ENTRY: both or neither. */
  openclawNode?: string | undefined;
  openclawEntry?: string | undefined;
  /** OPENCLAW_VERSION: the managed runtime must be this version (or one of `acceptVersions`). */
  openclawVersion: string;
  /** Versions a version change made current (runtime/upgrade-journal.ts, acceptedVersions). */
  acceptVersions?: readonly string[] | undefined;
};

/** {@link RuntimeSettings} from the daemon's settings (AGENT_SUPERVISOR_DATA_DIR, OPENCLAW_*). */
export function runtimeSettingsOf(s: {
  AGENT_SUPERVISOR_DATA_DIR: string;
  OPENCLAW_NODE?: string | undefined;
  OPENCLAW_ENTRY?: string | undefined;
  OPENCLAW_VERSION: string;
}): RuntimeSettings {
  return { dataDir: s.AGENT_SUPERVISOR_DATA_DIR, openclawNode: s.OPENCLAW_NODE, openclawEntry: s.OPENCLAW_ENTRY, openclawVersion: s.OPENCLAW_VERSION };
}

/**
 * The gateway runtime. Paths are absolute. `openclawVersion` is the managed version, or for an
 * external runtime the version in the package.json beside the entry (undefined if unreadable).
 */
export type GatewayRuntime = {
  nodePath: string;
  entryPath: string;
  openclawVersion: string | undefined;
  source: "managed" | "external";
};

const INSTALL_HINT = "run 'agent-supervisor openclaw install' (or set OPENCLAW_NODE and OPENCLAW_ENTRY)";

/**
 * Resolve the runtime; reads the disk, starts nothing.
 * @throws RuntimeError ERR_RUNTIME_EXTERNAL when only one of OPENCLAW_NODE / OPENCLAW_ENTRY is
 *   set, the node is not an executable file or the entry not a file;
 *   ERR_RUNTIME_MISSING when nothing is installed, `current.json` is unreadable, its files are
 *   gone, or it records another version than OPENCLAW_VERSION (message says to run install)
 */
export async function resolveGatewayRuntime(s: RuntimeSettings): Promise<GatewayRuntime> {
  if (s.openclawNode !== undefined || s.openclawEntry !== undefined) return resolveExternal(s.openclawNode, s.openclawEntry);
  const layout = runtimeLayout(s.dataDir);
  const rec = await readCurrent(layout.currentFile);
  if (!rec) {
    throw new RuntimeError(E.RUNTIME_MISSING, `no managed OpenClaw runtime in ${layout.root}; ${INSTALL_HINT}`);
  }
  if (rec.openclawVersion !== s.openclawVersion && !(s.acceptVersions ?? []).includes(rec.openclawVersion)) {
    throw new RuntimeError(E.RUNTIME_MISSING, `OPENCLAW_VERSION is ${s.openclawVersion} but the installed runtime is ${rec.openclawVersion}; run 'agent-supervisor openclaw install' to install ${s.openclawVersion}`);
  }
  for (const path of [rec.nodePath, rec.entryPath]) {
    if (!(await isFile(path))) {
      throw new RuntimeError(E.RUNTIME_MISSING, `the managed runtime recorded in ${layout.currentFile} lacks ${path}; ${INSTALL_HINT}`);
    }
  }
  return { nodePath: rec.nodePath, entryPath: rec.entryPath, openclawVersion: rec.openclawVersion, source: "managed" };
}

async function resolveExternal(node: string | undefined, entry: string | undefined): Promise<GatewayRuntime> {
  if (node === undefined || entry === undefined) {
    throw new RuntimeError(E.RUNTIME_EXTERNAL, "OPENCLAW_NODE and OPENCLAW_ENTRY must be set together");
  }
  const nodePath = resolve(node);
  const entryPath = resolve(entry);
  if (!(await isFile(nodePath)) || !(await access(nodePath, constants.X_OK).then(() => true, () => false))) {
    throw new RuntimeError(E.RUNTIME_EXTERNAL, `OPENCLAW_NODE=${node} is not an executable file`);
  }
  if (!(await isFile(entryPath))) {
    throw new RuntimeError(E.RUNTIME_EXTERNAL, `OPENCLAW_ENTRY=${entry} is not a file`);
  }
  const version = await readFile(resolve(dirname(entryPath), "package.json"), "utf8").then(
    (text) => {
      const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
      return pkg.name === "openclaw" && typeof pkg.version === "string" ? pkg.version : undefined;
    },
    () => undefined,
  ).catch(() => undefined);
  return { nodePath, entryPath, openclawVersion: version, source: "external" };
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((st) => st.isFile(), () => false);
}
