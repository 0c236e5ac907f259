/**
 * The daemon's one logger: pino, JSON lines on stdout (journald adds time and unit). No
 * transports: they need worker files on disk and break inside the single executable
 * (PACKAGING_FACTS). Credential-shaped keys are redacted wherever they appear.
 */
import pino, { type DestinationStream, type Logger } from "pino";

/** Paths pino censors (pino `redact` syntax). */
export const REDACT_PATHS = [
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "password",
  "*.password",
  "MOONSHOT_API_KEY",
  "OPENAI_API_KEY",
  "OPENAI_COMPAT_API_KEY",
  "*.MOONSHOT_API_KEY",
  "*.OPENAI_API_KEY",
  "*.OPENAI_COMPAT_API_KEY",
  "env",
  "*.env",
];

/**
 * Create the root logger.
 * @param destination where lines go; defaults to stdout (fd 1), written synchronously so a crash
 *   never loses the last lines
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "agent-supervisor" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
