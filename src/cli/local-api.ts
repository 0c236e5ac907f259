/** How a command reaches the running daemon: its local API address and bearer token. */
import type { Settings } from "../config/schema.ts";
import { readSecretFile } from "../config/secret-file.ts";
import { dataDirLayout } from "../core/data-dir.ts";
import { UnavailableError } from "../core/errors.ts";
import { createApiClient, type ApiClient } from "./api-client.ts";

/**
 * A client of the daemon's local API at AGENT_SUPERVISOR_HTTP_HOST:PORT (a wildcard listen
 * address is reached on 127.0.0.1; an IPv6 host is bracketed).
 * @param token the bearer token ("" for the unauthenticated health routes)
 */
export function apiClientFor(s: Pick<Settings, "AGENT_SUPERVISOR_HTTP_HOST" | "AGENT_SUPERVISOR_HTTP_PORT">, token: string, fetchFn: typeof fetch): ApiClient {
  const host = s.AGENT_SUPERVISOR_HTTP_HOST === "0.0.0.0" ? "127.0.0.1" : s.AGENT_SUPERVISOR_HTTP_HOST;
  return createApiClient({ baseUrl: `http://${host.includes(":") ? `[${host}]` : host}:${s.AGENT_SUPERVISOR_HTTP_PORT}`, token, fetch: fetchFn });
}

/** The local API token, for CLI clients. @throws UnavailableError ERR_API_TOKEN with a hint */
export async function readApiToken(dataDir: string): Promise<string> {
  const path = dataDirLayout(dataDir).apiToken;
  try {
    return await readSecretFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new UnavailableError(
      "ERR_API_TOKEN",
      `cannot read the local API token ${path} (${code}): is the daemon running with this data directory, and are you its user or root?`,
    );
  }
}
