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
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

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

/** The largest MEMORY.md read to measure it (bytes). */
const MAX_READ_BYTES = 16 * 1024 * 1024;

/**
 * Measure `<workspaceDir>/MEMORY.md` against `budgetChars`. A missing file passes; a symlink or
 * other non-regular file passes unmeasured with a note; an unreadable file warns.
 * Never throws.
 */
export async function readMemoryBudget(workspaceDir: string, budgetChars: number = DEFAULT_BOOTSTRAP_MAX_CHARS): Promise<MemoryBudgetCheck> {
  const path = join(workspaceDir, "MEMORY.md");
  const unmeasured = (status: "pass" | "warn", output: string): MemoryBudgetCheck => ({ status, output, observedValue: null, observedUnit: "chars" });
  try {
    // Opened without following a symlink and without blocking on a FIFO, then judged by what was
    // opened: the file's owner (the gateway's user, issue 11) may swap it at any moment.
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ELOOP") return err.code;
      throw err;
    });
    if (fh === "ENOENT") return unmeasured("pass", "no MEMORY.md");
    if (fh === "ELOOP") return unmeasured("pass", "MEMORY.md is not a regular file (symlinks are not followed); not measured");
    try {
      const st = await fh.stat();
      if (!st.isFile()) return unmeasured("pass", "MEMORY.md is not a regular file (symlinks are not followed); not measured");
      // UTF-8 has at most 4 bytes a char: a file this large is over any budget; it is not read.
      if (st.size > MAX_READ_BYTES) return { status: "warn", output: `MEMORY.md is ${st.size} bytes, over the ${budgetChars}-char bootstrap budget; not read`, observedValue: null, observedUnit: "chars" };
      return memoryBudgetCheck((await fh.readFile("utf8")).trimEnd().length, budgetChars);
    } finally {
      await fh.close();
    }
  } catch (err) {
    return unmeasured("warn", `MEMORY.md could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
