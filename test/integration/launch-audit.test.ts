/**
 * openclaw.json rewrites in the audit trail: a real GatewayLaunch over a real data directory
 * records `config.rewrite` with the changed key names (never values) when the file changes,
 * nothing when it does not, and the control plane as the actor after a rotation.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { AuditInput } from "../../src/core/audit.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { launchIn } from "./launch-fixture.ts";

afterEach(removeTempDirs);

describe("GatewayLaunch's config.rewrite entries", () => {
  it("created, then unchanged (no entry), then edited by hand: the changed keys, never their values", async () => {
    const audit: AuditInput[] = [];
    const { launch, files } = launchIn(tempDir("as-launch-audit-"), { record: (e) => void audit.push(e) });
    await launch.prepare();
    await launch.prepare();
    expect(audit).toMatchObject([{ action: "config.rewrite", actor: "daemon", detail: { created: true, path: files.gateway.configPath } }]);

    const cfg = JSON.parse(readFileSync(files.gateway.configPath, "utf8"));
    cfg.gateway.port = 1;
    cfg.extra = { note: "hand-edited-VALUE" };
    writeFileSync(files.gateway.configPath, JSON.stringify(cfg));
    await launch.prepare();
    expect(audit).toHaveLength(2);
    expect(audit[1]).toMatchObject({ action: "config.rewrite", actor: "daemon", detail: { changedKeys: ["extra", "gateway.port"] } });
    expect(JSON.stringify(audit)).not.toContain("hand-edited-VALUE");
  });

  it("after new secrets from the control plane: the changed keys, by the control plane", async () => {
    const audit: AuditInput[] = [];
    const { launch } = launchIn(tempDir("as-launch-audit-"), { record: (e) => void audit.push(e) });
    await launch.prepare();
    await launch.store({ secrets: { accountId: "a", runtimeId: "r", version: "2", providers: { openai: { apiKey: "sk-SECRET-rotated", model: "gpt-x" } } } });
    await launch.prepare();
    expect(audit).toHaveLength(2);
    expect(audit[1]).toMatchObject({ action: "config.rewrite", actor: "control-plane" });
    expect(audit[1]!.detail?.changedKeys).toEqual(expect.arrayContaining(["agents.defaults.model.primary", "models.providers.openai"]));
    expect(JSON.stringify(audit)).not.toContain("sk-SECRET-rotated");
  });
});
