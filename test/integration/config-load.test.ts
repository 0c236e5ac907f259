/**
 * loadSettings over real env files in a temp dir, and the real CLI's `config check`. The real
 * /etc is never read: file cases pass a temp path, CLI runs pass `--config <temp file>`.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/load.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";

afterEach(removeTempDirs);

function envFile(text: string): string {
  const path = join(tempDir("as-cfg-"), "agent-supervisor.env");
  writeFileSync(path, text);
  return path;
}

function loadError(configFile: string | undefined, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadSettings(configFile, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected loadSettings to throw a ConfigError");
}

describe("loadSettings", () => {
  it("reads settings from the env file and reports the file", () => {
    const path = envFile("# comment\nTURN_CONCURRENCY=7\nMOONSHOT_API_KEY='sk-moon-abcdef'\nTMP_CLEAN=no\n");
    const { settings, file } = loadSettings(path, {});
    expect(file).toBe(path);
    expect(settings.TURN_CONCURRENCY).toBe(7);
    expect(settings.MOONSHOT_API_KEY).toBe("sk-moon-abcdef");
    expect(settings.TMP_CLEAN).toBe(false);
  });

  it("the environment overrides the file", () => {
    const path = envFile("TURN_CONCURRENCY=7\nTURN_QUEUE_LIMIT=50\n");
    const { settings } = loadSettings(path, { TURN_CONCURRENCY: "3" });
    expect(settings.TURN_CONCURRENCY).toBe(3);
    expect(settings.TURN_QUEUE_LIMIT).toBe(50);
  });

  it("an unknown key in the file is reported as an unknown setting", () => {
    const err = loadError(envFile("TURN_CONCURRENCY=2\nOPENAI_KEY=sk-1\n"));
    expect(err.message).toContain("OPENAI_KEY: unknown setting");
  });

  it("NODE_EXTRA_CA_CERTS in the file is a known setting (systemd's EnvironmentFile= hands it to Node)", () => {
    const { settings } = loadSettings(envFile("NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n"), {});
    expect(settings.NODE_EXTRA_CA_CERTS).toBe("/etc/ssl/certs/ca-certificates.crt");
    expect(loadSettings(envFile("NODE_EXTRA_CA_CERTS=\n"), {}).settings.NODE_EXTRA_CA_CERTS).toBeUndefined();
  });

  it("an invalid value in the file names the setting", () => {
    expect(loadError(envFile("TURN_CONCURRENCY=abc\n")).message).toContain("TURN_CONCURRENCY:");
  });

  it("a blank line for a setting in the file keeps its default", () => {
    const { settings } = loadSettings(envFile("GATEWAY_STOP_GRACE_MS=\nTURN_TIMEOUT_MS=\n"), {});
    expect(settings.GATEWAY_STOP_GRACE_MS).toBe(15_000);
    expect(settings.TURN_TIMEOUT_MS).toBe(600_000);
  });

  it("an explicit --config file that does not exist is a ConfigError naming it", () => {
    const missing = join(tempDir(), "nope.env");
    const err = loadError(missing);
    expect(err.message).toContain(missing);
    expect(err.message).toContain("ENOENT");
  });

  it.runIf(process.getuid?.() !== 0)("an unreadable explicit file is a ConfigError", () => {
    const path = envFile("TURN_CONCURRENCY=2\n");
    chmodSync(path, 0o000);
    expect(loadError(path).message).toContain("EACCES");
  });

  it("a config path that is a directory is a ConfigError", () => {
    expect(loadError(tempDir()).message).toContain("EISDIR");
  });

  it("an empty file gives the defaults", () => {
    const path = envFile("");
    const { settings, file } = loadSettings(path, {});
    expect(file).toBe(path);
    expect(settings.TURN_CONCURRENCY).toBe(8);
  });
});

describe("agent-supervisor config check (real CLI)", () => {
  const bin = resolve(import.meta.dirname, "../../bin/agent-supervisor");

  function check(env: Record<string, string>) {
    const dir = tempDir("as-cli-");
    const cfg = join(dir, "empty.env");
    writeFileSync(cfg, "");
    const res = spawnSync(bin, ["--config", cfg, "config", "check"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AGENT_SUPERVISOR_DATA_DIR: join(dir, "data"), ...env },
      encoding: "utf8",
      timeout: 60_000,
    });
    if (res.error) throw res.error;
    return res;
  }

  it("exits 78 and names the setting for an invalid value", () => {
    const res = check({ TURN_CONCURRENCY: "abc", OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1" });
    expect(res.status).toBe(78);
    expect(res.stderr).toContain("TURN_CONCURRENCY");
    expect(res.stderr).toContain("ERR_CONFIG");
  });

  it("exits 0 with an OpenAI-compatible provider configured", () => {
    const res = check({ OPENAI_COMPAT_BASE_URL: "http://127.0.0.1:1/v1" });
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    expect(res.stdout).toContain("config ok");
  });

  it("exits 78 when no model provider is configured", () => {
    const res = check({});
    expect(res.status).toBe(78);
    expect(res.stderr).toContain("no model provider configured");
  });

  it("exits 0 on a control-plane host with no provider key of its own: the keys come from the control plane, as `run` expects", () => {
    // install.sh starts the service only when this passes; a fleet host rendered from cloud-init
    // has only the four control-plane settings (issue 8's droplet test found it left stopped).
    const res = check({ CONTROL_PLANE_URL: "http://127.0.0.1:9/", CONTROL_PLANE_TOKEN: "tok", RUNTIME_ID: "r", ACCOUNT_ID: "a" });
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    expect(res.stdout).toContain("config ok");
    expect(res.stdout).toContain("model provider keys come from the control plane");
  });
});

describe("CONTROL_PLANE_TOKEN_FILE", () => {
  it("reads the service token from a file, and names the setting when the file is missing", () => {
    const dir = tempDir("as-tokfile-");
    const tokenFile = join(dir, "service.token");
    writeFileSync(tokenFile, "tok-from-file-123\n");
    const cfg = join(dir, "a.env");
    writeFileSync(cfg, `CONTROL_PLANE_URL=http://127.0.0.1:9/\nCONTROL_PLANE_TOKEN_FILE=${tokenFile}\nRUNTIME_ID=r\nACCOUNT_ID=a\n`);
    expect(loadSettings(cfg, {}).settings.CONTROL_PLANE_TOKEN).toBe("tok-from-file-123");
    expect(loadSettings(cfg, { CONTROL_PLANE_TOKEN: "from-env" }).settings.CONTROL_PLANE_TOKEN).toBe("from-env");
    expect(() => loadSettings(cfg, { CONTROL_PLANE_TOKEN_FILE: join(dir, "nope") })).toThrow(/CONTROL_PLANE_TOKEN_FILE: cannot read .*ENOENT/);
    writeFileSync(cfg, "CONTROL_PLANE_URL=http://10.0.0.1/\nCONTROL_PLANE_TOKEN=t\nRUNTIME_ID=r\nACCOUNT_ID=a\n");
    expect(() => loadSettings(cfg, {})).toThrow(/CONTROL_PLANE_URL: must use https/);
    writeFileSync(cfg, "CONTROL_PLANE_URL=https://cp.example.com/\n");
    expect(() => loadSettings(cfg, {})).toThrow(/CONTROL_PLANE_TOKEN: is required when CONTROL_PLANE_URL is set/);
  });
});

describe("the control-plane token as a systemd credential (issue 11)", () => {
  it("reads $CREDENTIALS_DIRECTORY/control-plane-token, which wins over the env file and the environment, and says where the token came from", () => {
    const dir = tempDir("as-cred-");
    const creds = join(dir, "credentials");
    mkdirSync(creds);
    const cfg = join(dir, "a.env");
    writeFileSync(cfg, "CONTROL_PLANE_URL=http://127.0.0.1:9/\nCONTROL_PLANE_TOKEN=tok-in-env-file\nRUNTIME_ID=r\nACCOUNT_ID=a\n");
    expect(loadSettings(cfg, {})).toMatchObject({ settings: { CONTROL_PLANE_TOKEN: "tok-in-env-file" }, tokenSource: "env-file" });
    expect(loadSettings(cfg, { CONTROL_PLANE_TOKEN: "tok-in-env" })).toMatchObject({ settings: { CONTROL_PLANE_TOKEN: "tok-in-env" }, tokenSource: "environment" });

    writeFileSync(join(creds, "control-plane-token"), "tok-from-credential\n");
    expect(loadSettings(cfg, { CREDENTIALS_DIRECTORY: creds, CONTROL_PLANE_TOKEN: "tok-in-env" })).toMatchObject({
      settings: { CONTROL_PLANE_TOKEN: "tok-from-credential" },
      tokenSource: "credential",
    });
    // A credentials directory without this credential (another one of the unit's) changes nothing.
    expect(loadSettings(cfg, { CREDENTIALS_DIRECTORY: join(dir, "other") })).toMatchObject({ tokenSource: "env-file" });

    writeFileSync(join(creds, "control-plane-token"), "\n");
    expect(() => loadSettings(cfg, { CREDENTIALS_DIRECTORY: creds })).toThrow(/credential control-plane-token .* is empty/);
    writeFileSync(cfg, "RUNTIME_ID=r\n");
    rmSync(join(creds, "control-plane-token"));
    expect(loadSettings(cfg, {}).tokenSource).toBeUndefined();
  });
});
