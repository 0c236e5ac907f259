/**
 * Installs the real OpenClaw runtime once, through the project's own install path
 * (`agent-supervisor openclaw install`), into `.cache/e2e-runtime` inside the project. A second
 * run finds it installed and does nothing. End-to-end tests read its location via inject().
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

const ROOT = resolve(import.meta.dirname, "..", "..");

declare module "vitest" {
  export interface ProvidedContext {
    e2eRuntimeDir: string;
  }
}

export default function setup(project: TestProject): void {
  const dataDir = join(ROOT, ".cache", "e2e-runtime");
  const res = spawnSync(join(ROOT, "bin", "agent-supervisor"), ["--config", "/dev/null", "openclaw", "install"], {
    // The caller's environment as is: it may carry what reaching the registry needs (a CA bundle
    // in NODE_EXTRA_CA_CERTS, proxy settings).
    env: { ...process.env, AGENT_SUPERVISOR_DATA_DIR: dataDir },
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 15 * 60_000,
  });
  if (res.status !== 0 || !existsSync(join(dataDir, "runtime", "current.json"))) {
    throw new Error(`openclaw install for the end-to-end tests failed (exit ${res.status}, ${res.error?.message ?? ""})`);
  }
  project.provide("e2eRuntimeDir", join(dataDir, "runtime"));
}
