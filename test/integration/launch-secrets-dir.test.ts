/**
 * Issue 11: the provider secrets and the skills manifest the control plane sends are kept outside
 * the gateway's tree (`<data>/secrets/`, 0700), so a gateway running as its own user, whose tree
 * that is, cannot read them; it gets the provider keys through its environment only. A data
 * directory written by an older daemon (files under `gateway/`) is moved over at load, losing
 * nothing. Real files.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { launchIn } from "./launch-fixture.ts";

afterEach(removeTempDirs);

const SECRETS = { accountId: "a", runtimeId: "r", version: "7", providers: { compat: { baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-stored-0123456789", model: "m" } } };

describe("where the control plane's secrets are kept", () => {
  it("outside the gateway's tree, in a 0700 directory of the daemon's", async () => {
    const dataDir = tempDir("as-secrets-");
    const { launch, files } = launchIn(dataDir);
    await launch.store({ secrets: SECRETS as never });
    expect(files.providerSecrets.startsWith(join(dataDir, "secrets") + "/")).toBe(true);
    expect(files.skillsManifest.startsWith(join(dataDir, "secrets") + "/")).toBe(true);
    expect(files.providerSecrets.startsWith(files.gateway.root)).toBe(false);
    expect(statSync(join(dataDir, "secrets")).mode & 0o777).toBe(0o700);
    expect(statSync(files.providerSecrets).mode & 0o777).toBe(0o600);
    expect(readFileSync(files.providerSecrets, "utf8")).toContain("sk-stored-0123456789");
  });

  it("files an older daemon kept under gateway/ are moved over at load, and used", async () => {
    const dataDir = tempDir("as-secrets-");
    mkdirSync(join(dataDir, "gateway"), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, "gateway", "provider-secrets.json"), JSON.stringify(SECRETS), { mode: 0o600 });
    writeFileSync(join(dataDir, "gateway", "skills-manifest.json"), JSON.stringify({ accountId: "a", runtimeId: "r", version: "3", skills: [] }), { mode: 0o600 });
    const { launch, files } = launchIn(dataDir);
    await launch.loadStored();
    expect(launch.secrets?.version).toBe("7");
    expect(launch.skills?.version).toBe("3");
    expect(existsSync(join(dataDir, "gateway", "provider-secrets.json"))).toBe(false);
    expect(existsSync(join(dataDir, "gateway", "skills-manifest.json"))).toBe(false);
    expect(existsSync(files.providerSecrets)).toBe(true);
    expect(existsSync(files.skillsManifest)).toBe(true);
  });
});
