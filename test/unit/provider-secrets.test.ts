import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateSettings } from "../../src/config/load.ts";
import { applyProviderSecrets, loadStoredSecrets, secretValues, storeSecrets } from "../../src/supervisor/provider-secrets.ts";
import { gatewayLayout } from "../../src/core/data-dir.ts";
import { renderGatewayConfig } from "../../src/supervisor/gateway-config.ts";
import type { Secrets } from "../../src/sync/contract.ts";

const base = validateSettings({ OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1", OPENAI_COMPAT_MODEL: "local" }, {});
const secrets: Secrets = {
  accountId: "a",
  runtimeId: "r",
  version: "7",
  providers: { moonshot: { apiKey: "sk-moon-rotated-1" }, openai: { apiKey: "sk-openai-1", model: "gpt-x" } },
};

describe("applyProviderSecrets", () => {
  it("overrides providers named in the secrets and keeps the rest", () => {
    const s = applyProviderSecrets(base, secrets);
    expect(s.MOONSHOT_API_KEY).toBe("sk-moon-rotated-1");
    expect(s.OPENAI_API_KEY).toBe("sk-openai-1");
    expect(s.OPENAI_MODEL).toBe("gpt-x");
    expect(s.OPENAI_COMPAT_BASE_URL).toBe("http://127.0.0.1:1/v1");
    const cfg = renderGatewayConfig(s, gatewayLayout("/data")) as any;
    expect(cfg.agents.defaults.model).toEqual({ primary: "moonshot/kimi-k2.5", fallbacks: ["openai/gpt-x", "compat/local"] });
    expect(JSON.stringify(cfg)).not.toContain("sk-moon-rotated-1");
  });
  it("without secrets returns the settings unchanged", () => {
    expect(applyProviderSecrets(base, undefined)).toBe(base);
  });
  it("lists the secret values", () => {
    expect(secretValues(secrets).sort()).toEqual(["sk-moon-rotated-1", "sk-openai-1"]);
  });
});

describe("stored secrets", () => {
  it("round-trips through a 0600 file; absent is undefined; corrupt is an error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "as-secrets-"));
    try {
      const path = join(dir, "gateway", "provider-secrets.json");
      expect(await loadStoredSecrets(path)).toBeUndefined();
      await storeSecrets(path, secrets);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await loadStoredSecrets(path)).toEqual(secrets);
      writeFileSync(path, JSON.stringify({ ...secrets, providers: { moonshot: { apiKey: 5 } } }));
      await expect(loadStoredSecrets(path)).rejects.toThrow(/provider-secrets.json is invalid: providers.moonshot.apiKey/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
