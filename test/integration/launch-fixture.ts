/**
 * A GatewayLaunch over a real data directory, as the daemon builds it (assemble.ts), with a
 * runtime that is never started: for the tests of what it stores and prepares on disk.
 */
import { join } from "node:path";
import { validateSettings } from "../../src/config/load.ts";
import type { AuditLog } from "../../src/core/audit.ts";
import { dataDirLayout } from "../../src/core/data-dir.ts";
import { GatewayLaunch } from "../../src/supervisor/launch.ts";
import { memoryLogger } from "./helpers.ts";

/** The launch over `dataDir`, its layout, its log and the workspace's skills directory. */
export function launchIn(dataDir: string, audit?: AuditLog) {
  const files = dataDirLayout(dataDir);
  const sink = memoryLogger("info");
  const settings = validateSettings({ OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1", AGENT_SUPERVISOR_DATA_DIR: dataDir }, {});
  const launch = new GatewayLaunch({
    settings,
    layout: files.gateway,
    files,
    gatewayToken: "gateway-token-0123456789",
    parentEnv: {},
    findRuntime: async () => ({ nodePath: process.execPath, entryPath: "/opt/openclaw/openclaw.mjs", openclawVersion: "2026.9.6", source: "external" }),
    log: sink.log,
    ...(audit ? { audit } : {}),
  });
  return { launch, files, sink, skillsDir: join(files.gateway.workspaceDir, "skills") };
}
