/** Shared by the upgrade tests: a fake installed runtime piece on real files. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CurrentRecord, runtimeLayout } from "../../src/runtime/layout.ts";

/**
 * Create `runtime/openclaw-<v>/.../openclaw.mjs` and `runtime/node-24.21.0/bin/node` (empty files)
 * under `dataDir`, as an install leaves them; the record current.json would hold for them.
 */
export async function installedRuntime(dataDir: string, v: string): Promise<CurrentRecord> {
  const l = runtimeLayout(dataDir);
  const entryPath = join(l.openclawDir(v), "node_modules", "openclaw", "openclaw.mjs");
  await mkdir(join(entryPath, ".."), { recursive: true });
  await writeFile(entryPath, "");
  const nodePath = join(l.nodeDir("24.21.0"), "bin", "node");
  await mkdir(join(nodePath, ".."), { recursive: true });
  await writeFile(nodePath, "", { mode: 0o755 });
  return { openclawVersion: v, nodeVersion: "24.21.0", npmVersion: "11.21.2", nodePath, entryPath, installedAt: new Date(0).toISOString() };
}
