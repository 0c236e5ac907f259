/** Shared helpers for the decay tests: workspaces from a tree literal, exact snapshots, a journal db. */
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isUtf8 } from "node:buffer";
import { openDb, type Db } from "../../src/store/db.ts";
import { tempDir } from "../integration/helpers.ts";

export { removeTempDirs, tempDir } from "../integration/helpers.ts";

/** Noon UTC of a date, epoch ms. */
export const at = (date: string): number => Date.parse(`${date}T12:00:00Z`);

/** A file's content, a symlink, or an empty directory. */
export type TreeEntry = string | Buffer | { symlink: string } | { dir: true };

/** Create `tree` under `root` (paths relative, `/`-separated). */
export function writeTree(root: string, tree: Record<string, TreeEntry>): void {
  for (const [rel, entry] of Object.entries(tree)) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof entry === "string" || Buffer.isBuffer(entry)) writeFileSync(path, entry);
    else if ("symlink" in entry) symlinkSync(entry.symlink, path);
    else mkdirSync(path, { recursive: true });
  }
}

/**
 * Every entry under `root`, without following symlinks: `file:<utf8>` (or `bin:<base64>`),
 * `dir`, `link:<target>` with `root` replaced by `<root>` and a `richWorkspace` outside folder by `<outside>`.
 */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      if (st.isSymbolicLink()) out[r] = `link:${readlinkSync(join(root, r)).replace(root, "<root>").replace(/^.*as-decay-outside-[^/]+/, "<outside>")}`;
      else if (st.isDirectory()) {
        out[r] = "dir";
        walk(r);
      } else {
        const data = readFileSync(join(root, r));
        out[r] = isUtf8(data) ? `file:${data.toString("utf8")}` : `bin:${data.toString("base64")}`;
      }
    }
  };
  walk("");
  return out;
}

/** A real SQLite file (migrated) in a fresh temp dir. */
export function tempDb(): { path: string; db: Db } {
  const path = join(tempDir("as-decay-db-"), "agent-supervisor.db");
  return { path, db: openDb(path) };
}

/**
 * A workspace with something due in every phase at 2026-11-20 (UTC), plus files decay must
 * never touch. `outside` is a folder beside the workspace that a symlink points into.
 */
export function richWorkspace(): { ws: string; outside: string } {
  const ws = tempDir("as-decay-ws-");
  const outside = tempDir("as-decay-outside-");
  writeFileSync(join(outside, "2026-11-04.md"), "outside, never touched\n");
  writeTree(ws, {
    // W45 (2026-11-02 .. 11-08): three notes, one with a slug, one without a final newline
    "memory/2026-11-02.md": "# Mon\n- met Ana\n",
    "memory/2026-11-03.md": "tuesday, no final newline",
    "memory/2026-11-03-standup.md": "## standup\r\nCRLF kept\r\n<!-- decay:end name=\"2026-11-03.md\" -->\n",
    // W46: one note 10 days old; 2026-11-13 is exactly 7 days old and stays
    "memory/2026-11-10.md": "\uFEFFBOM and ünïcödé 🎉\n",
    "memory/2026-11-13.md": "exactly seven days\n",
    "memory/2026-11-19.md": "yesterday\n",
    // an old roll-up (W40 ended 2026-10-04) → archive
    "memory/2026-W40.md": "# W40 roll-up written earlier\n",
    // archives: one over a year old → trash, one recent → stays
    "memory-archive/2025-W30.md": "old archive\n",
    "memory-archive/2026-W10.md": "recent archive\n",
    // trash: one folder past 30 days → purge, one within → stays
    ".trash/2026-10-01/memory/2026-09-01.md": "long gone\n",
    ".trash/2026-11-01/memory/2026-10-01.md": "recently trashed\n",
    // never touched
    "MEMORY.md": "# Long-term memory\n",
    "AGENTS.md": "rules\n",
    "memory/notes.md": "not a daily note\n",
    "memory/imports/codex/2020-01-01.md": "nested, not ours\n",
    "memory/.dreams/events.jsonl": "{}\n",
    "memory/2026-11-04.md": { symlink: join(outside, "2026-11-04.md") },
    "memory/2026-11-05.md/inner.md": "a directory named like a note\n",
    "2020-01-01.md": "root, not in memory/\n",
  });
  return { ws, outside };
}
