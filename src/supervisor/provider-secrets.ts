/**
 * Provider secrets from the control plane: kept in one 0600 file beside the gateway's config
 * (never in SQLite or a log) and merged over the settings each time the gateway is prepared.
 */
import type { Settings } from "../config/schema.ts";
import { readJsonState, writeFileAtomic } from "../core/fs-atomic.ts";
import { secretsSchema, type Secrets } from "../sync/contract.ts";

/**
 * Settings with the control plane's providers applied. Pure. A provider present in `secrets`
 * replaces the same provider's settings; providers absent there keep their settings values.
 */
export function applyProviderSecrets(s: Settings, secrets: Secrets | undefined): Settings {
  if (!secrets) return s;
  const p = secrets.providers;
  const out: Settings = { ...s };
  if (p.moonshot) {
    out.MOONSHOT_API_KEY = p.moonshot.apiKey;
    if (p.moonshot.baseUrl) out.MOONSHOT_BASE_URL = p.moonshot.baseUrl;
    if (p.moonshot.model) out.MOONSHOT_MODEL = p.moonshot.model;
  }
  if (p.openai) {
    out.OPENAI_API_KEY = p.openai.apiKey;
    if (p.openai.model) out.OPENAI_MODEL = p.openai.model;
  }
  if (p.compat) {
    out.OPENAI_COMPAT_BASE_URL = p.compat.baseUrl;
    out.OPENAI_COMPAT_API_KEY = p.compat.apiKey;
    out.OPENAI_COMPAT_MODEL = p.compat.model;
    if (p.compat.contextTokens) out.OPENAI_COMPAT_CONTEXT_TOKENS = p.compat.contextTokens;
  }
  return out;
}

/** Every secret value in a secrets document (to scrub from the gateway's output). */
export function secretValues(secrets: Secrets | undefined): string[] {
  const p = secrets?.providers;
  return [p?.moonshot?.apiKey, p?.openai?.apiKey, p?.compat?.apiKey].filter((v): v is string => typeof v === "string" && v !== "");
}

/**
 * Read the stored secrets.
 * @returns undefined when none were stored yet
 * @throws StateFileError when the file exists but is not a valid secrets document (it is never
 *   partially written, so this means tampering or corruption: surfaced, not ignored)
 */
export async function loadStoredSecrets(path: string): Promise<Secrets | undefined> {
  return readJsonState(path, secretsSchema);
}

/** Store secrets atomically with mode 0600. @throws fs errors (ENOSPC); the old file stays */
export async function storeSecrets(path: string, secrets: Secrets): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(secrets)}\n`, 0o600);
}
