/**
 * validateSettings / redactSettings: pure, table-driven, no disk. The env object is always a
 * literal here, never process.env.
 */
import { describe, expect, it } from "vitest";
import { redactSettings, validateSettings } from "../../src/config/load.ts";
import { SECRET_SETTINGS, SETTING_NAMES, settingsSchema } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/core/errors.ts";

/** The ConfigError thrown by validateSettings, or a test failure if it did not throw one. */
function configError(fileVars: Record<string, string>, env: Record<string, string> = {}): ConfigError {
  try {
    validateSettings(fileVars, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify({ fileVars, env })}`);
}

describe("validateSettings defaults", () => {
  const s = validateSettings({}, {});

  it.each([
    ["AGENT_SUPERVISOR_DATA_DIR", "/var/lib/agent-supervisor"],
    ["AGENT_SUPERVISOR_LOG_LEVEL", "info"],
    ["AGENT_SUPERVISOR_HTTP_HOST", "127.0.0.1"],
    ["AGENT_SUPERVISOR_HTTP_PORT", 18790],
    ["OPENCLAW_VERSION", "2026.9.6"],
    ["OPENCLAW_GATEWAY_PORT", 18789],
    ["NPM_REGISTRY", "https://registry.npmjs.org"],
    ["GATEWAY_STARTUP_TIMEOUT_MS", 240_000],
    ["GATEWAY_STOP_GRACE_MS", 15_000],
    ["RESTART_BACKOFF_INITIAL_MS", 1_000],
    ["RESTART_BACKOFF_MAX_MS", 60_000],
    ["RESTART_BACKOFF_RESET_MS", 120_000],
    ["DRAIN_TIMEOUT_MS", 30_000],
    ["TURN_CONCURRENCY", 8],
    ["TURN_TIMEOUT_MS", 600_000],
    ["TURN_MAX_ATTEMPTS", 5],
    ["TURN_MAX_MESSAGE_BYTES", 262_144],
    ["TURN_QUEUE_LIMIT", 10_000],
    ["TURN_RETENTION_MS", 604_800_000],
    ["TURN_RETENTION_COUNT", 50_000],
    ["TURN_RETENTION_MIN_MS", 3_600_000],
    ["MOONSHOT_BASE_URL", "https://api.moonshot.ai/v1"],
    ["MOONSHOT_MODEL", "kimi-k2.5"],
    ["OPENAI_MODEL", "gpt-5.4-mini"],
    ["OPENAI_COMPAT_MODEL", "default"],
    ["OPENAI_COMPAT_CONTEXT_TOKENS", 128_000],
    ["TMP_CLEAN", true],
    ["TMP_DIR", "/tmp"],
  ] as const)("%s defaults to %j", (key, value) => {
    expect(s[key]).toBe(value);
  });

  it.each(["OPENCLAW_NODE", "OPENCLAW_ENTRY", "MOONSHOT_API_KEY", "OPENAI_API_KEY", "OPENAI_COMPAT_BASE_URL", "OPENAI_COMPAT_API_KEY"] as const)(
    "%s is unset by default",
    (key) => {
      expect(s[key]).toBeUndefined();
    },
  );

  it("every setting has a description (the README reference is generated from them)", () => {
    for (const name of SETTING_NAMES) expect(settingsSchema.shape[name].description, name).toBeTruthy();
  });
});

describe("validateSettings coercion", () => {
  it.each([
    ["TURN_CONCURRENCY", "16", 16],
    ["TURN_CONCURRENCY", " 8 ", 8],
    ["AGENT_SUPERVISOR_HTTP_PORT", "0", 0],
    ["GATEWAY_STOP_GRACE_MS", "500", 500],
    ["TMP_CLEAN", "0", false],
    ["TMP_CLEAN", "no", false],
    ["TMP_CLEAN", "off", false],
    ["TMP_CLEAN", "false", false],
    ["TMP_CLEAN", "1", true],
    ["TMP_CLEAN", "yes", true],
    ["TMP_CLEAN", "on", true],
    ["MOONSHOT_API_KEY", "  sk-moon-1234  ", "sk-moon-1234"],
    ["MOONSHOT_API_KEY", "", undefined],
    ["OPENAI_COMPAT_BASE_URL", "http://127.0.0.1:18999/v1", "http://127.0.0.1:18999/v1"],
    ["OPENAI_COMPAT_BASE_URL", "", undefined],
    ["OPENCLAW_VERSION", "2026.10.1-beta.2", "2026.10.1-beta.2"],
  ] as const)("%s=%j → %j", (key, raw, expected) => {
    expect(validateSettings({ [key]: raw }, {})[key]).toBe(expected);
  });

  // A `KEY=` line (systemd env files, templated user-data) means "unset": the default applies.
  // Before the fix z.coerce.number() read "" as 0, so `GATEWAY_STOP_GRACE_MS=` meant SIGKILL at
  // once and `TURN_TIMEOUT_MS=` failed every turn immediately.
  it.each([
    ["GATEWAY_STOP_GRACE_MS", "", 15_000],
    ["TURN_TIMEOUT_MS", "  ", 600_000],
    ["AGENT_SUPERVISOR_HTTP_PORT", "", 18790],
    ["TURN_CONCURRENCY", "", 8],
    ["TMP_CLEAN", "", true],
  ] as const)("blank %s=%j means unset → default %j", (key, raw, expected) => {
    expect(validateSettings({ [key]: raw }, {})[key]).toBe(expected);
  });
});

describe("validateSettings rejects invalid values, naming the setting", () => {
  it.each([
    ["TURN_CONCURRENCY", "abc"],
    ["TURN_CONCURRENCY", "0"],
    ["TURN_CONCURRENCY", "1.5"],
    ["TURN_CONCURRENCY", "257"],
    ["OPENCLAW_VERSION", "latest"],
    ["OPENCLAW_GATEWAY_PORT", "70000"],
    ["AGENT_SUPERVISOR_HTTP_PORT", "-1"],
    ["AGENT_SUPERVISOR_LOG_LEVEL", "verbose"],
    ["GATEWAY_STARTUP_TIMEOUT_MS", "-5"],
    ["TURN_TIMEOUT_MS", String(24 * 3600_000 + 1)],
    ["TMP_CLEAN", "maybe"],
    ["NPM_REGISTRY", "ftp://registry.example"],
    ["OPENAI_COMPAT_BASE_URL", "not a url"],
    ["MOONSHOT_BASE_URL", "file:///etc/passwd"],
  ])("%s=%j", (key, raw) => {
    const err = configError({ [key]: raw });
    expect(err.code).toBe("ERR_CONFIG");
    expect(err.message).toContain(`${key}:`);
  });

  it("OPENCLAW_NODE without OPENCLAW_ENTRY names OPENCLAW_ENTRY", () => {
    const err = configError({ OPENCLAW_NODE: "/usr/bin/node" });
    expect(err.message).toContain("OPENCLAW_ENTRY: OPENCLAW_NODE and OPENCLAW_ENTRY must be set together");
  });

  it("OPENCLAW_ENTRY without OPENCLAW_NODE names OPENCLAW_NODE", () => {
    const err = configError({ OPENCLAW_ENTRY: "/opt/openclaw.mjs" });
    expect(err.message).toContain("OPENCLAW_NODE: OPENCLAW_NODE and OPENCLAW_ENTRY must be set together");
  });

  it("accepts OPENCLAW_NODE and OPENCLAW_ENTRY together", () => {
    const s = validateSettings({ OPENCLAW_NODE: "/usr/bin/node", OPENCLAW_ENTRY: "/opt/openclaw.mjs" }, {});
    expect([s.OPENCLAW_NODE, s.OPENCLAW_ENTRY]).toEqual(["/usr/bin/node", "/opt/openclaw.mjs"]);
  });

  it("RESTART_BACKOFF_INITIAL_MS above RESTART_BACKOFF_MAX_MS names the initial setting", () => {
    const err = configError({ RESTART_BACKOFF_INITIAL_MS: "5000", RESTART_BACKOFF_MAX_MS: "1000" });
    expect(err.message).toContain("RESTART_BACKOFF_INITIAL_MS: must not exceed RESTART_BACKOFF_MAX_MS");
  });

  it("EVENT_LOOP_WARN_MS above EVENT_LOOP_STALL_MS names the warn setting", () => {
    const err = configError({ EVENT_LOOP_WARN_MS: "20000", EVENT_LOOP_STALL_MS: "10000" });
    expect(err.message).toContain("EVENT_LOOP_WARN_MS: must not exceed EVENT_LOOP_STALL_MS");
  });

  it("UPGRADE_STABLE_MS must fit inside UPGRADE_HEALTH_DEADLINE_MS (0 turns the period off)", () => {
    const err = configError({ UPGRADE_STABLE_MS: "180000", UPGRADE_HEALTH_DEADLINE_MS: "180000" });
    expect(err.message).toContain("UPGRADE_STABLE_MS: must be below UPGRADE_HEALTH_DEADLINE_MS");
    expect(validateSettings({}, {}).UPGRADE_STABLE_MS).toBe(10_000);
    expect(validateSettings({ UPGRADE_STABLE_MS: "0", UPGRADE_HEALTH_DEADLINE_MS: "0" }, {}).UPGRADE_STABLE_MS).toBe(0);
  });

  it("RESTART_BACKOFF_INITIAL_MS equal to the max is fine", () => {
    expect(validateSettings({ RESTART_BACKOFF_INITIAL_MS: "1000", RESTART_BACKOFF_MAX_MS: "1000" }, {}).RESTART_BACKOFF_MAX_MS).toBe(1000);
  });

  it("TURN_RETENTION_MIN_MS above TURN_RETENTION_MS names the floor", () => {
    const err = configError({ TURN_RETENTION_MS: "60000", TURN_RETENTION_MIN_MS: "120000" });
    expect(err.message).toContain("TURN_RETENTION_MIN_MS: must not exceed TURN_RETENTION_MS");
  });

  it("an unknown key in the env file is an unknown setting", () => {
    const err = configError({ TURN_CONCURENCY: "4" });
    expect(err.message).toContain("TURN_CONCURENCY: unknown setting");
  });

  it("lists every invalid setting, one per line", () => {
    const err = configError({ TURN_CONCURRENCY: "abc", OPENCLAW_VERSION: "latest", BOGUS: "1" });
    const lines = err.message.split("\n").slice(1).map((l) => l.trim());
    expect(lines).toHaveLength(3);
    expect(lines.some((l) => l.startsWith("TURN_CONCURRENCY:"))).toBe(true);
    expect(lines.some((l) => l.startsWith("OPENCLAW_VERSION:"))).toBe(true);
    expect(lines.some((l) => l.startsWith("BOGUS: unknown setting"))).toBe(true);
  });
});

describe("validateSettings precedence", () => {
  it("the environment overrides the file", () => {
    const s = validateSettings({ TURN_CONCURRENCY: "2", TMP_DIR: "/scratch" }, { TURN_CONCURRENCY: "9" });
    expect(s.TURN_CONCURRENCY).toBe(9);
    expect(s.TMP_DIR).toBe("/scratch");
  });

  it("an invalid environment value fails even when the file's value is valid", () => {
    expect(configError({ TURN_CONCURRENCY: "2" }, { TURN_CONCURRENCY: "abc" }).message).toContain("TURN_CONCURRENCY:");
  });

  it("ignores unrelated environment variables (only setting names are read from the env)", () => {
    const s = validateSettings({}, { PATH: "/usr/bin", HOME: "/root", TURN_CONCURENCY: "x" });
    expect(s.TURN_CONCURRENCY).toBe(8);
  });
});

describe("redactSettings", () => {
  it("replaces every set secret with [redacted] and leaves unset ones unset", () => {
    const s = validateSettings({ MOONSHOT_API_KEY: "sk-moon-secret-value", OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1" }, {});
    const red = redactSettings(s);
    expect(red.MOONSHOT_API_KEY).toBe("[redacted]");
    expect(red.OPENAI_API_KEY).toBeUndefined();
    expect(red.OPENAI_COMPAT_API_KEY).toBeUndefined();
    expect(red.OPENAI_COMPAT_BASE_URL).toBe("http://127.0.0.1:1/v1");
    expect(JSON.stringify(red)).not.toContain("sk-moon-secret-value");
  });

  it("hides every secret setting at once and keeps the rest", () => {
    const raw = Object.fromEntries(SECRET_SETTINGS.map((k, i) => [k, `secret-value-${i}-xxxxxxxx`]));
    const s = validateSettings({ ...raw, OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1" }, {});
    const red = redactSettings(s);
    for (const k of SECRET_SETTINGS) expect(red[k]).toBe("[redacted]");
    const text = JSON.stringify(red);
    for (const v of Object.values(raw)) expect(text).not.toContain(v);
    expect(red.TURN_CONCURRENCY).toBe(8);
    // The input is not mutated.
    expect(s.MOONSHOT_API_KEY).toBe("secret-value-0-xxxxxxxx");
  });
});
