/** renderGatewayConfig / selectModels / gatewayEnv / gatewayArgs: pure, no disk. */
import { describe, expect, it } from "vitest";
import { validateSettings } from "../../src/config/load.ts";
import { gatewayLayout } from "../../src/core/data-dir.ts";
import { ConfigError } from "../../src/core/errors.ts";
import {
  GATEWAY_ENV_PRESETS,
  GATEWAY_TOKEN_ENV,
  gatewayArgs,
  gatewayEnv,
  renderGatewayConfig,
  selectModels,
} from "../../src/supervisor/gateway-config.ts";

const MOONSHOT = "sk-moonshot-SECRET-1111111111";
const OPENAI = "sk-openai-SECRET-2222222222";
const COMPAT = "compat-SECRET-3333333333";
const TOKEN = "gateway-token-SECRET-4444444444";
const layout = gatewayLayout("/var/lib/agent-supervisor");

function settings(vars: Record<string, string>) {
  return validateSettings(vars, {});
}

const all = settings({
  MOONSHOT_API_KEY: MOONSHOT,
  OPENAI_API_KEY: OPENAI,
  OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:18999/v1",
  OPENAI_COMPAT_API_KEY: COMPAT,
});

type Json = Record<string, any>;

describe("renderGatewayConfig", () => {
  const cfg = renderGatewayConfig(all, layout) as Json;
  const text = JSON.stringify(cfg);

  it("contains no secret value, only ${VAR} references", () => {
    for (const secret of [MOONSHOT, OPENAI, COMPAT, TOKEN]) expect(text).not.toContain(secret);
    expect(cfg.models.providers.moonshot.apiKey).toBe("${MOONSHOT_API_KEY}");
    expect(cfg.models.providers.openai.apiKey).toBe("${OPENAI_API_KEY}");
    expect(cfg.models.providers.compat.apiKey).toBe("${OPENAI_COMPAT_API_KEY}");
  });

  it("binds the gateway to loopback with a token reference and the configured port", () => {
    expect(cfg.gateway.bind).toBe("loopback");
    expect(cfg.gateway.mode).toBe("local");
    expect(cfg.gateway.port).toBe(18789);
    expect(cfg.gateway.auth).toEqual({ mode: "token", token: `\${${GATEWAY_TOKEN_ENV}}` });
    expect(cfg.gateway.controlUi).toEqual({ enabled: false });
  });

  it("puts moonshot first with openai and compat as fallbacks when all are set", () => {
    expect(cfg.agents.defaults.model).toEqual({ primary: "moonshot/kimi-k2.5", fallbacks: ["openai/gpt-5.4-mini", "compat/default"] });
    expect(Object.keys(cfg.models.providers)).toEqual(["moonshot", "openai", "compat"]);
    expect(cfg.models.providers.moonshot.baseUrl).toBe("https://api.moonshot.ai/v1");
  });

  it("keeps the template's settings and fills workspace and log file from the layout", () => {
    expect(cfg.agents.defaults.skipBootstrap).toBe(true);
    expect(cfg.agents.defaults.workspace).toBe("/var/lib/agent-supervisor/gateway/workspace");
    expect(cfg.logging).toEqual({ file: "/var/lib/agent-supervisor/gateway/logs/openclaw.log", maxFileBytes: 20 * 1024 * 1024 });
    expect(cfg.agents.defaults.bootstrapMaxChars).toBe(20_000);
    expect(cfg.models.mode).toBe("merge");
    expect(cfg.update).toEqual({ checkOnStart: false });
  });

  it("lets the gateway run every turn the daemon sends at once plus the probe turn (maxConcurrent = TURN_CONCURRENCY + 1)", () => {
    expect(cfg.agents.defaults.maxConcurrent).toBe(all.TURN_CONCURRENCY + 1);
    const wide = renderGatewayConfig(settings({ MOONSHOT_API_KEY: MOONSHOT, TURN_CONCURRENCY: "64" }), layout) as Json;
    expect(wide.agents.defaults.maxConcurrent).toBe(65);
  });

  it("strips the template's $comment", () => {
    expect(cfg).not.toHaveProperty("$comment");
    expect(text).not.toContain("$comment");
  });

  it("does not mutate the template between renders", () => {
    const a = renderGatewayConfig(settings({ MOONSHOT_API_KEY: MOONSHOT, OPENCLAW_GATEWAY_PORT: "20001" }), layout) as Json;
    const b = renderGatewayConfig(settings({ OPENAI_API_KEY: OPENAI }), layout) as Json;
    expect(a.gateway.port).toBe(20001);
    expect(b.gateway.port).toBe(18789);
    expect(Object.keys(b.models.providers)).toEqual(["openai"]);
  });
});

