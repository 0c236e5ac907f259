/**
 * What every command gets: the process's services (daemon/host.ts), the output streams, the
 * version, and `load()`, which reads the settings named by `--config` (before or after the
 * subcommand) and the environment.
 */
import type { LoadedSettings } from "../config/load.ts";
import type { Host } from "../daemon/host.ts";

/** The context of a command (see the module comment). */
export type CliContext = {
  host: Host;
  version: string;
  /** Write one line to stdout / stderr. */
  out: (line: string) => void;
  err: (line: string) => void;
  /** The process's exit code once the command returns (main.ts sets `process.exitCode`). */
  setExitCode: (code: number) => void;
  /**
   * The settings, validated, with a private CA from the env file trusted for https calls.
   * @throws ConfigError (exit 78) naming every invalid setting
   */
  load: () => LoadedSettings;
};

/** The `--config` option every command accepts after its name as well. */
export const CONFIG_OPTION = ["-c, --config <file>", "env file with settings"] as const;
