/**
 * Settings loader: env file + environment → validated {@link Settings}.
 *
 * `validateSettings` is pure; `loadSettings` is the thin I/O wrapper that reads the env file.
 * Precedence: a variable set in the process environment wins over the same key in the file
 * (systemd's EnvironmentFile= and the file agree; an operator can override one value ad hoc).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";
import type { z } from "zod";
import { SECRET_SETTINGS, SETTING_NAMES, settingsSchema, type Settings } from "./schema.ts";
import { ConfigError } from "../core/errors.ts";

/** Default env file, read when present; `--config FILE` names another (which then must exist). */
export const DEFAULT_CONFIG_FILE = "/etc/agent-supervisor/agent-supervisor.env";

/** One human line per problem: `SETTING: problem`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const key = issue.path.length > 0 ? issue.path.join(".") : "(settings)";
    if (issue.code === "unrecognized_keys") {
      return `${issue.keys.join(", ")}: unknown setting (check the spelling; see 'agent-supervisor config print')`;
    }
    return `${key}: ${issue.message}`;
  });
}

/**
 * Validate raw string settings. Pure.
 * @param fileVars variables from the env file (every key must be a known setting)
 * @param env the process environment (only known setting names are taken from it)
 * @throws ConfigError listing every invalid setting by name
 */
export function validateSettings(fileVars: Record<string, string>, env: NodeJS.ProcessEnv): Settings {
  const raw: Record<string, string> = { ...fileVars };
  for (const name of SETTING_NAMES) {
    const v = env[name];
    if (v !== undefined) raw[name] = v;
  }
  // A blank value means unset, so the default applies (`KEY=` lines are common in env files).
  // Without this z.coerce.number() reads "" as 0: `GATEWAY_STOP_GRACE_MS=` meant no grace at all.
  for (const name of SETTING_NAMES) if (raw[name]?.trim() === "") delete raw[name];
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid settings:\n  ${formatIssues(parsed.error.issues).join("\n  ")}`);
  }
  return parsed.data;
}

/** Where the settings came from, for `config print` and the startup log. */
/**
 * Where the control-plane token came from: a systemd credential (`$CREDENTIALS_DIRECTORY/`
 * {@link CONTROL_PLANE_CREDENTIAL}, from `LoadCredential=`), `CONTROL_PLANE_TOKEN_FILE`, the env
 * file, or the process environment.
 */
export type TokenSource = "credential" | "token-file" | "env-file" | "environment";

/** The systemd credential holding the control-plane token (systemd.exec(5) "Credentials"). */
export const CONTROL_PLANE_CREDENTIAL = "control-plane-token";

export type LoadedSettings = { settings: Settings; file: string | undefined; tokenSource?: TokenSource | undefined };

/**
 * Read the env file (if any) and validate.
 * @param configFile explicit `--config` path (must exist), or undefined for {@link DEFAULT_CONFIG_FILE} (optional)
 * @throws ConfigError on an unreadable explicit file, a malformed file or any invalid setting
 */
export function loadSettings(configFile: string | undefined, env: NodeJS.ProcessEnv): LoadedSettings {
  const path = configFile ?? DEFAULT_CONFIG_FILE;
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (configFile !== undefined || code !== "ENOENT") {
      throw new ConfigError(`cannot read config file ${path}: ${code ?? String(err)}`);
    }
  }
  let fileVars: Record<string, string> = {};
  if (text !== undefined) {
    try {
      fileVars = parseEnv(text) as Record<string, string>;
    } catch (err) {
      throw new ConfigError(`config file ${path} is not a valid env file: ${(err as Error).message}`);
    }
  }
  let tokenSource: TokenSource | undefined = env.CONTROL_PLANE_TOKEN ? "environment" : fileVars.CONTROL_PLANE_TOKEN ? "env-file" : undefined;
  const credential = readCredential(env);
  if (credential !== undefined) {
    // The systemd credential wins: it is how the unit delivers the token (issue 11).
    env = { ...env, CONTROL_PLANE_TOKEN: credential };
    tokenSource = "credential";
  }
  const tokenFile = env.CONTROL_PLANE_TOKEN_FILE || fileVars.CONTROL_PLANE_TOKEN_FILE;
  if (tokenFile && tokenSource === undefined) {
    try {
      const token = readFileSync(tokenFile, "utf8").trim();
      fileVars = { ...fileVars, CONTROL_PLANE_TOKEN: token };
      // An empty file (a standalone host's cloud-init writes one) is no token.
      tokenSource = token === "" ? undefined : "token-file";
    } catch (err) {
      throw new ConfigError(`CONTROL_PLANE_TOKEN_FILE: cannot read ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return { settings: validateSettings(fileVars, env), file: text === undefined ? undefined : path, tokenSource };
}

/**
 * The control-plane token from the unit's credentials, if systemd passed it.
 * @returns undefined without `$CREDENTIALS_DIRECTORY` or without that credential in it
 * @throws ConfigError if the credential is there but empty or unreadable
 */
function readCredential(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) return undefined;
  const path = join(dir, CONTROL_PLANE_CREDENTIAL);
  let value: string;
  try {
    value = readFileSync(path, "utf8").trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new ConfigError(`credential ${CONTROL_PLANE_CREDENTIAL} (${path}): cannot read it: ${code ?? String(err)}`);
  }
  if (value === "") throw new ConfigError(`credential ${CONTROL_PLANE_CREDENTIAL} (${path}) is empty`);
  return value;
}

/** Settings as printable strings with every secret replaced by `[redacted]` (unset ones stay unset). */
export function redactSettings(settings: Settings): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = { ...settings };
  for (const key of SECRET_SETTINGS) if (out[key] !== undefined) out[key] = "[redacted]";
  return out;
}
