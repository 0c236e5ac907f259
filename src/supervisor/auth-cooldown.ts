/**
 * Clearing the gateway's stale auth cooldown of a provider whose key was rotated (issue 12,
 * failure mode 3; upstream openclaw#23516, #70903).
 *
 * OpenClaw 2026.9.6 puts a configured ("inline") provider key that the provider refused (401/403,
 * billing) into a cooldown: 30 s, 1 min, then 5 min for repeated auth failures, 10 min for a key
 * reported revoked or for billing (docs/concepts/model-failover.md, "Cooldowns", "Billing
 * disables"). While it lasts, every turn fails before any model call with `Inline API key for
 * provider "<id>" is temporarily disabled after a provider auth/billing failure`. The state is
 * keyed by the provider, not by the key (`usageStats["inline-api-key:<provider>"]`), and kept in
 * the agent's SQLite auth state (`agents/<agent>/agent/openclaw-agent.sqlite`, table
 * `auth_profile_state`, column `state_json`), so it survives a restart and outlives the key it was
 * about: a fresh key stays refused until the window ends. 2026.9.6 has no RPC or command to
 * clear it (`openclaw models auth clear-cooldown` is only proposed upstream, openclaw#107671,
 * #120305; `models.authSetApiKey` writes a stored profile instead), so on a key rotation the
 * launch removes that one entry while the gateway is stopped, as the gateway's user
 * (gateway-files.ts), in one transaction, and touches nothing else. Lenient: a database, table,
 * row or entry that is not there is nothing to clear.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** The usage id OpenClaw keeps an inline key's cooldown under (usage-state.ts `resolveInlineProviderApiKeyUsageId`). Pure. */
export function inlineKeyUsageId(provider: string): string {
  return `inline-api-key:${provider.trim().toLowerCase()}`;
}

/**
 * `state_json` of `auth_profile_state` without the inline-key entries of `providers`. Pure.
 * @returns the new JSON and the providers whose entry was removed; undefined when nothing changes
 *   (no such entry, or not the JSON object expected: then it is left alone)
 */
export function withoutInlineCooldowns(stateJson: string, providers: readonly string[]): { json: string; removed: string[] } | undefined {
  let state: unknown;
  try {
    state = JSON.parse(stateJson);
  } catch {
    return undefined;
  }
  const usage = (state as { usageStats?: unknown } | null)?.usageStats;
  if (typeof usage !== "object" || usage === null || Array.isArray(usage)) return undefined;
  const stats = usage as Record<string, unknown>;
  const removed = providers.filter((p) => Object.hasOwn(stats, inlineKeyUsageId(p)));
  if (removed.length === 0) return undefined;
  for (const p of removed) delete stats[inlineKeyUsageId(p)];
  return { json: JSON.stringify(state), removed };
}

/** One database where an entry was removed: its path and the providers. */
export type ClearedCooldown = { db: string; providers: string[] };

/** The agent databases under the gateway's state directory (`agents/<id>/agent/openclaw-agent.sqlite`) that exist. */
async function agentDatabases(stateDir: string): Promise<string[]> {
  const agents = await readdir(join(stateDir, "agents")).catch(() => [] as string[]);
  const out: string[] = [];
  for (const a of agents) {
    const db = join(stateDir, "agents", a, "agent", "openclaw-agent.sqlite");
    // A regular file only: a symlink or anything else is not OpenClaw's database.
    if ((await lstat(db).catch(() => undefined))?.isFile()) out.push(db);
  }
  return out;
}

/**
 * How long to wait for another writer's lock (ms). The gateway is stopped, so nobody should hold
 * it; and SQLite's busy wait blocks the event loop of whoever runs this (the daemon itself when
 * the gateway has no user of its own), as the daemon's own database does (250 ms, store/db.ts).
 */
const BUSY_TIMEOUT_MS = 250;

/** Remove the entries from one database, in one transaction. @throws SQLite errors (busy, I/O) */
function clearIn(path: string, providers: readonly string[], nowMs: number): string[] {
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'auth_profile_state'").get();
    if (!table) return [];
    db.exec("BEGIN IMMEDIATE");
    try {
      const removed = new Set<string>();
      const rows = db.prepare("SELECT state_key, state_json FROM auth_profile_state").all() as { state_key: string; state_json: string }[];
      const update = db.prepare("UPDATE auth_profile_state SET state_json = ?, updated_at = ? WHERE state_key = ?");
      for (const row of rows) {
        const next = typeof row.state_json === "string" ? withoutInlineCooldowns(row.state_json, providers) : undefined;
        if (!next) continue;
        update.run(next.json, nowMs, row.state_key);
        for (const p of next.removed) removed.add(p);
      }
      db.exec("COMMIT");
      return [...removed];
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  } finally {
    db.close();
  }
}

/**
 * Clear the inline-key cooldowns of `providers` in every agent database under `stateDir`. Run
 * only while the gateway is stopped, and as the gateway's user when it has its own (the caller's
 * job: gateway-files.ts).
 * @returns the databases where an entry was removed (empty: there was none)
 * @throws SQLite errors (the database busy past 250 ms, I/O), fs errors other than a missing directory
 */
export async function clearInlineKeyCooldowns(stateDir: string, providers: readonly string[], nowMs = Date.now()): Promise<ClearedCooldown[]> {
  if (providers.length === 0) return [];
  const out: ClearedCooldown[] = [];
  for (const db of await agentDatabases(stateDir)) {
    const removed = clearIn(db, providers, nowMs);
    if (removed.length > 0) out.push({ db, providers: removed });
  }
  return out;
}
