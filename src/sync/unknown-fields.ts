/**
 * Which fields of a response the contract does not know. Response schemas are lenient zod objects
 * (contract.ts): parsing strips unknown keys, so comparing the raw JSON with the parsed value
 * names exactly the dropped ones. Pure; used by the client to log them at debug level.
 */

/** Most paths {@link unknownFields} returns; a body with more is summarised by the first ones. */
export const MAX_UNKNOWN_FIELDS = 16;
/** Longest key kept in a path (characters); a key is data from the network, so it is cut. */
const MAX_KEY_CHARS = 64;

/**
 * Paths (`turns.0.priority`) of keys present in `raw` but absent from `parsed`, depth first, at
 * most {@link MAX_UNKNOWN_FIELDS}. Only keys are named, never values (a body may hold secrets).
 * @param raw the JSON as received
 * @param parsed what the lenient schema made of it
 */
export function unknownFields(raw: unknown, parsed: unknown): string[] {
  const out: string[] = [];
  walk(raw, parsed, [], out);
  return out;
}

function walk(raw: unknown, parsed: unknown, path: string[], out: string[]): void {
  if (out.length >= MAX_UNKNOWN_FIELDS || raw === null || typeof raw !== "object" || parsed === null || typeof parsed !== "object") return;
  if (Array.isArray(raw)) {
    if (!Array.isArray(parsed)) return;
    raw.forEach((item, i) => walk(item, parsed[i], [...path, String(i)], out));
    return;
  }
  const kept = parsed as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (out.length >= MAX_UNKNOWN_FIELDS) return;
    const p = [...path, key.slice(0, MAX_KEY_CHARS)];
    if (Object.hasOwn(kept, key)) walk(value, kept[key], p, out);
    else out.push(p.join("."));
  }
}
