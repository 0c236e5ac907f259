/**
 * Clearing the gateway's stale inline-key cooldown on a key rotation (issue 12, failure mode 3),
 * on a real SQLite file shaped as openclaw 2026.9.6 keeps it (agents/main/agent/openclaw-agent.sqlite,
 * table auth_profile_state, WAL), and which providers count as rotated.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearInlineKeyCooldowns, inlineKeyUsageId, withoutInlineCooldowns } from "../../src/supervisor/auth-cooldown.ts";
import { keyPrint, keyPrints, loadKeyPrints, printsAfterStart, rotatedProviders, storeKeyPrints } from "../../src/supervisor/launched-keys.ts";

// As openclaw 2026.9.6 wrote it after a 401 from the mock model (2026-11-30), plus a stored profile's stats.
const STATE = {
  version: 1,
  usageStats: {
    "inline-api-key:compat": { cooldownUntil: 1796022256999, cooldownReason: "auth", errorCount: 1, failureCounts: { auth: 1 }, lastFailureAt: 1796022226999 },
    "inline-api-key:moonshot": { disabledUntil: 1796022826999, disabledReason: "auth_permanent", errorCount: 1 },
    "openai:work": { lastUsed: 1796022000000, cooldownUntil: 1796022300000, errorCount: 2 },
  },
};

describe("withoutInlineCooldowns", () => {
  it.each([
    ["the rotated provider's entry", ["compat"], ["compat"], ["inline-api-key:moonshot", "openai:work"]],
    ["two providers", ["compat", "moonshot"], ["compat", "moonshot"], ["openai:work"]],
    ["a provider without an entry: nothing", ["openai"], undefined, undefined],
    ["no provider: nothing", [], undefined, undefined],
  ] as const)("%s", (_name, providers, removed, left) => {
    const r = withoutInlineCooldowns(JSON.stringify(STATE), providers);
    if (removed === undefined) return expect(r).toBeUndefined();
    expect(r!.removed).toEqual(removed);
    const after = JSON.parse(r!.json);
    expect(Object.keys(after.usageStats)).toEqual(left);
    expect(after.version).toBe(1);
    // A stored profile's stats are never touched.
    expect(after.usageStats["openai:work"]).toEqual(STATE.usageStats["openai:work"]);
  });

  it.each([["not JSON", "{"], ["no usageStats", '{"version":1}'], ["usageStats not an object", '{"usageStats":[1]}'], ["null", "null"]])("leaves %s alone", (_n, json) => {
    expect(withoutInlineCooldowns(json, ["compat"])).toBeUndefined();
  });

  it("names the usage id as openclaw does", () => {
    expect(inlineKeyUsageId("Compat ")).toBe("inline-api-key:compat");
  });
});

describe("clearInlineKeyCooldowns on a real database", () => {
  let dir: string;
  let db: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "as-cooldown-"));
    mkdirSync(join(dir, "agents", "main", "agent"), { recursive: true });
    db = join(dir, "agents", "main", "agent", "openclaw-agent.sqlite");
    const d = new DatabaseSync(db);
    d.exec("PRAGMA journal_mode = WAL");
    d.exec("CREATE TABLE auth_profile_state (\n  state_key TEXT NOT NULL PRIMARY KEY,\n  state_json TEXT NOT NULL,\n  updated_at INTEGER NOT NULL\n) STRICT");
    d.exec("CREATE TABLE auth_profile_store (store_key TEXT NOT NULL PRIMARY KEY, store_json TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT");
    d.prepare("INSERT INTO auth_profile_state VALUES (?, ?, ?)").run("primary", JSON.stringify(STATE), 1);
    d.prepare("INSERT INTO auth_profile_store VALUES (?, ?, ?)").run("primary", '{"version":1,"profiles":{}}', 1);
    d.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const read = () => {
    const d = new DatabaseSync(db, { readOnly: true });
    try {
      return d.prepare("SELECT state_json, updated_at FROM auth_profile_state WHERE state_key = 'primary'").get() as { state_json: string; updated_at: number };
    } finally {
      d.close();
    }
  };

  it("removes the rotated provider's entry, stamps the row and keeps the rest", async () => {
    expect(await clearInlineKeyCooldowns(dir, ["compat"], 5000)).toEqual([{ db, providers: ["compat"] }]);
    const row = read();
    expect(Object.keys(JSON.parse(row.state_json).usageStats)).toEqual(["inline-api-key:moonshot", "openai:work"]);
    expect(row.updated_at).toBe(5000);
    // Again: nothing left to clear, nothing written.
    expect(await clearInlineKeyCooldowns(dir, ["compat"], 6000)).toEqual([]);
    expect(read().updated_at).toBe(5000);
  });

  it("finds nothing where there is nothing: no agents, another agent without the table, a symlinked database", async () => {
    expect(await clearInlineKeyCooldowns(join(dir, "missing"), ["compat"])).toEqual([]);
    mkdirSync(join(dir, "agents", "other", "agent"), { recursive: true });
    new DatabaseSync(join(dir, "agents", "other", "agent", "openclaw-agent.sqlite")).close();
    mkdirSync(join(dir, "agents", "linked", "agent"), { recursive: true });
    symlinkSync(db, join(dir, "agents", "linked", "agent", "openclaw-agent.sqlite"));
    expect(await clearInlineKeyCooldowns(dir, ["moonshot"], 7000)).toEqual([{ db, providers: ["moonshot"] }]);
    expect(await clearInlineKeyCooldowns(dir, [])).toEqual([]);
  });

  it("throws while another process holds the write lock past the busy wait (the launch logs it and retries at the next start)", async () => {
    const holder = new DatabaseSync(db);
    holder.exec("BEGIN IMMEDIATE");
    try {
      const started = Date.now();
      await expect(clearInlineKeyCooldowns(dir, ["compat"])).rejects.toThrow(/locked|busy/i);
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    expect(Object.keys(JSON.parse(read().state_json).usageStats)).toContain("inline-api-key:compat");
  }, 20_000);
});

describe("launched keys", () => {
  const now = { compat: keyPrint("sk-two"), moonshot: keyPrint("sk-moon") };
  it.each([
    ["no record: every provider", undefined, ["compat", "moonshot"]],
    ["same keys: none", { ...now }, []],
    ["one key rotated", { compat: keyPrint("sk-one"), moonshot: now.moonshot }, ["compat"]],
    ["a provider added", { compat: now.compat }, ["moonshot"]],
  ] as const)("rotatedProviders: %s", (_n, last, want) => {
    expect(rotatedProviders(last, now)).toEqual(want);
  });

  it("printsAfterStart keeps the old fingerprint of a rotated provider when clearing failed, so the next start tries again", () => {
    const last = { compat: keyPrint("sk-one"), moonshot: now.moonshot };
    expect(printsAfterStart(last, now, ["compat"], true)).toEqual(now);
    expect(printsAfterStart(last, now, ["compat"], false)).toEqual(last);
    expect(printsAfterStart(undefined, now, ["compat", "moonshot"], false)).toEqual({});
  });

  it("a fingerprint tells keys apart without holding them, and the record round-trips with mode 0600", async () => {
    expect(keyPrint("sk-one")).toMatch(/^[0-9a-f]{16}$/);
    expect(keyPrint("sk-one")).not.toBe(keyPrint("sk-two"));
    expect(keyPrints([{ provider: "compat", baseUrl: "x", apiKey: "sk-two" }])).toEqual({ compat: now.compat });
    const dir = mkdtempSync(join(tmpdir(), "as-prints-"));
    try {
      const file = join(dir, "launched-keys.json");
      expect(await loadKeyPrints(file)).toBeUndefined();
      await storeKeyPrints(file, now);
      expect(await loadKeyPrints(file)).toEqual(now);
      const { statSync, readFileSync, writeFileSync } = await import("node:fs");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, "utf8")).not.toContain("sk-two");
      writeFileSync(file, '{"version":2}');
      expect(await loadKeyPrints(file)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
