/**
 * What a rewrite of openclaw.json changed, by key path and never by value (the audit trail's
 * `config.rewrite` entries): the file holds no secret (keys travel as `${VAR}` references,
 * gateway-config.ts), but its values are the operator's business, not the trail's.
 */

/** Most key paths named in one entry; more are counted, not listed. */
export const MAX_CHANGED_KEYS = 100;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The dotted key paths whose values differ between `before` and `after` (added, removed or
 * changed), sorted. Objects are compared key by key; anything else (arrays, strings, numbers) is
 * compared whole at its path. Pure. `[]` when equal; `[""]`-free: a differing root that is not an
 * object is named `(root)`.
 */
export function changedKeyPaths(before: unknown, after: unknown, prefix = ""): string[] {
  if (isObject(before) && isObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const out: string[] = [];
    for (const k of keys) {
      const path = prefix === "" ? k : `${prefix}.${k}`;
      if (!(k in before) || !(k in after)) out.push(path);
      else out.push(...changedKeyPaths(before[k], after[k], path));
    }
    return out.sort();
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix === "" ? "(root)" : prefix];
}

/**
 * The audit detail of a rewrite from `beforeText` (undefined: no file before, or unreadable) to
 * `afterText`, or undefined when the text is the same. Pure.
 * @returns `{created: true}` for a new file, `{changedKeys, more?}` otherwise (`previous:
 *   "unparsable"` when the old text was not JSON, e.g. edited by hand into JSON5)
 */
export function configRewriteDetail(beforeText: string | undefined, afterText: string): Record<string, unknown> | undefined {
  if (beforeText === afterText) return undefined;
  if (beforeText === undefined) return { created: true };
  let before: unknown;
  try {
    before = JSON.parse(beforeText);
  } catch {
    return { previous: "unparsable" };
  }
  const keys = changedKeyPaths(before, JSON.parse(afterText));
  if (keys.length === 0) return { changedKeys: [], formatting: true };
  return keys.length > MAX_CHANGED_KEYS ? { changedKeys: keys.slice(0, MAX_CHANGED_KEYS), more: keys.length - MAX_CHANGED_KEYS } : { changedKeys: keys };
}