describe("selectModels", () => {
  it.each([
    ["moonshot + openai", { MOONSHOT_API_KEY: MOONSHOT, OPENAI_API_KEY: OPENAI }, "moonshot/kimi-k2.5", ["openai/gpt-5.4-mini"], ["moonshot", "openai"]],
    ["openai only", { OPENAI_API_KEY: OPENAI, OPENAI_MODEL: "gpt-x" }, "openai/gpt-x", [], ["openai"]],
    ["moonshot only, custom model", { MOONSHOT_API_KEY: MOONSHOT, MOONSHOT_MODEL: "kimi-k3" }, "moonshot/kimi-k3", [], ["moonshot"]],
    ["compat only", { OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1", OPENAI_COMPAT_MODEL: "echo" }, "compat/echo", [], ["compat"]],
  ] as [string, Record<string, string>, string, string[], string[]][])("%s", (_n, vars, primary, fallbacks, providers) => {
    const m = selectModels(settings(vars));
    expect(m.primary).toBe(primary);
    expect(m.fallbacks).toEqual(fallbacks);
    expect(Object.keys(m.providers)).toEqual(providers);
  });

  it("compat uses the configured context window", () => {
    const m = selectModels(settings({ OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1", OPENAI_COMPAT_CONTEXT_TOKENS: "32000" }));
    expect((m.providers.compat as Json).models[0].contextWindow).toBe(32000);
    expect((m.providers.compat as Json).baseUrl).toBe("http://127.0.0.1:1/v1");
  });

  it("no provider is a ConfigError naming the settings to set", () => {
    const s = settings({});
    expect(() => selectModels(s)).toThrow(ConfigError);
    expect(() => renderGatewayConfig(s, layout)).toThrow(/no model provider configured: set MOONSHOT_API_KEY, OPENAI_API_KEY or OPENAI_COMPAT_BASE_URL/);
  });

  it("a compat API key alone is not a provider", () => {
    expect(() => selectModels(settings({ OPENAI_COMPAT_API_KEY: COMPAT }))).toThrow(ConfigError);
  });
});

describe("gatewayEnv", () => {
  const parent: NodeJS.ProcessEnv = {
    PATH: "/usr/local/bin:/usr/bin",
    LANG: "C.UTF-8",
    TZ: "UTC",
    HOME: "/root",
    AWS_SECRET_ACCESS_KEY: "aws-SECRET-5555555555",
    NODE_OPTIONS: "--inspect",
    OPENCLAW_CONFIG_PATH: "/somewhere/else.json",
  };

  it("passes provider keys, the token and the presets", () => {
    const env = gatewayEnv(all, layout, TOKEN, parent);
    expect(env.MOONSHOT_API_KEY).toBe(MOONSHOT);
    expect(env.OPENAI_API_KEY).toBe(OPENAI);
    expect(env.OPENAI_COMPAT_API_KEY).toBe(COMPAT);
    expect(env[GATEWAY_TOKEN_ENV]).toBe(TOKEN);
    for (const [k, v] of Object.entries(GATEWAY_ENV_PRESETS)) expect(env[k], k).toBe(v);
  });

  it("passes NODE_EXTRA_CA_CERTS from the settings (env file) as well as from the parent, the setting first", () => {
    expect(gatewayEnv({ ...all, NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" }, layout, TOKEN, parent).NODE_EXTRA_CA_CERTS).toBe("/etc/ssl/certs/ca-certificates.crt");
    expect(gatewayEnv(all, layout, TOKEN, { ...parent, NODE_EXTRA_CA_CERTS: "/from/env.pem" }).NODE_EXTRA_CA_CERTS).toBe("/from/env.pem");
    expect(gatewayEnv(all, layout, TOKEN, parent)).not.toHaveProperty("NODE_EXTRA_CA_CERTS");
  });

  it("points HOME and the OpenClaw paths into the data directory, whatever the parent says", () => {
    const env = gatewayEnv(all, layout, TOKEN, parent);
    expect(env.HOME).toBe(layout.homeDir);
    expect(env.OPENCLAW_HOME).toBe(layout.homeDir);
    expect(env.OPENCLAW_STATE_DIR).toBe(layout.stateDir);
    expect(env.OPENCLAW_CONFIG_PATH).toBe(layout.configPath);
  });

  it("passes only the allow-listed parent variables", () => {
    const env = gatewayEnv(all, layout, TOKEN, parent);
    expect(env.PATH).toBe(parent.PATH);
    expect(env.LANG).toBe("C.UTF-8");
    expect(env.TZ).toBe("UTC");
    expect(env).not.toHaveProperty("AWS_SECRET_ACCESS_KEY");
    expect(env).not.toHaveProperty("NODE_OPTIONS");
    expect(JSON.stringify(env)).not.toContain("aws-SECRET");
  });

  it("sets only the keys of configured providers; compat without a key gets a placeholder", () => {
    const env = gatewayEnv(settings({ OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1" }), layout, TOKEN, {});
    expect(env).not.toHaveProperty("MOONSHOT_API_KEY");
    expect(env).not.toHaveProperty("OPENAI_API_KEY");
    expect(env.OPENAI_COMPAT_API_KEY).toBe("not-needed");
    expect(env).not.toHaveProperty("PATH");
  });
});

describe("gatewayArgs", () => {
  it("runs the gateway on loopback and the configured port with no secret on the command line", () => {
    const s = settings({ MOONSHOT_API_KEY: MOONSHOT, OPENAI_API_KEY: OPENAI, OPENCLAW_GATEWAY_PORT: "19001" });
    const args = gatewayArgs("/opt/openclaw/openclaw.mjs", s);
    expect(args).toEqual(["/opt/openclaw/openclaw.mjs", "gateway", "run", "--port", "19001", "--bind", "loopback"]);
    for (const secret of [MOONSHOT, OPENAI, TOKEN]) expect(args.join(" ")).not.toContain(secret);
  });
});

describe("gatewayLayout", () => {
  it("keeps everything under <dataDir>/gateway", () => {
    expect(gatewayLayout("/data")).toEqual({
      root: "/data/gateway",
      homeDir: "/data/gateway/home",
      stateDir: "/data/gateway/state",
      configPath: "/data/gateway/state/openclaw.json",
      workspaceDir: "/data/gateway/workspace",
      logFile: "/data/gateway/logs/openclaw.log",
    });
  });
});
