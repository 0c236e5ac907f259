/**
 * The gateway's files and environment, derived from settings.
 *
 * `renderGatewayConfig` and `gatewayEnv` are pure; `writeGatewayConfig` writes atomically with
 * mode 0600. Provider keys and the gateway token never appear in the config file or argv: the
 * file holds `${VAR}` references (OpenClaw's env substitution, docs/gateway/config-secrets-env.md)
 * and the values travel only in the child's environment.
 */
import template from "../../openclaw/openclaw.template.json" with { type: "json" };
import type { Settings } from "../config/schema.ts";
import type { GatewayLayout } from "../core/data-dir.ts";
import { ConfigError } from "../core/errors.ts";

/** Env var through which the gateway token reaches the child (referenced from openclaw.json). */
export const GATEWAY_TOKEN_ENV = "AGENT_SUPERVISOR_GATEWAY_TOKEN";

/** OpenAI's API base URL (the `openai` provider's; docs/providers/openai.md). */
export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** The key a compat server gets when none is set (a local server that needs none). */
const COMPAT_NO_KEY = "not-needed";

/**
 * One configured provider as the gateway calls it: its id in openclaw.json (`moonshot`, `openai`,
 * `compat`), its base URL and the API key the gateway sends (secret: never log it).
 */
export type ProviderEndpoint = { provider: string; baseUrl: string; apiKey: string };

/**
 * The configured providers, in failover order (primary first), with the key the gateway gets
 * through its environment ({@link gatewayEnv}; a compat server without a key gets "not-needed").
 * Pure. Empty when none is configured.
 */
export function providerEndpoints(s: Settings): ProviderEndpoint[] {
  const out: ProviderEndpoint[] = [];
  if (s.MOONSHOT_API_KEY !== undefined) out.push({ provider: "moonshot", baseUrl: s.MOONSHOT_BASE_URL, apiKey: s.MOONSHOT_API_KEY });
  if (s.OPENAI_API_KEY !== undefined) out.push({ provider: "openai", baseUrl: OPENAI_BASE_URL, apiKey: s.OPENAI_API_KEY });
  if (s.OPENAI_COMPAT_BASE_URL !== undefined) out.push({ provider: "compat", baseUrl: s.OPENAI_COMPAT_BASE_URL, apiKey: s.OPENAI_COMPAT_API_KEY ?? COMPAT_NO_KEY });
  return out;
}

type ProviderModel = { id: string; name: string; reasoning: boolean; contextWindow: number; maxTokens: number };
type ModelSelection = { providers: Record<string, unknown>; primary: string; fallbacks: string[] };

function provider(baseUrl: string, apiKeyEnv: string, model: ProviderModel): Record<string, unknown> {
  return {
    baseUrl,
    apiKey: `\${${apiKeyEnv}}`,
    api: "openai-completions",
    timeoutSeconds: 120,
    models: [
      { ...model, input: ["text"], cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } },
    ],
  };
}

/**
 * Pick providers and the failover chain. Moonshot is primary when its key is set, OpenAI next,
 * then the OpenAI-compatible server (docs/concepts/model-failover.md: primary + fallbacks).
 * @throws ConfigError when no provider is configured
 */
export function selectModels(s: Settings): ModelSelection {
  const providers: Record<string, unknown> = {};
  const chain: string[] = [];
  if (s.MOONSHOT_API_KEY !== undefined) {
    providers.moonshot = provider(s.MOONSHOT_BASE_URL, "MOONSHOT_API_KEY", {
      id: s.MOONSHOT_MODEL, name: `Moonshot ${s.MOONSHOT_MODEL}`, reasoning: true, contextWindow: 262_144, maxTokens: 32_768,
    });
    chain.push(`moonshot/${s.MOONSHOT_MODEL}`);
  }
  if (s.OPENAI_API_KEY !== undefined) {
    providers.openai = provider(OPENAI_BASE_URL, "OPENAI_API_KEY", {
      id: s.OPENAI_MODEL, name: `OpenAI ${s.OPENAI_MODEL}`, reasoning: false, contextWindow: 128_000, maxTokens: 16_384,
    });
    chain.push(`openai/${s.OPENAI_MODEL}`);
  }
  if (s.OPENAI_COMPAT_BASE_URL !== undefined) {
    providers.compat = provider(s.OPENAI_COMPAT_BASE_URL, "OPENAI_COMPAT_API_KEY", {
      id: s.OPENAI_COMPAT_MODEL, name: s.OPENAI_COMPAT_MODEL, reasoning: false,
      contextWindow: s.OPENAI_COMPAT_CONTEXT_TOKENS, maxTokens: 4096,
    });
    chain.push(`compat/${s.OPENAI_COMPAT_MODEL}`);
  }
  const [primary, ...fallbacks] = chain;
  if (primary === undefined) {
    throw new ConfigError(
      "no model provider configured: set MOONSHOT_API_KEY, OPENAI_API_KEY or OPENAI_COMPAT_BASE_URL",
    );
  }
  return { providers, primary, fallbacks };
}

