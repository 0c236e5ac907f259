/**
 * The weekly roll-up file, pure. Each daily note is kept byte-for-byte between two marker lines;
 * the begin marker carries the note's byte length, so the framing holds whatever the note says
 * (even text that looks like a marker):
 *
 * ```
 * <!-- decay:begin name="2026-11-09.md" bytes=123 -->
 * ## 2026-11-09.md
 *
 * <the 123 bytes of the note>
 * <!-- decay:end name="2026-11-09.md" -->
 *
 * ```
 * Sections are keyed by file name, which makes a merge idempotent: re-applying a note already in
 * the roll-up with the same bytes changes nothing, so a re-run after a crash never duplicates it.
 * Text outside sections (a title, lines the agent appended) is kept as it is.
 */
import { DecayError } from "./decay-errors.ts";
import { noteSortKey } from "./decay-plan.ts";

/** One daily note: its file name (no directory) and exact bytes (valid UTF-8). */
export type RollupNote = { name: string; content: Buffer };

type Chunk = { kind: "text"; raw: Buffer } | { kind: "section"; name: string; content: Buffer; raw: Buffer };

const BEGIN = Buffer.from("<!-- decay:begin ");
const BEGIN_RE = /^<!-- decay:begin name=("(?:[^"\\]|\\.)*") bytes=(\d+) -->$/;
const heading = (name: string) => `## ${name}\n\n`;
const endMarker = (name: string) => `\n<!-- decay:end name=${JSON.stringify(name)} -->\n`;

/** The full text of one section, trailing blank line included. */
export function renderSection(note: RollupNote): Buffer {
  const begin = `<!-- decay:begin name=${JSON.stringify(note.name)} bytes=${note.content.length} -->\n`;
  return Buffer.concat([Buffer.from(begin + heading(note.name)), note.content, Buffer.from(`${endMarker(note.name)}\n`)]);
}

/** Title and explanation at the top of a new roll-up. */
export function rollupHeader(week: string, firstDay: string, lastDay: string): Buffer {
  return Buffer.from(
    `# Daily notes of ${week} (${firstDay} to ${lastDay})\n\n` +
      `<!-- Rolled up by agent-supervisor memory decay. Each note is kept verbatim between its decay:begin and decay:end markers. -->\n\n`,
  );
}

function corrupt(detail: string): DecayError {
  return new DecayError("ERR_DECAY_ROLLUP_CORRUPT", `roll-up is not in the expected format: ${detail}`);
}

/** Split a roll-up into text and sections. @throws DecayError ERR_DECAY_ROLLUP_CORRUPT */
function parse(buf: Buffer): Chunk[] {
  const chunks: Chunk[] = [];
  let pos = 0;
  let textStart = 0;
  while (pos < buf.length) {
    const at = buf.indexOf(BEGIN, pos);
    if (at < 0) break;
    if (at > 0 && buf[at - 1] !== 0x0a) {
      pos = at + 1;
      continue;
    }
    const eol = buf.indexOf(0x0a, at);
    const m = BEGIN_RE.exec(buf.subarray(at, eol < 0 ? buf.length : eol).toString("utf8"));
    if (!m || eol < 0) throw corrupt(`malformed begin marker at byte ${at}`);
    let name: string;
    try {
      name = JSON.parse(m[1]!) as string;
    } catch {
      throw corrupt(`malformed name in the begin marker at byte ${at}`);
    }
    const head = Buffer.from(heading(name));
    const start = eol + 1 + head.length;
    const end = start + Number(m[2]);
    const tail = Buffer.from(endMarker(name));
    if (!buf.subarray(eol + 1, start).equals(head) || end + tail.length > buf.length || !buf.subarray(end, end + tail.length).equals(tail)) {
      throw corrupt(`section ${name} does not match its byte count`);
    }
    let after = end + tail.length;
    if (buf[after] === 0x0a) after++; // the blank line after a section belongs to it
    if (at > textStart) chunks.push({ kind: "text", raw: buf.subarray(textStart, at) });
    chunks.push({ kind: "section", name, content: buf.subarray(start, end), raw: buf.subarray(at, after) });
    pos = textStart = after;
  }
  if (textStart < buf.length) chunks.push({ kind: "text", raw: buf.subarray(textStart) });
  return chunks;
}

/** File names of the notes a roll-up holds, in file order. @throws DecayError ERR_DECAY_ROLLUP_CORRUPT */
export function rollupNoteNames(rollup: Buffer): string[] {
  return parse(rollup).flatMap((c) => (c.kind === "section" ? [c.name] : []));
}

/** The exact bytes a roll-up holds for note `name`, or undefined. @throws DecayError ERR_DECAY_ROLLUP_CORRUPT */
export function rollupNoteContent(rollup: Buffer, name: string): Buffer | undefined {
  for (const c of parse(rollup)) if (c.kind === "section" && c.name === name) return c.content;
  return undefined;
}

/** What {@link mergeRollup} did to each note. */
export type MergeResult = { data: Buffer; added: string[]; updated: string[]; unchanged: string[] };

/**
 * Merge notes into a roll-up. A note already present with the same bytes is left alone; with
 * other bytes it is replaced in place (the daily file, still on disk, is the newer truth); a new
 * note is inserted before the first section that sorts after it (day order, date-only note
 * first), else after the last section. Sections of notes not passed in are kept.
 * @param existing the current roll-up, or undefined to start one with `header`
 * @throws DecayError ERR_DECAY_ROLLUP_CORRUPT when `existing` cannot be parsed
 */
export function mergeRollup(existing: Buffer | undefined, header: Buffer, notes: readonly RollupNote[]): MergeResult {
  const chunks: Chunk[] = existing === undefined ? [{ kind: "text", raw: header }] : parse(existing);
  const result: MergeResult = { data: Buffer.alloc(0), added: [], updated: [], unchanged: [] };
  for (const note of notes) {
    const section: Chunk = { kind: "section", name: note.name, content: note.content, raw: renderSection(note) };
    const i = chunks.findIndex((c) => c.kind === "section" && c.name === note.name);
    if (i >= 0) {
      if ((chunks[i] as { content: Buffer }).content.equals(note.content)) result.unchanged.push(note.name);
      else {
        chunks[i] = section;
        result.updated.push(note.name);
      }
      continue;
    }
    const key = noteSortKey(note.name);
    let at = chunks.findIndex((c) => c.kind === "section" && noteSortKey(c.name) > key);
    if (at < 0) {
      const last = chunks.findLastIndex((c) => c.kind === "section");
      at = last >= 0 ? last + 1 : chunks.length;
      // A roll-up not written by us may end without a blank line; keep the marker on its own line.
      const prev = chunks[at - 1];
      if (prev?.kind === "text" && !prev.raw.toString("utf8").endsWith("\n\n")) {
        chunks.splice(at, 0, { kind: "text", raw: Buffer.from(prev.raw.toString("utf8").endsWith("\n") ? "\n" : "\n\n") });
        at++;
      }
    }
    chunks.splice(at, 0, section);
    result.added.push(note.name);
  }
  result.data = Buffer.concat(chunks.map((c) => c.raw));
  return result;
}
