/** writeFileAtomic / writeGatewayFiles on a real temp directory. */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { validateSettings } from "../../src/config/load.ts";
import { gatewayLayout } from "../../src/core/data-dir.ts";
import { gatewayConfigText } from "../../src/supervisor/gateway-config.ts";
import { writeGatewayFiles } from "../../src/supervisor/gateway-files.ts";
import { writeFileAtomic } from "../../src/core/fs-atomic.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";

afterEach(removeTempDirs);

describe("writeFileAtomic", () => {
  it("writes the content with mode 0600 and leaves no temp file", async () => {
    const dir = tempDir();
    const path = join(dir, "nested", "openclaw.json");
    await writeFileAtomic(path, "{\"a\":1}\n");
    expect(readFileSync(path, "utf8")).toBe("{\"a\":1}\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "nested")).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, "nested"))).toEqual(["openclaw.json"]);
  });

  it("replaces an existing, more permissive file and ends at 0600", async () => {
    const dir = tempDir();
    const path = join(dir, "gateway.pid");
    writeFileSync(path, "old", { mode: 0o644 });
    await writeFileAtomic(path, "new");
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["gateway.pid"]);
  });
});

describe("writeGatewayFiles", () => {
  it.each([
    [0o077, 0o700, 0o600],
    [0o007, 0o770, 0o660],
  ])("under umask %o creates the directories %o and an openclaw.json %o without secret values", async (umask, dirMode, fileMode) => {
    const dataDir = tempDir("as-data-");
    const layout = gatewayLayout(dataDir);
    const key = "sk-moonshot-SECRET-9999999999";
    const old = process.umask(umask);
    try {
      await writeGatewayFiles({ layout, config: gatewayConfigText(validateSettings({ MOONSHOT_API_KEY: key }, {}), layout) });
    } finally {
      process.umask(old);
    }
    for (const d of [layout.homeDir, layout.stateDir, layout.workspaceDir, join(layout.root, "logs")]) {
      expect(statSync(d).mode & 0o777, d).toBe(dirMode);
    }
    const text = readFileSync(layout.configPath, "utf8");
    expect(statSync(layout.configPath).mode & 0o777).toBe(fileMode);
    expect(text).not.toContain(key);
    const cfg = JSON.parse(text);
    expect(cfg.models.providers.moonshot.apiKey).toBe("${MOONSHOT_API_KEY}");
    expect(cfg.agents.defaults.workspace).toBe(layout.workspaceDir);
  });
});