/**
 * The gateway's cap on parallel agent runs across sessions (`agents.defaults.maxConcurrent`, its
 * `main` lane; docs/gateway/config-agents/models.md, default `max(8, CPUs * 4)`) for a daemon that
 * delivers `turnConcurrency` turns at once: those, plus one for the probe turn
 * (watchdogs/probe-turn.ts), which goes straight to the gateway and takes no delivery slot. Pure.
 *
 * Why not the gateway's default (issue 15, goal 3, BENCHMARKS.md "Concurrency"): with fewer lanes
 * than turns in flight, the gateway queues the rest in its lane, where they show no progress (the
 * stuck-run watchdog's clock runs: 240 s, then `sessions.abort`), their deadline runs, and a
 * probe turn waits behind long answers until it counts as missed (three misses restart the
 * gateway); with more, nothing but the daemon's turns and the probe ever uses them. So every turn
 * the daemon sends starts at once and waits in the daemon's queue (SQLite) instead, oldest first.
 * @returns a count of runs, >= 2
 */
export function gatewayMaxConcurrent(turnConcurrency: number): number {
  return turnConcurrency + 1;
}

/**
 * The full openclaw.json object: the template in `openclaw/` plus settings. Pure.
 * @throws ConfigError when no provider is configured
 */
export function renderGatewayConfig(s: Settings, layout: GatewayLayout): Record<string, unknown> {
  const { $comment: _comment, ...base } = structuredClone(template) as Record<string, any>;
  const models = selectModels(s);
  base.gateway = {
    ...base.gateway,
    port: s.OPENCLAW_GATEWAY_PORT,
    auth: { mode: "token", token: `\${${GATEWAY_TOKEN_ENV}}` },
  };
  base.models = { ...base.models, providers: models.providers };
  base.agents = {
    ...base.agents,
    defaults: {
      ...base.agents.defaults,
      workspace: layout.workspaceDir,
      bootstrapMaxChars: s.MEMORY_BOOTSTRAP_MAX_CHARS,
      model: { primary: models.primary, fallbacks: models.fallbacks },
      maxConcurrent: gatewayMaxConcurrent(s.TURN_CONCURRENCY),
    },
  };
  base.logging = { file: layout.logFile, maxFileBytes: s.GATEWAY_LOG_MAX_BYTES };
  return base;
}

/**
 * Env presets for a supervised, offline-quiet gateway: the embedding preset of
 * docs/gateway/embedding.md (2026.9.6: BONJOUR, NO_RESPAWN, SKIP_CHANNELS, EXEC_SHELL_SNAPSHOT),
 * updates left to the daemon (NO_AUTO_UPDATE), and `OPENCLAW_SERVICE_REPAIR_POLICY=external`, which
 * keeps `openclaw doctor` (our EX_CONFIG repair) from installing, starting or rewriting a service of
 * its own (docs/gateway/doctor/gateway-and-services.md): the daemon owns the lifecycle.
 */
export const GATEWAY_ENV_PRESETS: Readonly<Record<string, string>> = {
  OPENCLAW_DISABLE_BONJOUR: "1",
  OPENCLAW_NO_RESPAWN: "1",
  OPENCLAW_SKIP_CHANNELS: "1",
  OPENCLAW_EXEC_SHELL_SNAPSHOT: "0",
  OPENCLAW_NO_AUTO_UPDATE: "1",
  OPENCLAW_SERVICE_REPAIR_POLICY: "external",
  OPENCLAW_SKIP_CRON: "1",
  DO_NOT_TRACK: "1",
};

/** Variables of the daemon's own environment passed through to the gateway; nothing else leaks. */
const PASSTHROUGH = ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "HTTPS_PROXY", "NO_PROXY"];

/**
 * The child's complete environment. Pure.
 * @param token the gateway token (secret: only ever placed here)
 */
export function gatewayEnv(s: Settings, layout: GatewayLayout, token: string, parentEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSTHROUGH) {
    const v = parentEnv[k];
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, GATEWAY_ENV_PRESETS, {
    HOME: layout.homeDir,
    OPENCLAW_HOME: layout.homeDir,
    OPENCLAW_STATE_DIR: layout.stateDir,
    OPENCLAW_CONFIG_PATH: layout.configPath,
    [GATEWAY_TOKEN_ENV]: token,
  });
  // From the env file too, not only inherited (the daemon run from a shell): the gateway trusts the same CAs.
  if (s.NODE_EXTRA_CA_CERTS !== undefined) env.NODE_EXTRA_CA_CERTS = s.NODE_EXTRA_CA_CERTS;
  if (s.MOONSHOT_API_KEY !== undefined) env.MOONSHOT_API_KEY = s.MOONSHOT_API_KEY;
  if (s.OPENAI_API_KEY !== undefined) env.OPENAI_API_KEY = s.OPENAI_API_KEY;
  if (s.OPENAI_COMPAT_BASE_URL !== undefined) env.OPENAI_COMPAT_API_KEY = s.OPENAI_COMPAT_API_KEY ?? COMPAT_NO_KEY;
  return env;
}

/** argv for the gateway (no secrets: they are in the environment). */
export function gatewayArgs(entryPath: string, s: Settings): string[] {
  return [entryPath, "gateway", "run", "--port", String(s.OPENCLAW_GATEWAY_PORT), "--bind", "loopback"];
}

/** openclaw.json's text for `s` (no secret: the token is `${OPENCLAW_GATEWAY_TOKEN}`). Pure. @throws ConfigError (no provider) */
export function gatewayConfigText(s: Settings, layout: GatewayLayout): string {
  return `${JSON.stringify(renderGatewayConfig(s, layout), null, 2)}\n`;
}
