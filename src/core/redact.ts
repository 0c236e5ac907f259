/**
 * Secret values out of text the daemon keeps or shows (log lines of the gateway, audit entries,
 * HTTP bodies). Matching is by value: a provider that echoes a key in an error message, or a
 * command that prints one, is caught whatever the surrounding format.
 */

/** Values shorter than this are not replaced (they would match ordinary text; real keys and tokens are far longer). */
export const MIN_SECRET_CHARS = 8;

/** The mark a secret is replaced with. */
export const REDACTED = "[redacted]";

/**
 * `text` with every occurrence of each secret (of at least {@link MIN_SECRET_CHARS} characters)
 * replaced by {@link REDACTED}. Pure.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= MIN_SECRET_CHARS && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}
