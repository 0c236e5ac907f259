/**
 * Is `MEMORY.md` bigger than what the gateway injects at session start?
 *
 * OpenClaw injects each workspace bootstrap file, MEMORY.md included, up to
 * `agents.defaults.bootstrapMaxChars` characters (default 20000; docs/concepts/system-prompt.md,
 * docs/gateway/config-agents/workspace-and-bootstrap.md) and all of them together up to
 * `bootstrapTotalMaxChars` (default 60000). A longer file stays intact on disk but the model sees
 * a truncated copy. It measures `content.trimEnd().length` (UTF-16 code units), as done here.
 * Only a regular MEMORY.md is measured; a symlink is not followed (OpenClaw's memory indexer
 * skips a symlinked MEMORY.md too).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { lstatMaybe } from "./decay-fs.ts";

/** OpenClaw's default per-file bootstrap budget (`agents.defaults.bootstrapMaxChars`), characters. */
export const DEFAULT_BOOTSTRAP_MAX_CHARS = 20_000;

/** A `/health` check entry (draft-inadarei-api-health-check fields). */
export type MemoryBudgetCheck = { status: "pass" | "warn"; output: string; observedValue: number | null; observedUnit: "chars" };

/**
 * Pure: `warn` when `sizeChars` exceeds `budgetChars`, else `pass`.
 * @param sizeChars MEMORY.md length as OpenClaw counts it (trimmed, UTF-16 code units)
 * @param budgetChars the gateway's `bootstrapMaxChars`
 */
export function memoryBudgetCheck(sizeChars: number, budgetChars: number): MemoryBudgetCheck {
  const pct = budgetChars > 0 ? Math.round((sizeChars / budgetChars) * 100) : Infinity;
  if (sizeChars > budgetChars) {
    return {
      status: "warn",
      output: `MEMORY.md is ${sizeChars} chars, over the ${budgetChars}-char bootstrap budget (bootstrapMaxChars; ${pct} %): the gateway injects a truncated copy; distill it or move detail into memory/*.md`,
      observedValue: sizeChars,
      observedUnit: "chars",
    };
  }
  return { status: "pass", output: `MEMORY.md is ${sizeChars} of ${budgetChars} chars (${pct} %)`, observedValue: sizeChars, observedUnit: "chars" };
}

/**
 * Measure `<workspaceDir>/MEMORY.md` against `budgetChars`. A missing file passes; a symlink or
 * other non-regular file passes unmeasured with a note; an unreadable file warns.
 * Never throws.
 */
export async function readMemoryBudget(workspaceDir: string, budgetChars: number = DEFAULT_BOOTSTRAP_MAX_CHARS): Promise<MemoryBudgetCheck> {
  const path = join(workspaceDir, "MEMORY.md");
  const unmeasured = (status: "pass" | "warn", output: string): MemoryBudgetCheck => ({ status, output, observedValue: null, observedUnit: "chars" });
  try {
    const st = await lstatMaybe(path);
    if (!st) return unmeasured("pass", "no MEMORY.md");
    if (!st.isFile()) return unmeasured("pass", "MEMORY.md is not a regular file (symlinks are not followed); not measured");
    return memoryBudgetCheck((await readFile(path, "utf8")).trimEnd().length, budgetChars);
  } catch (err) {
    return unmeasured("warn", `MEMORY.md could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
