/**
 * The openclaw.json the daemon writes is valid for the pinned OpenClaw, checked by the real
 * `openclaw config validate` (a typo'd key would make the gateway exit 78 at every start).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, inject, it } from "vitest";
import { validateSettings } from "../../src/config/load.ts";
import { gatewayLayout } from "../../src/core/data-dir.ts";
import { gatewayConfigText, gatewayEnv } from "../../src/supervisor/gateway-config.ts";
import { writeGatewayFiles } from "../../src/supervisor/gateway-files.ts";

const dir = mkdtempSync(join(tmpdir(), "as-cfg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it.each([
  ["compat only", { OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:18999/v1", OPENAI_COMPAT_MODEL: "echo-1" }],
  ["moonshot primary, openai and compat fallbacks", { MOONSHOT_API_KEY: "sk-m", OPENAI_API_KEY: "sk-o", OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1" }],
])("%s: openclaw config validate accepts it", async (name, vars) => {
  const s = validateSettings({ ...vars, AGENT_SUPERVISOR_DATA_DIR: join(dir, name.replace(/\W+/g, "-")) }, {});
  const layout = gatewayLayout(s.AGENT_SUPERVISOR_DATA_DIR);
  await writeGatewayFiles({ layout, config: gatewayConfigText(s, layout) });
  const current = JSON.parse(readFileSync(join(inject("e2eRuntimeDir"), "current.json"), "utf8")) as { nodePath: string; entryPath: string };
  const env = gatewayEnv(s, layout, "gateway-token-for-validation", process.env);
  const res = await promisify(execFile)(current.nodePath, [current.entryPath, "config", "validate"], { env, encoding: "utf8", timeout: 60_000 });
  expect(res.stdout).toMatch(/Config valid/);
}, 90_000);
